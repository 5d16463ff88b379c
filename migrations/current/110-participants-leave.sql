-- A participant may take themselves off a ticket: a cc'd customer who no
-- longer wants to read it, a follower who no longer wants its events. Leaving
-- only takes sight away, so it needs no right to act on the ticket and is
-- allowed on closed tickets too. Removing someone else is unchanged: whoever
-- acts on the ticket (app_private.acts_on_ticket: requester, organization
-- manager, assigned agent, admin), customers only a cc. The update is audited
-- by the table's audit trigger and counted against the edit quota, like every
-- participant change.

create or replace function app_public.remove_ticket_participant(ticket_id uuid, user_id uuid)
returns app_public.ticket_participants
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  me uuid := app_private.current_user_id();
  ticket app_public.tickets;
  participant app_public.ticket_participants;
begin
  -- Leaving: the caller is signed in (their role matches their token) and takes part in the ticket.
  if me is not null
    and remove_ticket_participant.user_id = me
    and app_private.current_user_role() is not null
  then
    update app_public.ticket_participants as p
    set removed_at = now(),
        removed_by = me
    where p.ticket_id = remove_ticket_participant.ticket_id
      and p.user_id = me
      and p.removed_at is null
    returning p.* into participant;
    if found then
      return participant;
    end if;
  end if;

  ticket := app_private.ticket_for_participants(remove_ticket_participant.ticket_id);

  -- Customers take off the people they may add (cc), not staff who follow the ticket.
  if app_private.current_user_role() = 'customer' and exists (
    select 1
    from app_public.ticket_participants as p
    where p.ticket_id = ticket.id
      and p.user_id = remove_ticket_participant.user_id
      and p.kind = 'follower'
      and p.removed_at is null
  ) then
    raise exception using errcode = 'TKFBD', message = 'Customers cannot remove staff who follow the ticket';
  end if;

  update app_public.ticket_participants as p
  set removed_at = now(),
      removed_by = me
  where p.ticket_id = ticket.id
    and p.user_id = remove_ticket_participant.user_id
    and p.removed_at is null
  returning p.* into participant;

  if not found then
    raise exception using errcode = 'TKNTF', message = 'Participant not found';
  end if;
  return participant;
end;
$$;

comment on function app_public.remove_ticket_participant(uuid, uuid) is 'Removes a participant from a ticket. Anyone who takes part (a cc, a follower) may remove themselves, even from a closed ticket; others are removed by whoever acts on the ticket (requester, organization manager, assigned agent, admin; customers remove cc only, not staff followers; not on closed tickets, except admins). A removed cc no longer sees the ticket. The row stays, with removedAt and removedBy, for the audit. Errors: FORBIDDEN, NOT_FOUND, RATE_LIMITED.';
