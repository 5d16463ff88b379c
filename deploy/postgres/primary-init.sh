#!/bin/sh
# Runs once, when the primary's data directory is created (the postgres
# image's /docker-entrypoint-initdb.d): a login for streaming replication,
# allowed to replicate from the compose network.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=password="$REPLICATION_PASSWORD" <<'SQL'
create role replicator with login replication password :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
