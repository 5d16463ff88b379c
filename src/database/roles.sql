-- Cluster-wide roles of the ticketing database. Idempotent: run as a superuser
-- (or a CREATEROLE role) before every migration run. Passwords are set
-- separately from the connection URLs, never here.

-- The two connection roles log in; the web roles and the analysts' group are
-- only ever reached with `set role` or membership.
do $roles$
declare
  role_name text;
  can_login boolean;
begin
  for role_name, can_login in
    select name, login
      from (values
        ('ticketing_owner', true),
        ('ticketing_authenticator', true),
        ('ticketing_anonymous', false),
        ('ticketing_customer', false),
        ('ticketing_agent', false),
        ('ticketing_admin', false),
        ('ticketing_analyst', false)
      ) as roles(name, login)
  loop
    if not exists (select from pg_catalog.pg_roles where rolname = role_name) then
      execute format('create role %I %s', role_name, case when can_login then 'login' else 'nologin' end);
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
