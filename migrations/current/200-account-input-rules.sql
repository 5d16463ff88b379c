-- One input rule for emails and display names, on every path.
--
-- register, createUser, the user:create command and updateUser (a plain
-- update of app_public.users through GraphQL) all end in an insert or update
-- of app_public.users or app_private.user_accounts, so the rules live here,
-- as constraints, and nowhere else:
--
-- * normalisation: NFKC, then surrounding spaces removed. A trigger does it
--   before each write, so fullwidth letters and compatibility forms become
--   the ordinary characters (ＡＤＭＩＮ@example.com is admin@example.com) and
--   a look-alike written that way meets the existing account.
-- * nothing invisible: control characters, zero-width characters, bidi
--   overrides and isolates, invisible fillers and tag characters are refused.
-- * emails are printable ASCII (no internationalised addresses), so Cyrillic
--   or Greek look-alikes of an existing address are refused.
-- * lengths count the normalised value: display names 1 to 100 characters,
--   emails at most 320. Input far longer than any allowed value is not
--   normalised at all (so a 900 KB name padded with spaces costs nothing to
--   refuse): the length constraint refuses it as it is.

--------------------------------------------------------------------------------
-- Normalisation, one definition for the triggers and the login lookup
--------------------------------------------------------------------------------
create or replace function app_private.normalized_input(value text, max_length integer)
returns text
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
  -- Four bytes per character is the most UTF-8 needs: longer input cannot fit
  -- once normalised either, and is left as it is for the constraints to refuse.
  select case
    when octet_length(value) > 4 * max_length + 64 then value
    else btrim(normalize(value, nfkc), ' ')
  end;
$$;

comment on function app_private.normalized_input(text, integer) is
  'NFKC-normalises a typed value and removes surrounding spaces, unless it is longer than 4 * max_length + 64 bytes (too long to be valid however normalised: returned unchanged, so the length check refuses it without work).';

-- (The invisible characters are listed once, in the users_display_name_visible
-- constraint below; a constraint cannot call an app_private function, which
-- the web roles may not execute.)
drop function if exists app_private.has_hidden_characters(text);

--------------------------------------------------------------------------------
-- Normalisation before each write
--------------------------------------------------------------------------------
create or replace function app_private.tg_users_normalize_display_name()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  new.display_name := app_private.normalized_input(new.display_name, 100);
  return new;
end;
$$;

comment on function app_private.tg_users_normalize_display_name() is
  'Before insert or update of users: NFKC-normalises display_name and removes surrounding spaces (app_private.normalized_input); the constraints then check the result.';

drop trigger if exists _050_normalize_display_name on app_public.users;
create trigger _050_normalize_display_name
  before insert or update of display_name on app_public.users
  for each row
  execute function app_private.tg_users_normalize_display_name();

create or replace function app_private.tg_user_accounts_normalize_email()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  new.email := app_private.normalized_input(new.email::text, 320);
  return new;
end;
$$;

comment on function app_private.tg_user_accounts_normalize_email() is
  'Before insert or update of user_accounts: NFKC-normalises email and removes surrounding spaces (app_private.normalized_input); the constraints then check the result.';

drop trigger if exists _050_normalize_email on app_private.user_accounts;
create trigger _050_normalize_email
  before insert or update of email on app_private.user_accounts
  for each row
  execute function app_private.tg_user_accounts_normalize_email();

--------------------------------------------------------------------------------
-- Existing rows take the normal form, so the constraints below can be validated
--------------------------------------------------------------------------------
update app_public.users as u
set display_name = u.display_name
where u.display_name is distinct from app_private.normalized_input(u.display_name, 100);

update app_private.user_accounts as a
set email = a.email
where a.email::text is distinct from app_private.normalized_input(a.email::text, 320);

--------------------------------------------------------------------------------
-- Display names
--------------------------------------------------------------------------------
alter table app_public.users drop constraint if exists users_display_name_length;
alter table app_public.users add constraint users_display_name_length
  check (char_length(display_name) between 1 and 100 and display_name ~ '[^[:space:]]') not valid;
-- (Validated in the same migration: users holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_public.users validate constraint users_display_name_length;

alter table app_public.users drop constraint if exists users_display_name_normalized;
alter table app_public.users add constraint users_display_name_normalized
  check (display_name is nfkc normalized and display_name = btrim(display_name, ' ')) not valid;
-- (Validated in the same migration: users holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_public.users validate constraint users_display_name_normalized;

-- Control characters (C0, DEL, C1), soft hyphen, combining grapheme joiner,
-- Arabic letter mark, Hangul and Khmer fillers, Mongolian vowel separator,
-- zero-width space/joiners, directional marks, line and paragraph
-- separators, bidi embeddings/overrides/isolates, invisible operators,
-- byte-order mark, halfwidth Hangul filler, interlinear annotations and the
-- tag characters. Existing names lose them first, so the constraint can be
-- validated.
do $$
declare
  hidden constant text := '[\u0001-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\u3164\uFEFF\uFFA0\uFFF9-\uFFFB\U000E0000-\U000E007F]';
begin
  update app_public.users as u
  set display_name = coalesce(nullif(btrim(regexp_replace(u.display_name, hidden, '', 'g'), ' '), ''), 'User')
  where u.display_name ~ hidden;

  alter table app_public.users drop constraint if exists users_display_name_visible;
  execute format(
    'alter table app_public.users add constraint users_display_name_visible check (display_name !~ %L) not valid',
    hidden
  );
end;
$$;
-- (Validated in the same migration: users holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_public.users validate constraint users_display_name_visible;

comment on constraint users_display_name_length on app_public.users is
  'Display names are 1 to 100 characters (after normalisation) and not only white space.';
comment on constraint users_display_name_normalized on app_public.users is
  'Display names are stored NFKC-normalised without surrounding spaces (the _050_normalize_display_name trigger makes them so).';
comment on constraint users_display_name_visible on app_public.users is
  'Display names hold no control, zero-width, bidi-override or other invisible characters.';
comment on column app_public.users.display_name is
  'Name shown to other users: 1 to 100 characters, NFKC-normalised, no surrounding spaces, no invisible or control characters. Users may change their own; admins may change anyone''s.';

--------------------------------------------------------------------------------
-- Emails
--------------------------------------------------------------------------------
alter table app_private.user_accounts drop constraint if exists user_accounts_email_format;
-- One @ between two non-empty runs of printable ASCII (no space, no second @).
alter table app_private.user_accounts add constraint user_accounts_email_format
  check (char_length(email) <= 320 and email::text ~ '^[!-?A-~]+@[!-?A-~]+$') not valid;
-- (Validated in the same migration: user_accounts holds one row per person, so the
-- scan under the lock taken by the add above lasts a moment; the rule then
-- holds for every existing row, not only for new writes.)
-- squawk-ignore constraint-missing-not-valid
alter table app_private.user_accounts validate constraint user_accounts_email_format;

comment on constraint user_accounts_email_format on app_private.user_accounts is
  'Emails are at most 320 printable ASCII characters with exactly one @ between non-empty parts; ASCII only, so look-alike letters from other scripts cannot imitate an address.';
comment on column app_private.user_accounts.email is
  'Login email, unique case-insensitively, stored NFKC-normalised and trimmed (fullwidth and other compatibility forms meet the same account); printable ASCII only.';
