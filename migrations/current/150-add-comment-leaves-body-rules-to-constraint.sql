-- add_comment no longer restates the comment body's data rule (not empty,
-- at most 20,000 characters): ticket_comments_body_length says it once, for
-- every writer, and a broken rule still answers INVALID_INPUT with that
-- constraint's message (src/graphql/constraint-messages.ts). A missing
-- ticket id is "Ticket not found", as for any ticket the caller cannot see.
-- Behaviour is otherwise unchanged.
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
