-- Changing the email of an account (docs/authentication.md): the signed-in
-- user proves their current password (begin_password_check and finish_login,
-- as changePassword does), then a verification link goes to the new address;
-- the account's email changes only when that link is followed (verifyEmail).
-- The old address is told. A new address that another account holds is
-- answered the same, and nothing is sent.

insert into app_private.mail_templates (kind, subject, text_body, html_body)
values
  (
    'email_change',
    'Confirm your new email address',
    E'Hello {{displayName}},\n\nTo make this the address of your helpdesk account, open this link within {{days}} days:\n\n{{appUrl}}/verify-email?token={{token}}\n\nIf you did not ask for this, ignore this mail: nothing changes without the link.\n',
    E'<p>Hello {{displayName}},</p>\n<p>To make this the address of your helpdesk account, open this link within {{days}} days:</p>\n<p><a href="{{appUrl}}/verify-email?token={{token}}">Confirm my new address</a></p>\n<p>If you did not ask for this, ignore this mail: nothing changes without the link.</p>\n'
  ),
  (
    'email_change_notice',
    'Your email address is about to change',
    E'Hello {{displayName}},\n\nSomeone signed in to your helpdesk account asked to change its address to {{newEmail}}. It changes only when the link sent there is followed.\n\nIf this was not you, reset your password now: {{appUrl}}/forgot-password\n',
    E'<p>Hello {{displayName}},</p>\n<p>Someone signed in to your helpdesk account asked to change its address to {{newEmail}}. It changes only when the link sent there is followed.</p>\n<p>If this was not you, <a href="{{appUrl}}/forgot-password">reset your password now</a>.</p>\n'
  )
on conflict (kind) do nothing;

create or replace function app_private.request_email_change(attempt_id uuid, new_email text)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  attempt app_private.login_attempts;
  account record;
  typed_email citext := app_private.normalized_input(left(request_email_change.new_email, 1000), 320);
  token text;
begin
  select l.* into attempt
  from app_private.login_attempts as l
  where l.id = request_email_change.attempt_id
    and l.purpose = 'password_change'
    and l.reason = 'success'
    and l.decided_xact = pg_current_xact_id()
    and l.consumed_at is null
  for update;
  if not found then
    raise exception using errcode = 'TKFBD', message = 'The current password must be proven in the same transaction';
  end if;
  update app_private.login_attempts as l set consumed_at = app_private.auth_now() where l.id = attempt.id;

  if typed_email is null or char_length(typed_email) > 320 or typed_email !~ '^[^@[:space:]]+@[^@[:space:]]+$' then
    raise exception using errcode = 'TKVAL', message = 'The email address is not valid';
  end if;

  select a.user_id, a.email, u.display_name into account
  from app_private.user_accounts as a
  join app_public.users as u on u.id = a.user_id
  where a.user_id = attempt.user_id and u.is_active;
  if not found then
    raise exception using errcode = 'TKNTF', message = 'No active user with this id';
  end if;

  -- Unchanged, or held by another account: answered the same, nothing sent.
  if typed_email = account.email or exists (select from app_private.user_accounts as a where a.email = typed_email) then
    return;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('email-token:' || account.user_id::text, 0));
  if app_private.account_links_exhausted('email_verification', account.user_id) then
    return;
  end if;

  token := app_private.new_email_token('email_verification', account.user_id, typed_email);
  perform app_private.queue_mail(
    'email_change', typed_email::text, account.user_id, null,
    jsonb_build_object(
      'displayName', account.display_name,
      'token', token,
      'days', extract(epoch from (select p.verification_lifetime from app_private.email_token_policy() as p))::integer / 86400
    )
  );
  perform app_private.queue_mail(
    'email_change_notice', account.email::text, account.user_id, null,
    jsonb_build_object('displayName', account.display_name, 'newEmail', typed_email::text)
  );
end;
$$;

comment on function app_private.request_email_change(uuid, text) is
  'requestEmailChange: for a successful current-password check made in this same transaction (begin_password_check, finish_login), mails a verification link to the new address (verifyEmail then makes it the account''s email) and a notice to the old one. TKVAL for a malformed address; an unchanged address, one held by another account or an account over its link limit is answered the same with nothing sent.';

revoke all on function app_private.request_email_change(uuid, text) from public;
grant execute on function app_private.request_email_change(uuid, text) to ticketing_authenticator;
