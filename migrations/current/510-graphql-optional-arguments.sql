-- GraphQL arguments: required means non-null.
--
-- The API builds its schema with pgStrictFunctions (src/graphql/preset.ts):
-- an argument of an app_public function without a default is required and
-- non-null in GraphQL (`transitionTicket(input: {ticketId: null})` is refused
-- before it reaches the database); an argument with a default is optional.
-- assign_ticket's agent_id is null on purpose ("unassign"), so it gets a
-- default of null and stays nullable: `assignTicket(input: {ticketId, agentId:
-- null})` and leaving agentId out both unassign.
--
-- Only the argument list changes. The function's body, comment and grants stay
-- as the migration that last defined it left them: its definition is read from
-- the catalog and created again with the default added, so the body is stated
-- in one place only. Running this twice changes nothing (the default is then
-- present and the statement is skipped).
do $$
declare
  definition text := pg_catalog.pg_get_functiondef('app_public.assign_ticket(uuid, uuid)'::pg_catalog.regprocedure);
  signature text := pg_catalog.split_part(definition, E'\n', 1);
begin
  if pg_catalog.strpos(signature, 'DEFAULT') = 0 then
    if pg_catalog.strpos(signature, 'agent_id uuid)') = 0 then
      raise exception 'unexpected signature of app_public.assign_ticket: %', signature;
    end if;
    execute pg_catalog.replace(definition, signature,
      pg_catalog.replace(signature, 'agent_id uuid)', 'agent_id uuid DEFAULT NULL::uuid)'));
  end if;
end;
$$;
