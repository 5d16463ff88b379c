-- The readiness probe compares the migrations shipped with the API against
-- those applied; the API's connection role may read that list, nothing more.
grant usage on schema graphile_migrate to ticketing_authenticator;

grant select on graphile_migrate.migrations to ticketing_authenticator;
