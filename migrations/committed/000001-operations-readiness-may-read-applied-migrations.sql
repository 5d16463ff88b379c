--! Previous: -
--! Hash: sha1:2efcf2695b95cff1fac3efedb5d1e843bae7984b
--! Message: operations: readiness may read applied migrations

-- The readiness probe compares the migrations shipped with the API against
-- those applied; the API's connection role may read that list, nothing more.
grant usage on schema graphile_migrate to ticketing_authenticator;

grant select on graphile_migrate.migrations to ticketing_authenticator;
