-- What the covering list indexes of migrations 000031 and 000032 are for
-- (comments are transactional; a concurrent build is the only statement of
-- its migration, so they come here).
comment on index app_public.tickets_customer_list_idx is
  'A customer''s tickets, newest first (id breaks ties), carrying the columns the customers'' policy and the ticket list read: the list is an index-only scan that stops after a page. Also indexes the customer_id foreign key.';
comment on index app_public.tickets_organization_list_idx is
  'An organization''s tickets, newest first (id breaks ties), carrying the columns the customers'' policy and the ticket list read: a manager''s list is an index-only scan that stops after a page. Also indexes the organization_id foreign key and the policy''s organization arm.';

-- The subject is carried by both indexes (INCLUDE) but cannot be searched or
-- ordered by them; PostGraphile counts every column of an index as indexed
-- and would offer `condition: { subject }` and `orderBy: SUBJECT_*`, each a
-- scan of every visible ticket. Search is the way to find by subject.
comment on column app_public.tickets.subject is E'@behavior -orderBy -filterBy\nOne-line summary, 1-200 characters.';
