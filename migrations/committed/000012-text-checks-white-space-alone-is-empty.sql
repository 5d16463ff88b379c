--! Previous: sha1:c51c1994ce81aa6ff7b2989dda5b2b6b9b1becec
--! Hash: sha1:533ea92d9b57144a399d5fb1a0145ee576f5ad8e
--! Message: text checks: white space alone is empty

-- Text made only of white space (line breaks, tabs, spaces) is
-- as empty as ''. btrim() strips spaces alone, so the checks now ask for at
-- least one character that is not white space.
alter table app_public.tickets drop constraint tickets_subject_length;

alter table app_public.tickets add constraint tickets_subject_length
  check (subject ~ '[^[:space:]]' and char_length(subject) <= 200);

alter table app_public.ticket_comments drop constraint ticket_comments_body_length;

alter table app_public.ticket_comments add constraint ticket_comments_body_length
  check (body ~ '[^[:space:]]' and char_length(body) <= 20000);

alter table app_public.users drop constraint users_display_name_length;

alter table app_public.users add constraint users_display_name_length
  check (display_name ~ '[^[:space:]]' and char_length(btrim(display_name)) <= 100);

create or replace function app_public.add_comment(ticket_id uuid, body text, is_internal boolean default false)
returns app_public.ticket_comments
language plpgsql
volatile
set search_path = pg_catalog, public, pg_temp
as $$
declare
  me app_public.users := app_public.current_user();
  ticket app_public.tickets;
  new_comment app_public.ticket_comments;
begin
  if me.id is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to comment';
  end if;
  if add_comment.ticket_id is null then
    raise exception using errcode = 'TKVAL', message = 'ticketId is required';
  end if;
  if add_comment.body is null or add_comment.body !~ '[^[:space:]]' then
    raise exception using errcode = 'TKVAL', message = 'The comment cannot be empty';
  end if;
  if char_length(add_comment.body) > 20000 then
    raise exception using errcode = 'TKVAL', message = 'The comment is too long (at most 20000 characters)';
  end if;

  -- Read through the caller's policies: a ticket they cannot see does not exist.
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = add_comment.ticket_id;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;
  if coalesce(add_comment.is_internal, false) and me.role = 'customer' then
    raise exception using errcode = 'TKFBD', message = 'Customers cannot write internal notes';
  end if;
  if ticket.status = 'closed' and me.role <> 'admin' then
    raise exception using errcode = 'TKFBD', message = 'This ticket is closed';
  end if;

  begin
    if coalesce(add_comment.is_internal, false) then
      insert into app_public.ticket_comments (ticket_id, body, is_internal)
      values (add_comment.ticket_id, add_comment.body, true)
      returning * into new_comment;
    else
      -- is_internal is not named: customers hold no privilege on that column.
      insert into app_public.ticket_comments (ticket_id, body)
      values (add_comment.ticket_id, add_comment.body)
      returning * into new_comment;
    end if;
  exception
    when insufficient_privilege then
      raise exception using errcode = 'TKFBD', message = 'You cannot comment on this ticket';
  end;

  return new_comment;
end;
$$;

comment on function app_public.add_comment(uuid, text, boolean) is
  'Adds a comment to a ticket you can read. Customers: public comments on their own tickets; agents: public comments or internal notes (isInternal) on tickets they can read; admins: anything. Not on closed tickets (except admins). A customer''s reply on a waiting_on_customer ticket moves it back to in_progress; the first public staff reply sets firstRespondedAt. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT.';
