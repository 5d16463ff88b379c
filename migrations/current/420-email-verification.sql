-- Verified addresses and a register that does not tell whether an email is
-- taken (docs/authentication.md, docs/email.md).
--
-- register answers the same in every case: a free email gets an unverified
-- customer and a verification link; a taken one gets a mail to its owner
-- saying someone tried to register with it. An unverified account cannot sign
-- in (login answers as for an unknown email, so trying the password one just
-- registered with tells nothing either); verifyEmail proves the address and
-- signs the account in.

--------------------------------------------------------------------------------
-- Templates
--------------------------------------------------------------------------------
insert into app_private.mail_templates (kind, subject, text_body, html_body)
values
  (
    'email_verification',
    'Confirm your email address',
    E'Hello {{displayName}},\n\nPlease confirm that this is your address by opening this link within {{days}} days:\n\n{{appUrl}}/verify-email?token={{token}}\n\nIf you did not register, ignore this mail: no account is used without the link.\n',
    E'<p>Hello {{displayName}},</p>\n<p>Please confirm that this is your address by opening this link within {{days}} days:</p>\n<p><a href="{{appUrl}}/verify-email?token={{token}}">Confirm my address</a></p>\n<p>If you did not register, ignore this mail: no account is used without the link.</p>\n'
  ),
  (
    'registration_attempt',
    'Someone tried to register with your address',
    E'Hello {{displayName}},\n\nSomeone tried to create a new helpdesk account with this address, which already has one. Nothing was changed.\n\nIf it was you: sign in as usual, or reset your password at {{appUrl}}/forgot-password.\nIf it was not you, you need not do anything.\n',
    E'<p>Hello {{displayName}},</p>\n<p>Someone tried to create a new helpdesk account with this address, which already has one. Nothing was changed.</p>\n<p>If it was you: sign in as usual, or <a href="{{appUrl}}/forgot-password">reset your password</a>.<br>\nIf it was not you, you need not do anything.</p>\n'
  )
on conflict (kind) do nothing;

--------------------------------------------------------------------------------
-- register
--------------------------------------------------------------------------------
create or replace function app_private.register_account(email text, display_name text, password_hash text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  typed_email citext := app_private.normalized_input(left(register_account.email, 1000), 320);
  existing record;
  created app_public.users;
  token text;
begin
  select a.user_id, a.email, u.display_name into existing
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = typed_email;

  if found then
    -- The input is held to the same rules as for a new account (a broken
    -- rule answers the same in both cases), then the trial row is undone.
    begin
      insert into app_public.users (display_name, role) values (btrim(register_account.display_name), 'customer');
      raise exception using errcode = 'TKUND';
    exception
      when sqlstate 'TKUND' then null;
    end;
    perform pg_advisory_xact_lock(hashtextextended('email-token:' || existing.user_id::text, 0));
    if (
      select count(*)
      from app_private.outbound_mails as m
      where m.user_id = existing.user_id
        and m.kind = 'registration_attempt'
        and m.created_at > now() - (select p.per_account_window from app_private.email_token_policy() as p)
    ) < (select p.per_account_max from app_private.email_token_policy() as p) then
      perform app_private.queue_mail(
        'registration_attempt', existing.email::text, existing.user_id, null,
        jsonb_build_object('displayName', existing.display_name)
      );
    end if;
    return;
  end if;

  begin
    created := app_private.create_user_account(typed_email, register_account.display_name, 'customer', register_account.password_hash);
  exception
    -- Registered a moment ago by a concurrent call: answered the same.
    when sqlstate 'TKEML' then
      return;
  end;

  update app_private.user_accounts as a set email_verified_at = null where a.user_id = created.id;
  token := app_private.new_email_token('email_verification', created.id, typed_email);
  perform app_private.queue_mail(
    'email_verification', typed_email::text, created.id, null,
    jsonb_build_object(
      'displayName', created.display_name,
      'token', token,
      'days', extract(epoch from (select p.verification_lifetime from app_private.email_token_policy() as p))::integer / 86400
    )
  );
end;
$$;

comment on function app_private.register_account(text, text, text) is
  'register: for a free email, creates an unverified customer with the argon2id hash computed by the API and mails a verification link; for a taken one, mails its owner that someone tried to register (at most email_token_policy().per_account_max such mails per window). Returns nothing either way; input that breaks a rule raises 23514 in both cases. The caller counts the registration first (reserve_registration).';

revoke all on function app_private.register_account(text, text, text) from public;
grant execute on function app_private.register_account(text, text, text) to ticketing_authenticator;

-- The old one-step registration made a verified account with a session.
revoke execute on function app_private.register_customer(text, text, text, bytea, inet) from ticketing_authenticator;

--------------------------------------------------------------------------------
-- login: an unverified account is as good as none
--------------------------------------------------------------------------------
create or replace function app_private.begin_login(
  email text,
  ip inet,
  out attempt_id uuid,
  out password_salt text,
  out hash_length integer
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  typed_email citext := app_private.normalized_input(left(begin_login.email, 1000), 320);
  lifts_at timestamptz;
  account_user_id uuid;
  account_hash text;
begin
  -- Serialise the attempts of one address, then of one email: the count and
  -- the reservation below cannot be overtaken by a concurrent attempt.
  perform pg_advisory_xact_lock(hashtextextended('login-address:' || coalesce(host(begin_login.ip), 'unknown'), 0));
  lifts_at := app_private.address_login_limit_reached(begin_login.ip);
  if lifts_at is not null then
    perform app_private.raise_rate_limited('Too many login attempts from this address; try again later', lifts_at);
  end if;

  perform pg_advisory_xact_lock(hashtextextended('login-email:' || lower(typed_email::text), 0));
  lifts_at := app_private.email_login_limit_reached(typed_email);
  if lifts_at is not null then
    perform app_private.raise_rate_limited('Too many login attempts for this account; try again later', lifts_at);
  end if;

  select a.user_id, a.password_hash into account_user_id, account_hash
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.email = typed_email
    and u.is_active
    and a.password_hash is not null
    and a.email_verified_at is not null;

  insert into app_private.login_attempts (email, user_id, ip, success, reason, purpose)
  values (left(typed_email::text, 320), account_user_id, begin_login.ip, false, 'pending', 'login')
  returning id into attempt_id;

  select s.salt, s.hash_length into password_salt, hash_length
  from app_private.password_salt(account_hash) as s;
end;
$$;

comment on function app_private.begin_login(text, inet) is
  'Step 1 of login, before any hashing: refuses (TKRAT, with a retry hint) when the address or the email reached its limit, otherwise reserves the attempt (pending) and returns its id with the salt and parameters of the account''s hash (null when no active, verified account with a password has the email: an unverified account fails like an unknown email). Never returns the hash.';

--------------------------------------------------------------------------------
-- verifyEmail
--------------------------------------------------------------------------------
create or replace function app_private.verify_email(token_digest bytea, session_token_digest bytea, ip inet)
returns table (
  session_id uuid,
  user_role app_public.user_role,
  refresh_expires_at timestamptz,
  user_record app_public.users
)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  link app_private.email_tokens;
  opened record;
begin
  perform app_private.take_address_quota('email_verification', verify_email.ip);
  perform 1
  from app_private.email_tokens as t
  where t.token_digest = verify_email.token_digest
  for update;
  link := app_private.valid_email_token('email_verification', verify_email.token_digest);
  if link.id is null then
    raise exception using errcode = 'TKTOK', message = 'Invalid or expired link';
  end if;

  update app_private.email_tokens as t
  set used_at = app_private.auth_now()
  where t.id = link.id;

  -- The link proves the address it was sent to; the account takes it (an
  -- email change completes here) unless another account holds it by now.
  begin
    update app_private.user_accounts as a
    set email = link.email,
        email_verified_at = app_private.auth_now()
    where a.user_id = link.user_id;
  exception
    when unique_violation then
      raise exception using errcode = 'TKTOK', message = 'Invalid or expired link';
  end;

  select s.* into opened
  from app_private.open_session(link.user_id, verify_email.session_token_digest) as s;
  session_id := opened.session_id;
  user_role := opened.user_role;
  refresh_expires_at := opened.refresh_expires_at;
  user_record := opened.user_record;

  insert into app_private.login_attempts (email, user_id, ip, success, reason, purpose, consumed_at, session_id)
  values (link.email::text, link.user_id, verify_email.ip, true, 'success', 'registration', app_private.auth_now(), verify_email.session_id);
  return next;
end;
$$;

comment on function app_private.verify_email(bytea, bytea, inet) is
  'verifyEmail: counts the call against the ''email_verification'' limit of ip (TKRAT beyond it); for a valid verification link (TKTOK otherwise) marks the address verified, uses the link up and opens a session (the first refresh token''s digest given by the API), recorded in login_attempts.';

revoke all on function app_private.verify_email(bytea, bytea, inet) from public;
grant execute on function app_private.verify_email(bytea, bytea, inet) to ticketing_authenticator;
