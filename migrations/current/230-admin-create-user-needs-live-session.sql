-- createUser: the API's database role passed only the acting admin's id and
-- token role, both of which it could make up (an admin's id is no secret), and
-- so create an admin with a password of its choosing. The acting admin's
-- session id (the `sid` of their access token) must now name a live session
-- of theirs: session ids are random, never readable by that role, and known
-- only to someone holding the admin's token.

drop function if exists app_private.admin_create_user(uuid, text, citext, text, app_public.user_role, text);

create or replace function app_private.admin_create_user(
  actor_id uuid,
  actor_role text,
  actor_session_id uuid,
  email citext,
  display_name text,
  role app_public.user_role,
  password_hash text
)
returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not app_private.is_acting_admin(actor_id, actor_role)
     or not exists (
       select 1
       from app_private.refresh_tokens as t
       where t.family_id = admin_create_user.actor_session_id
         and t.user_id = admin_create_user.actor_id
         and t.revoked_at is null
         and t.rotated_at is null
         and t.expires_at > app_private.auth_now()
     ) then
    raise exception using errcode = 'TKFBD', message = 'Only an admin can create users';
  end if;
  -- The audit trigger on users reads the actor from this setting.
  perform set_config('jwt.claims.user_id', actor_id::text, true);
  return app_private.create_user_account(email, display_name, role, password_hash);
end;
$$;

comment on function app_private.admin_create_user(uuid, text, uuid, citext, text, app_public.user_role, text) is
  'createUser: an active admin (actor_id, with the token role actor_role) in a live session actor_session_id (the token''s sid) creates a user of any role. Raises TKFBD for anyone else or without a live session of the admin, TKEML when the email is taken, 23514 when the input breaks a rule.';

revoke all on function app_private.admin_create_user(uuid, text, uuid, citext, text, app_public.user_role, text) from public;
grant execute on function app_private.admin_create_user(uuid, text, uuid, citext, text, app_public.user_role, text)
  to ticketing_authenticator;
