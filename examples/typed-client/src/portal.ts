// gql.tada's GraphQL runtime (a dependency of gql.tada) turns a document back into text.
import { print } from "@0no-co/graphql.web";
import type { TadaDocumentNode } from "gql.tada";
import { graphql, type ResultOf, type VariablesOf } from "./graphql.ts";

/** Operations of docs/frontend.md, typed: results and variables are checked against schema.graphql. */
export const MyTickets = graphql(`
  query MyTickets($first: Int!, $after: Cursor) {
    tickets(first: $first, after: $after, orderBy: [CREATED_AT_DESC]) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { rowId number subject status priority updatedAt }
    }
  }
`);

export const TransitionTicket = graphql(`
  mutation TransitionTicket($ticketId: UUID!, $toStatus: TicketStatus!, $note: String) {
    transitionTicket(input: { ticketId: $ticketId, toStatus: $toStatus, note: $note }) {
      ticket { rowId status resolvedAt }
    }
  }
`);

export const TakeNextTicket = graphql(`
  mutation TakeNextTicket {
    takeNextTicket { ticket { rowId number status } }
  }
`);

/** A minimal typed client: POST /graphql with the access token; result and variables typed by the document. */
export async function request<Result, Variables>(
  document: TadaDocumentNode<Result, Variables>,
  variables: Variables,
  accessToken: string,
): Promise<Result> {
  const response = await fetch("http://127.0.0.1:5678/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as {
    data?: Result;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  const error = body.errors?.[0];
  if (error) throw new Error(`${error.extensions?.code ?? "ERROR"}: ${error.message}`);
  return body.data as Result;
}

// What the types guarantee (this file fails to type-check if the schema drifts):
type Ticket = NonNullable<NonNullable<ResultOf<typeof MyTickets>["tickets"]>["nodes"][number]>;
export const statusOf = (ticket: Ticket): "open" | "in_progress" | "waiting_on_customer" | "resolved" | "closed" =>
  ticket.status;
// Ticket numbers are BigInt: strings on the wire.
export const numberOf = (ticket: Ticket): string => ticket.number;

export const resolve: VariablesOf<typeof TransitionTicket> = { ticketId: "0190…", toStatus: "resolved" };
// @ts-expect-error ticketId is required and non-null.
export const missingTicket: VariablesOf<typeof TransitionTicket> = { ticketId: null, toStatus: "resolved" };
// @ts-expect-error statuses are the schema's enum values.
export const unknownStatus: VariablesOf<typeof TransitionTicket> = { ticketId: "0190…", toStatus: "done" };
// takeNextTicket needs no variables at all.
export const noVariables: VariablesOf<typeof TakeNextTicket> = {};

// Usage: `const page = await request(MyTickets, { first: 20 }, token);` — `page.tickets?.nodes` is typed.
export const firstPage = (token: string) => request(MyTickets, { first: 20 }, token);
