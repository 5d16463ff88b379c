#!/bin/sh
# The auth file is written at start from AUTHENTICATOR_PASSWORD: PgBouncer
# answers SCRAM with it and logs in to PostgreSQL as ticketing_authenticator.
set -eu
umask 077
printf '"ticketing_authenticator" "%s"\n' "$AUTHENTICATOR_PASSWORD" > /tmp/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
