#!/bin/sh
# The replica: on first start, a base backup of the primary with -R (writes
# standby.signal and primary_conninfo), then PostgreSQL as a streaming standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h primary -p 5432 -q; do sleep 1; done
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h primary -p 5432 -U replicator \
    -D "$PGDATA" -R -X stream -c fast
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=off -c max_standby_streaming_delay=30s
