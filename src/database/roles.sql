-- Cluster-wide roles of the ticketing database. Idempotent: run as a superuser
-- (or a CREATEROLE role) before every migration run. Passwords are set
-- separately from the connection URLs, never here.

do $roles$
declare
  role_name text;
begin
  foreach role_name in array array[
    'ticketing_owner',
    'ticketing_authenticator'
  ] loop
    if not exists (select from pg_catalog.pg_roles where rolname = role_name) then
      execute format('create role %I login', role_name);
    end if;
  end loop;

  foreach role_name in array array[
    'ticketing_anonymous',
    'ticketing_customer',
    'ticketing_agent',
    'ticketing_admin',
    'ticketing_analyst'
  ] loop
    if not exists (select from pg_catalog.pg_roles where rolname = role_name) then
      execute format('create role %I nologin', role_name);
    end if;
  end loop;
end
$roles$;

-- The API's connection role gains the rights of a web role only after
-- `set role`, never by inheritance.
alter role ticketing_authenticator noinherit;

grant ticketing_anonymous to ticketing_authenticator;
grant ticketing_customer to ticketing_authenticator;
grant ticketing_agent to ticketing_authenticator;
grant ticketing_admin to ticketing_authenticator;
