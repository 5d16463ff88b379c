-- A ticket's status history starts at its creation. The history is
-- partitioned by month of changed_at, and a ticket id prunes nothing: reading
-- one ticket's history through the foreign key probed the ticket index of
-- every monthly partition (25 at two years of history). Ticket.ticketStatusHistories
-- now reads through a computed field that also says `changed_at >= created_at`
-- of the ticket; PostgreSQL inlines it into the detail query, where the
-- ticket's created_at is a run-time parameter, and skips every month before it.
--
-- For that filter to hide nothing, no history row may predate its ticket. The
-- history trigger (app_private.tg_tickets_status_history) is the one writer:
-- it dates the creation row with created_at and every later change with
-- status_changed_at, the instant the ticket row recorded it. The constraint
-- below makes that instant never precede the creation, like resolved_at and
-- closed_at already cannot (tickets_resolved_after_created,
-- tickets_closed_after_created). Rows loaded directly (demo data, the
-- benchmark's seeder) keep the rule themselves, as their tests check.

-- Checked for new and changed rows at once; validated in the next migration
-- (docs/conventions.md: a new constraint on a big table). Tickets older than
-- status_changed_at hold null there, which passes.
alter table app_public.tickets drop constraint if exists tickets_status_changed_after_created;
alter table app_public.tickets add constraint tickets_status_changed_after_created
  check (status_changed_at >= created_at) not valid;

comment on constraint tickets_status_changed_after_created on app_public.tickets is
  'A ticket enters a status no earlier than its creation, so its status history starts at created_at (Ticket.ticketStatusHistories reads the months from there on).';

-- The computed field takes the relation's field name; the relation itself
-- stays for TicketStatusHistory.ticket, only its field on Ticket goes.
comment on constraint ticket_status_history_ticket_id_fkey on app_public.ticket_status_history is
  '@backwardBehavior -*';

-- SQL, stable, not strict, not security definer and one select: PostgreSQL
-- inlines it into the caller's query, so the history's own policy still
-- applies and the planner sees both conditions.
create or replace function app_public.tickets_ticket_status_histories(ticket app_public.tickets)
returns setof app_public.ticket_status_history
language sql
stable
as $$
  select h.*
  from app_public.ticket_status_history as h
  where h.ticket_id = ticket.id
    and h.changed_at >= ticket.created_at
$$;

comment on function app_public.tickets_ticket_status_histories(app_public.tickets) is
  E'@behavior +order +filter +resource:connection:backwards\n@uniqueRows\nEvery status change of this ticket, creation included (fromStatus null). Reads only the months of history from the ticket''s creation on.';

revoke all on function app_public.tickets_ticket_status_histories(app_public.tickets) from public;
grant execute on function app_public.tickets_ticket_status_histories(app_public.tickets)
  to ticketing_customer, ticketing_agent, ticketing_admin;
