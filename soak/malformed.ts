import type { Random } from "./random.ts";
import type { Traffic } from "./traffic.ts";

/**
 * Malformed and oversized requests mixed into the traffic. Each must be
 * answered with a 4xx, whatever state the database is in: none of them may
 * reach it, and none may cost a 5xx.
 */
const GRAPHQL_RESPONSE = "application/graphql-response+json";

interface Malformed {
  name: string;
  init(): { path: string; init: RequestInit };
}

const json = (body: string, extra: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "Content-Type": "application/json", Accept: GRAPHQL_RESPONSE, ...extra },
  body,
});

const KINDS: Malformed[] = [
  { name: "invalid-json", init: () => ({ path: "/graphql", init: json('{"query": "{ currentUser { rowId } ') }) },
  {
    name: "oversized",
    init: () => ({
      path: "/graphql",
      init: json(JSON.stringify({ query: "{ currentUser { rowId } }", padding: "x".repeat(1_200_000) })),
    }),
  },
  {
    name: "syntax-error",
    init: () => ({ path: "/graphql", init: json(JSON.stringify({ query: "{ tickets { nodes { rowId }" })) }),
  },
  {
    name: "unknown-field",
    init: () => ({ path: "/graphql", init: json(JSON.stringify({ query: "{ ticketz { nodes { rowId } } }" })) }),
  },
  { name: "no-query", init: () => ({ path: "/graphql", init: json(JSON.stringify({ variables: {} })) }) },
  {
    name: "bad-variable",
    init: () => ({
      path: "/graphql",
      init: json(
        JSON.stringify({
          query: "mutation ($t: TicketInput!) { createTicket(input: { ticket: $t }) { ticket { rowId } } }",
          variables: { t: { subject: 42, priority: "SOMETIMES" } },
        }),
      ),
    }),
  },
  {
    name: "garbage-token",
    init: () => ({
      path: "/graphql",
      init: json(JSON.stringify({ query: "{ currentUser { rowId } }" }), { Authorization: "Bearer not.a.jwt" }),
    }),
  },
  {
    name: "wrong-content-type",
    init: () => ({
      path: "/graphql",
      init: {
        method: "POST",
        headers: { "Content-Type": "text/plain", Accept: GRAPHQL_RESPONSE },
        body: "{ currentUser { rowId } }",
      },
    }),
  },
  {
    name: "deep-nesting",
    init: () => ({ path: "/graphql", init: json(`{"query": ${"[".repeat(5_000)}${"]".repeat(5_000)}}`) }),
  },
];

export const MALFORMED_PREFIX = "malformed:";

export async function runMalformed(traffic: Traffic, rng: Random, stopAt: number): Promise<void> {
  while (traffic.now() < stopAt) {
    const kind = rng.pick(KINDS)!;
    const { path, init } = kind.init();
    await traffic.send(`${MALFORMED_PREFIX}${kind.name}`, path, init);
    await new Promise((resolve) => setTimeout(resolve, rng.int(150, 450)));
  }
}
