--! Previous: sha1:f673c9d05e9ffcade80dfa22fdd55fea9423394e
--! Hash: sha1:da7a76e249338dd5b6ab9cd0278ddbb1649c92f1
--! Message: tickets: order queues by priority, status and due times

-- Agent consoles sort their queue by urgency and due time and filter it by
-- priority; PostGraphile offers orderBy/condition only on indexed columns
-- unless told otherwise. The queue indexes of tickets back these orders.
comment on column app_public.tickets.priority is
  E'@behavior +orderBy +filterBy\nUrgency. Set at creation; afterwards agents (on their tickets) and admins may change it, which recomputes the SLA due times.';

comment on column app_public.tickets.status is
  E'@behavior -insert -update +orderBy\nCurrent status; always equal to the newest row of the ticket''s status history. Change it with transitionTicket.';

comment on column app_public.tickets.updated_at is
  E'@behavior -insert -update +orderBy\nWhen the ticket row last changed.';

comment on column app_public.tickets.first_response_due_at is
  E'@behavior -insert -update +orderBy\nSLA: staff must post a first public reply by this time.';

comment on column app_public.tickets.resolution_due_at is
  E'@behavior -insert -update +orderBy\nSLA: the ticket must be resolved by this time.';
