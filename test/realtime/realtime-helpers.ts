import jwt from "jsonwebtoken";
import { afterEach, beforeAll } from "vitest";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { WebRole } from "../../src/database/web-roles.ts";
import { ROLE, rowsOf, runAs } from "../support/fixtures.ts";
import type { TestDatabase } from "../support/test-database.ts";
import { bearer, TEST_JWT, type TestApi } from "../support/test-api.ts";

/** A real graphql-ws client against the running test API, and fixtures for the realtime tests. */
export interface TicketEventData {
  kind: string;
  ticketId: string | null;
  ticket: { rowId: string; status: string; agentId: string | null; subject: string } | null;
  comment: { rowId: string; body: string; isInternal: boolean } | null;
  /** Where the event is in the event log: `after` resumes from here. */
  cursor: string;
}

const EVENT_FIELDS = "kind ticketId ticket { rowId status agentId subject } comment { rowId body isInternal } cursor";
export const TICKET_CHANGED = `subscription TicketChanged($id: UUID!) { ticketChanged(ticketId: $id) { ${EVENT_FIELDS} } }`;
export const MY_QUEUE = `subscription MyQueue { myQueueChanged { ${EVENT_FIELDS} } }`;
export const MY_TICKETS = `subscription MyTickets { myTicketsChanged { ${EVENT_FIELDS} } }`;
/** The same subscriptions resuming after a cursor (`$after`). */
export const TICKET_CHANGED_AFTER = `subscription TicketChanged($id: UUID!, $after: Cursor) { ticketChanged(ticketId: $id, after: $after) { ${EVENT_FIELDS} } }`;
export const MY_QUEUE_AFTER = `subscription MyQueue($after: Cursor) { myQueueChanged(after: $after) { ${EVENT_FIELDS} } }`;
export const MY_TICKETS_AFTER = `subscription MyTickets($after: Cursor) { myTicketsChanged(after: $after) { ${EVENT_FIELDS} } }`;

export interface Closed {
  code: number;
  reason: string;
}

export interface Connection {
  client: Client;
  /** Resolves when the socket closes, with its close code and reason. */
  closed: Promise<Closed>;
}

/** A ws client that says it speaks for `address` (X-Forwarded-For; the API must trust loopback proxies). */
export function websocketFrom(address: string) {
  return class extends WebSocket {
    constructor(url: string | URL | null, protocols?: string | string[]) {
      super(url as string | URL, protocols, { headers: { "X-Forwarded-For": address } });
    }
  };
}

export function connect(port: number, authorization?: string, address?: string): Connection {
  let onClosed: (closed: Closed) => void = () => undefined;
  const closed = new Promise<Closed>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: `ws://127.0.0.1:${port}/graphql`,
    webSocketImpl: address ? websocketFrom(address) : WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string | Buffer };
        onClosed({ code, reason: String(reason) });
      },
    },
  });
  return { client, closed };
}

export interface Sockets {
  /** The test API's port (once its file's tests run). */
  readonly port: number;
  /** A graphql-ws connection, closed after the test. */
  connect(authorization?: string, address?: string): Connection;
  /** `query` subscribed on a connection of its own, as the user with a token of `role`; what it receives is recorded. */
  subscribe(
    userId: string,
    role: "customer" | "agent" | "admin",
    query: string,
    variables?: Record<string, unknown>,
  ): Recorder;
  /** Closes every connection opened so far. */
  disposeAll(): Promise<void>;
}

/**
 * The websocket side of a file's test API: it listens before the file's
 * tests, and every connection opened through `connect` is closed after
 * each test.
 */
export function useSockets(api: { readonly current: TestApi }): Sockets {
  let port = 0;
  const open: Connection[] = [];
  const disposeAll = async () => {
    await Promise.all(open.splice(0).map((connection) => connection.client.dispose()));
  };
  beforeAll(async () => {
    port = (await api.current.api.listen()).port;
  });
  afterEach(disposeAll);
  return {
    get port() {
      return port;
    },
    connect(authorization, address) {
      const connection = connect(port, authorization, address);
      open.push(connection);
      return connection;
    },
    subscribe(userId, role, query, variables = {}) {
      return new Recorder(this.connect(bearer(userId, `ticketing_${role}`)), query, variables);
    },
    disposeAll,
  };
}

/** Records what one subscription receives, with the time each event arrived. */
export class Recorder {
  readonly events: TicketEventData[] = [];
  readonly arrivals: number[] = [];
  readonly errors: unknown[] = [];
  completed = false;
  private listeners: (() => void)[] = [];
  readonly unsubscribe: () => void;

  constructor(connection: Connection, query: string, variables: Record<string, unknown> = {}) {
    this.unsubscribe = connection.client.subscribe<Record<string, TicketEventData>>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) this.errors.push(...result.errors);
          const event = result.data ? Object.values(result.data)[0] : undefined;
          if (event) {
            this.events.push(event);
            this.arrivals.push(performance.now());
          }
          this.notify();
        },
        error: (error) => {
          // graphql-ws reports a refused operation as its list of GraphQL errors.
          if (Array.isArray(error)) this.errors.push(...(error as unknown[]));
          else this.errors.push(error);
          this.notify();
        },
        complete: () => {
          this.completed = true;
          this.notify();
        },
      },
    );
  }

  kinds(): string[] {
    return this.events.map((event) => event.kind);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /**
   * Waits until the subscription is live: SUBSCRIBED has arrived (after any
   * replayed events), or it ended (an error, or completion).
   */
  live(ms = 10_000): Promise<void> {
    return this.until(
      () => this.kinds().includes("SUBSCRIBED") || this.errors.length > 0 || this.completed,
      ms,
      "SUBSCRIBED",
    );
  }

  /** Waits until `done()` holds, failing after `ms`. */
  until(done: () => boolean, ms: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(
          new Error(
            `timed out after ${ms} ms waiting for ${what}; got ${JSON.stringify(this.kinds())}, errors ${JSON.stringify(this.errors)}`,
          ),
        );
      }, ms);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve();
      };
      this.listeners.push(check);
    });
  }

  /**
   * Waits for the event count to reach `count` within `ms`. The deadline only
   * bounds a failing wait (a passing one returns as soon as the events are
   * there); it is generous because a loaded machine delays delivery.
   */
  untilCount(count: number, ms = 10_000): Promise<void> {
    return this.until(() => this.events.length >= count, ms, `${count} events`);
  }

  /**
   * The subscription is live once SUBSCRIBED arrived: every later change is
   * delivered. A fresh API's first subscription (websocket, token, LISTEN,
   * routes) can take seconds on a loaded machine; the deadline only bounds a
   * failing wait.
   */
  ready(ms = 15_000): Promise<void> {
    return this.until(() => this.events.length > 0 || this.errors.length > 0 || this.completed, ms, "SUBSCRIBED");
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Files a ticket as the customer through the real insert path; returns its id. */
export async function createTicket(database: TestDatabase, customerId: string, subject: string): Promise<string> {
  const rows = rowsOf(
    await runAs(
      database.authenticator,
      ROLE.customer,
      customerId,
      "insert into app_public.tickets (subject, description) values ($1, 'details') returning id",
      [subject],
    ),
  );
  return rows[0]!.id as string;
}

/** An access token signed with the test key, with any expiry (seconds from now, may be negative). */
export function tokenExpiringIn(userId: string, role: WebRole, seconds: number, secret = TEST_JWT.secret): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ role, iat: now - 60, exp: now + seconds }, secret, {
    algorithm: "HS256",
    subject: userId,
    issuer: TEST_JWT.issuer,
    audience: TEST_JWT.audience,
  });
}
