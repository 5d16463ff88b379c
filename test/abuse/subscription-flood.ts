import { createInterface } from "node:readline";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

/**
 * The attacker of the subscription flood, in its own process so that the
 * API's memory is measured without the attacker's (test/abuse/realtime.test.ts).
 *
 *   node subscription-flood.ts <url> <authorization> <address> <ticketId> <sockets> <perSocket>
 *
 * Opens the sockets (claiming <address> through X-Forwarded-For), tries
 * <perSocket> ticketChanged subscriptions on each, and prints one JSON line
 * once every attempt is answered: `{ live, refused, other }`. Each "report"
 * line on stdin prints `{ events }`, the events received after SUBSCRIBED;
 * the end of stdin closes everything and exits.
 */
const [url, authorization, address, ticketId, socketCount, perSocket] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];

class ForwardedWebSocket extends WebSocket {
  constructor(target: string | URL | null, protocols?: string | string[]) {
    super(target as string | URL, protocols, { headers: { "X-Forwarded-For": address } });
  }
}

const query = "subscription ($id: UUID!) { ticketChanged(ticketId: $id) { kind ticket { rowId } comment { body } } }";
let live = 0;
let refused = 0;
let other = 0;
let events = 0;
const otherReasons: string[] = [];

function codeOf(errors: unknown): string | undefined {
  return Array.isArray(errors)
    ? (errors[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code
    : undefined;
}

// All sockets first (connection_init answered), then the subscriptions.
const clients = await Promise.all(
  Array.from(
    { length: Number(socketCount) },
    () =>
      new Promise<Client>((resolve, reject) => {
        const client: Client = createClient({
          url,
          webSocketImpl: ForwardedWebSocket,
          connectionParams: { authorization },
          retryAttempts: 0,
          lazy: false,
          onNonLazyError: reject,
          on: { connected: () => resolve(client) },
        });
      }),
  ),
);

const answers = clients.flatMap((client) =>
  Array.from(
    { length: Number(perSocket) },
    () =>
      new Promise<void>((answered) => {
        let subscribed = false;
        const settle = (outcome: "live" | "refused" | "other") => {
          if (subscribed) return;
          subscribed = true;
          if (outcome === "live") live += 1;
          else if (outcome === "refused") refused += 1;
          else other += 1;
          answered();
        };
        client.subscribe(
          { query, variables: { id: ticketId } },
          {
            next: (result) => {
              // A refusal raised while subscribing arrives as a result with errors, then complete.
              if (result.errors && codeOf(result.errors) !== "TOO_MANY_SUBSCRIPTIONS")
                otherReasons.push(JSON.stringify(result.errors));
              if (result.errors) settle(codeOf(result.errors) === "TOO_MANY_SUBSCRIPTIONS" ? "refused" : "other");
              else if (!subscribed) settle("live");
              else events += 1;
            },
            error: (error) => {
              if (codeOf(error) !== "TOO_MANY_SUBSCRIPTIONS" && !subscribed) otherReasons.push(JSON.stringify(error));
              settle(codeOf(error) === "TOO_MANY_SUBSCRIPTIONS" ? "refused" : "other");
            },
            complete: () => {
              if (!subscribed) otherReasons.push("complete");
              settle("other");
            },
          },
        );
      }),
  ),
);

await Promise.all(answers);
if (otherReasons.length > 0) console.error(otherReasons.slice(0, 3));
console.log(JSON.stringify({ live, refused, other }));

const input = createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (line.trim() === "report") console.log(JSON.stringify({ events }));
});
input.on("close", () => {
  void Promise.all(clients.map((client) => client.dispose())).then(() => process.exit(0));
});
