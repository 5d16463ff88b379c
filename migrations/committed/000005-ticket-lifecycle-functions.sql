--! Previous: sha1:0e9be938fed54e41a0c0a116318e0415bcbcc021
--! Hash: sha1:aba6866fbe2eae36a2ac5507d7bc6a00fdc84213
--! Message: ticket lifecycle functions

-- Ticket lifecycle: transitions, assignment, the agent queue, conversation side
-- effects, SLA due times and indicators, search, and what happens to the
-- tickets of an agent who leaves.
--
-- Error contract: functions raise these custom SQLSTATEs with a short message
-- meant for end users; the API maps them to GraphQL `extensions.code`.
--   TKINV -> INVALID_TRANSITION  the move is not in the workflow, or the ticket's
--                                state does not allow the operation
--   TKFBD -> FORBIDDEN           the caller may not do this (role, ownership,
--                                append-only tables)
--   TKNTF -> NOT_FOUND           no such ticket, or the caller may not see it
--                                (never tells the two apart)
--   TKVAL -> INVALID_INPUT       a bad argument or a value breaking a data rule
--                                (e.g. customer/agent checks in triggers)
-- Anything else (constraint violations, 42501 from a policy) is a bug or an
-- attack and stays masked by the API.

--------------------------------------------------------------------------------
-- Internal helpers
--------------------------------------------------------------------------------
create function app_private.transition_allowed(
  from_status app_public.ticket_status,
  to_status app_public.ticket_status,
  as_role app_public.user_role
)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select 1
    from app_public.ticket_transitions as tt
    where tt.from_status = transition_allowed.from_status
      and tt.to_status = transition_allowed.to_status
      and transition_allowed.as_role = any (tt.allowed_roles)
  );
$$;

comment on function app_private.transition_allowed(app_public.ticket_status, app_public.ticket_status, app_public.user_role) is
  'True when ticket_transitions lets as_role move a ticket from from_status to to_status.';

create function app_private.is_active_agent(user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select 1
    from app_public.users as u
    where u.id = is_active_agent.user_id
      and u.role = 'agent'
      and u.is_active
  );
$$;

comment on function app_private.is_active_agent(uuid) is 'True when user_id is an active user with role agent.';

--------------------------------------------------------------------------------
-- SLA due times
--------------------------------------------------------------------------------
create function app_private.tg_tickets_sla_due_times()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  sla app_public.sla_policies;
begin
  select p.* into sla
  from app_public.sla_policies as p
  where p.priority = new.priority;

  -- Due times count from creation, also after a priority change: raising the
  -- priority of an old ticket makes it due (or overdue) sooner.
  new.first_response_due_at := new.created_at + make_interval(mins => sla.first_response_minutes);
  new.resolution_due_at := new.created_at + make_interval(mins => sla.resolution_minutes);
  return new;
end;
$$;

comment on function app_private.tg_tickets_sla_due_times() is
  'Trigger: sets first_response_due_at and resolution_due_at from sla_policies when a ticket is created and when its priority changes (null when the priority has no policy).';

create trigger _250_sla_due_times_insert
  before insert on app_public.tickets
  for each row
  execute function app_private.tg_tickets_sla_due_times();

create trigger _250_sla_due_times_update
  before update on app_public.tickets
  for each row
  when (old.priority is distinct from new.priority)
  execute function app_private.tg_tickets_sla_due_times();

create function app_public.tickets_first_response_breached(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select t.first_response_due_at is not null
    and coalesce(t.first_responded_at, t.resolved_at, t.closed_at, now()) > t.first_response_due_at;
$$;

comment on function app_public.tickets_first_response_breached(app_public.tickets) is
  'True when staff replied publicly after firstResponseDueAt, or have not replied and that time has passed (a ticket resolved or closed without a reply counts at that moment).';

create function app_public.tickets_resolution_breached(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select t.resolution_due_at is not null
    and coalesce(t.resolved_at, t.closed_at, now()) > t.resolution_due_at;
$$;

comment on function app_public.tickets_resolution_breached(app_public.tickets) is
  'True when the ticket was resolved (or closed) after resolutionDueAt, or is still unresolved and that time has passed.';

create function app_public.tickets_first_response_at_risk(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select t.first_response_due_at is not null
    and t.first_responded_at is null
    and t.status not in ('resolved', 'closed')
    and now() <= t.first_response_due_at
    and now() >= t.first_response_due_at - (t.first_response_due_at - t.created_at) / 4;
$$;

comment on function app_public.tickets_first_response_at_risk(app_public.tickets) is
  'True while no staff reply has been posted, the first-response deadline has not passed, and less than a quarter of its SLA window remains.';

create function app_public.tickets_resolution_at_risk(t app_public.tickets)
returns boolean
language sql
stable
set search_path = pg_catalog, public, pg_temp
as $$
  select t.resolution_due_at is not null
    and t.status not in ('resolved', 'closed')
    and now() <= t.resolution_due_at
    and now() >= t.resolution_due_at - (t.resolution_due_at - t.created_at) / 4;
$$;

comment on function app_public.tickets_resolution_at_risk(app_public.tickets) is
  'True while the ticket is unresolved, the resolution deadline has not passed, and less than a quarter of its SLA window remains.';

grant execute on function app_public.tickets_first_response_breached(app_public.tickets) to ticketing_customer, ticketing_agent, ticketing_admin;
grant execute on function app_public.tickets_resolution_breached(app_public.tickets) to ticketing_customer, ticketing_agent, ticketing_admin;
grant execute on function app_public.tickets_first_response_at_risk(app_public.tickets) to ticketing_customer, ticketing_agent, ticketing_admin;
grant execute on function app_public.tickets_resolution_at_risk(app_public.tickets) to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Status transitions
--------------------------------------------------------------------------------
create function app_public.transition_ticket(
  ticket_id uuid,
  to_status app_public.ticket_status,
  note text default null
)
returns app_public.tickets
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  caller_id uuid := app_private.current_user_id();
  caller_role app_public.user_role := app_private.current_user_role();
  ticket app_public.tickets;
begin
  if caller_role is null then
    raise exception using errcode = 'TKFBD', message = 'Sign in to change tickets';
  end if;
  if transition_ticket.ticket_id is null or transition_ticket.to_status is null then
    raise exception using errcode = 'TKVAL', message = 'ticketId and toStatus are required';
  end if;
  if char_length(transition_ticket.note) > 2000 then
    raise exception using errcode = 'TKVAL', message = 'The note is too long (at most 2000 characters)';
  end if;

  -- Row lock: concurrent transitions of one ticket run one after the other,
  -- each seeing the status the previous one left.
  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = transition_ticket.ticket_id
  for update;

  if not found
    or (caller_role = 'customer' and ticket.customer_id <> caller_id)
    or (caller_role = 'agent' and ticket.agent_id is distinct from caller_id and ticket.status <> 'open')
  then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;

  if caller_role = 'agent' and ticket.agent_id is distinct from caller_id then
    raise exception using errcode = 'TKFBD', message = 'Only the agent assigned to this ticket can change its status';
  end if;

  if ticket.status = transition_ticket.to_status then
    raise exception using errcode = 'TKINV', message = format('The ticket is already %s', ticket.status);
  end if;

  -- Closed is final except for admins, whatever the workflow table says.
  if ticket.status = 'closed' and caller_role <> 'admin' then
    raise exception using errcode = 'TKINV', message = 'Closed tickets can only be reopened by an admin';
  end if;

  if not app_private.transition_allowed(ticket.status, transition_ticket.to_status, caller_role) then
    raise exception using
      errcode = 'TKINV',
      message = format('A %s cannot move a ticket from %s to %s', caller_role, ticket.status, transition_ticket.to_status);
  end if;

  if transition_ticket.to_status in ('in_progress', 'waiting_on_customer')
    and (ticket.agent_id is null or not app_private.is_active_agent(ticket.agent_id))
  then
    raise exception using errcode = 'TKINV', message = 'Assign an agent before work on this ticket starts';
  end if;

  perform set_config('app.status_note', coalesce(transition_ticket.note, ''), true);

  update app_public.tickets as tk
  set status = transition_ticket.to_status
  where tk.id = ticket.id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$$;

comment on function app_public.transition_ticket(uuid, app_public.ticket_status, text) is
  'Moves a ticket to another status, if ticketTransitions allows it for your role and you may act on the ticket (customers: their own; agents: assigned to them; admins: any). Closed tickets can only be reopened by admins; in_progress and waiting_on_customer need an assigned agent. Sets or clears resolvedAt/closedAt and records the change (with the optional note, at most 2000 characters) in the status history. Errors: INVALID_TRANSITION, FORBIDDEN, NOT_FOUND, INVALID_INPUT.';

grant execute on function app_public.transition_ticket(uuid, app_public.ticket_status, text)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Assignment
--------------------------------------------------------------------------------
create function app_public.assign_ticket(ticket_id uuid, agent_id uuid)
returns app_public.tickets
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  caller_id uuid := app_private.current_user_id();
  caller_role app_public.user_role := app_private.current_user_role();
  ticket app_public.tickets;
  new_status app_public.ticket_status;
begin
  if caller_role is null or caller_role = 'customer' then
    raise exception using errcode = 'TKFBD', message = 'Only agents and admins can assign tickets';
  end if;
  if assign_ticket.ticket_id is null then
    raise exception using errcode = 'TKVAL', message = 'ticketId is required';
  end if;
  if caller_role = 'agent' and assign_ticket.agent_id is distinct from caller_id then
    raise exception using errcode = 'TKFBD', message = 'Agents can only assign tickets to themselves';
  end if;
  if caller_role = 'admin'
    and assign_ticket.agent_id is not null
    and not app_private.is_active_agent(assign_ticket.agent_id)
  then
    raise exception using errcode = 'TKVAL', message = 'Tickets can only be assigned to an active agent';
  end if;

  select tk.* into ticket
  from app_public.tickets as tk
  where tk.id = assign_ticket.ticket_id
  for update;

  if not found
    or (caller_role = 'agent' and ticket.agent_id is distinct from caller_id and ticket.status <> 'open')
  then
    raise exception using errcode = 'TKNTF', message = 'Ticket not found';
  end if;

  if ticket.agent_id is not distinct from assign_ticket.agent_id then
    return ticket;
  end if;

  if ticket.status = 'closed' then
    raise exception using errcode = 'TKINV', message = 'Closed tickets cannot be reassigned';
  end if;

  if caller_role = 'agent' and ticket.agent_id is not null then
    raise exception using errcode = 'TKFBD', message = 'This ticket is already assigned to another agent';
  end if;

  -- Unassigned work goes back to the queue: without an agent an in-progress
  -- ticket would be invisible to every agent.
  new_status := case
    when assign_ticket.agent_id is null and ticket.status in ('in_progress', 'waiting_on_customer') then 'open'
    else ticket.status
  end;

  perform set_config('app.status_note', 'Unassigned: returned to the queue', true);

  update app_public.tickets as tk
  set agent_id = assign_ticket.agent_id,
      status = new_status
  where tk.id = ticket.id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$$;

comment on function app_public.assign_ticket(uuid, uuid) is
  'Sets the agent of a ticket. Admins: any active agent, or null to unassign (an unassigned in_progress or waiting_on_customer ticket goes back to open). Agents: only themselves, and only on an unassigned open ticket. Closed tickets cannot be reassigned. Every change is recorded in the assignment history. Errors: FORBIDDEN, NOT_FOUND, INVALID_INPUT, INVALID_TRANSITION.';

grant execute on function app_public.assign_ticket(uuid, uuid)
  to ticketing_customer, ticketing_agent, ticketing_admin;

create function app_public.take_next_ticket()
returns app_public.tickets
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  caller_id uuid := app_private.acting_user_id('agent');
  next_id uuid;
  ticket app_public.tickets;
begin
  if caller_id is null then
    raise exception using errcode = 'TKFBD', message = 'Only agents can take tickets from the queue';
  end if;

  -- SKIP LOCKED: a ticket being claimed by another agent is passed over, so
  -- concurrent callers never wait for each other nor get the same ticket.
  select tk.id into next_id
  from app_public.tickets as tk
  where tk.status = 'open'
    and tk.agent_id is null
  order by tk.priority desc, tk.created_at, tk.id
  limit 1
  for update skip locked;

  if next_id is null then
    return null;
  end if;

  perform set_config('app.status_note', 'Taken from the queue', true);

  update app_public.tickets as tk
  set agent_id = caller_id,
      -- Starting work is part of claiming, unless admins removed that move
      -- from the workflow; then the ticket is only assigned.
      status = case
        when app_private.transition_allowed('open', 'in_progress', 'agent') then 'in_progress'
        else tk.status
      end
  where tk.id = next_id
  returning tk.* into ticket;

  perform set_config('app.status_note', '', true);

  return ticket;
end;
$$;

comment on function app_public.take_next_ticket() is
  'Agents only: claims the most urgent, then oldest, open unassigned ticket, assigns it to you and moves it to in_progress. Safe under concurrency: two agents never get the same ticket and never wait for each other. Returns null when the queue is empty. Errors: FORBIDDEN.';

grant execute on function app_public.take_next_ticket()
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Conversation
--------------------------------------------------------------------------------
-- Security invoker on purpose: the insert below is checked by the comment
-- policies of the caller; the function only turns refusals into clear errors.
create function app_public.add_comment(ticket_id uuid, body text, is_internal boolean default false)
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
  if add_comment.body is null or btrim(add_comment.body) = '' then
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

grant execute on function app_public.add_comment(uuid, text, boolean)
  to ticketing_customer, ticketing_agent, ticketing_admin;

create function app_private.tg_ticket_comments_side_effects()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  author_role app_public.user_role;
begin
  select u.role into author_role
  from app_public.users as u
  where u.id = new.author_id;

  if new.is_internal then
    return null;
  end if;

  if author_role in ('agent', 'admin') then
    update app_public.tickets as tk
    set first_responded_at = greatest(new.created_at, tk.created_at)
    where tk.id = new.ticket_id
      and tk.first_responded_at is null;
  elsif author_role = 'customer' then
    perform set_config('app.status_note', 'Customer replied', true);

    update app_public.tickets as tk
    set status = 'in_progress'
    where tk.id = new.ticket_id
      and tk.customer_id = new.author_id
      and tk.status = 'waiting_on_customer';

    perform set_config('app.status_note', '', true);
  end if;

  return null;
end;
$$;

comment on function app_private.tg_ticket_comments_side_effects() is
  'Trigger: after a public comment, a staff author sets the ticket''s first_responded_at (once); the ticket''s customer moves a waiting_on_customer ticket back to in_progress (recorded in the status history as "Customer replied").';

create trigger _500_side_effects
  after insert on app_public.ticket_comments
  for each row
  execute function app_private.tg_ticket_comments_side_effects();

--------------------------------------------------------------------------------
-- Search
--------------------------------------------------------------------------------
-- Why two functions: the text-search operator @@ is not leakproof, so under
-- row-level security PostgreSQL will not use it as a GIN index condition and
-- falls back to scanning every row the caller might see. The matching is
-- therefore done by a security definer helper (index scans, no policies) that
-- only returns row ids and ranks; search_tickets then keeps the ids the caller
-- may read by joining the real tables through the caller's policies.
create function app_private.search_matches(query text)
returns table (ticket_id uuid, comment_id uuid, rank real)
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  tsq tsquery;
begin
  if search_matches.query is null or btrim(search_matches.query) = '' then
    return;
  end if;
  if char_length(search_matches.query) > 500 then
    raise exception using errcode = 'TKVAL', message = 'The search text is too long (at most 500 characters)';
  end if;

  -- websearch syntax never fails: any input is just text ("quotes", or, -not).
  tsq := websearch_to_tsquery('english', search_matches.query);
  if numnode(tsq) = 0 then
    return;
  end if;

  return query
    select tk.id, null::uuid, ts_rank(tk.search, tsq)
    from app_public.tickets as tk
    where tk.search @@ tsq
    union all
    -- A match in the conversation counts, a bit less than one in the ticket.
    select c.ticket_id, c.id, (ts_rank(c.search, tsq) * 0.5)::real
    from app_public.ticket_comments as c
    where c.search @@ tsq;
end;
$$;

comment on function app_private.search_matches(text) is
  'Candidate matches of a search, ignoring access rights: ticket ids (comment_id null) and comment ids with their rank. Only search_tickets uses it, and filters the result through the caller''s policies.';

-- Callable inside search_tickets (its body is stored pre-parsed, so no USAGE
-- on app_private is needed); not callable by name.
grant execute on function app_private.search_matches(text)
  to ticketing_customer, ticketing_agent, ticketing_admin;

-- Security invoker, and a SQL-standard body (parsed once, at creation): the
-- tickets and comments are read through the caller's policies, so a ticket they
-- cannot read never appears and internal notes only count for staff. The whole
-- row (tk) is returned rather than tk.* so new ticket columns need no change here.
create function app_public.search_tickets(query text)
returns setof app_public.tickets
language sql
stable
begin atomic
  select tk
  from (
    select m.ticket_id, sum(m.rank) as rank
    from app_private.search_matches(search_tickets.query) as m
    where m.comment_id is null
      or exists (
        select 1
        from app_public.ticket_comments as c
        where c.id = m.comment_id
      )
    group by m.ticket_id
  ) as r
  join app_public.tickets as tk on tk.id = r.ticket_id
  order by r.rank desc, tk.number desc;
end;

comment on function app_public.search_tickets(text) is
  'Full-text search (web-search syntax: words, "phrases", or, -exclusions) over subject, description and comments of the tickets you can read; internal notes count only for staff. Best matches first. Empty text returns nothing. Errors: INVALID_INPUT (more than 500 characters).';

grant execute on function app_public.search_tickets(text)
  to ticketing_customer, ticketing_agent, ticketing_admin;

--------------------------------------------------------------------------------
-- Agents who leave
--------------------------------------------------------------------------------
create function app_private.tg_users_release_tickets()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform set_config('app.status_note', 'Agent no longer available: returned to the queue', true);

  update app_public.tickets as tk
  set agent_id = null,
      status = case
        when tk.status in ('in_progress', 'waiting_on_customer') then 'open'::app_public.ticket_status
        else tk.status
      end
  where tk.agent_id = old.id
    and tk.status <> 'closed';

  perform set_config('app.status_note', '', true);

  return null;
end;
$$;

comment on function app_private.tg_users_release_tickets() is
  'Trigger (deactivation rule): when an agent is deactivated or stops being an agent (role changed to customer or admin), in the same transaction every ticket of theirs that is not closed loses its agent; in_progress and waiting_on_customer tickets go back to open (status history note "Agent no longer available: returned to the queue"), open and resolved tickets keep their status. Closed tickets keep the agent as a record of who worked them. Both changes are recorded in the histories, attributed to the admin who made the change.';

create trigger _500_release_tickets
  after update on app_public.users
  for each row
  when (old.role = 'agent' and (new.role <> 'agent' or not new.is_active))
  execute function app_private.tg_users_release_tickets();

comment on trigger _500_release_tickets on app_public.users is
  'Deactivation rule: a deactivated or demoted agent keeps no tickets. Their non-closed tickets become unassigned; in_progress and waiting_on_customer ones return to open.';
