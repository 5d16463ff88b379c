import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signAccessToken } from "../../src/auth/access-tokens.ts";
import { createUserAccount } from "../../src/auth/auth-store.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { ANALYST_LIMITS, createAnalystLogin } from "../../src/database/analyst-roles.ts";
import { ROLE, type UserRole } from "../../src/database/web-roles.ts";
import { connect, MY_TICKETS, MY_TICKETS_AFTER, Recorder } from "../realtime/realtime-helpers.ts";
import { startReceiver } from "../webhooks/webhook-helpers.ts";
import { seededRandom } from "../support/seeded-random.ts";
import type { CliProcess } from "../support/cli-process.ts";
import {
  type ApiInstance,
  type Cluster,
  JWT_SECRET,
  replicaCaughtUp,
  startApi,
  startCluster,
  startWorker,
} from "./cluster-harness.ts";

/**
 * Two API instances behind no balancer but the test itself, through
 * PgBouncer (transaction mode) to one primary, with a streaming replica and
 * a job worker: every limit and guarantee that must hold across instances
 * is kept in PostgreSQL, so it holds whichever instance a client reaches.
 */
let cluster: Cluster;
let a: ApiInstance;
let b: ApiInstance;
let worker: CliProcess;
let owner: pg.Pool;

const PASSWORD = "violet-harbour-lantern-42";
const JWT = { secret: JWT_SECRET, issuer: "ticketing-api", audience: "ticketing-clients", accessTokenSeconds: 900 };

beforeAll(async () => {
  cluster = await startCluster();
  owner = new pg.Pool({ connectionString: cluster.urls.owner, max: 4 });
  const direct = cluster.urls.authenticator;
  [a, b] = await Promise.all([
    startApi("A", { pooled: cluster.pooledUrl, direct }),
    startApi("B", { pooled: cluster.pooledUrl, direct }),
  ]);
  worker = await startWorker(cluster.urls.owner);
});

afterAll(async () => {
  for (const instance of [a, b]) {
    if (instance && instance.cli.child.exitCode === null && instance.cli.child.signalCode === null) {
      instance.cli.interrupt();
      await instance.cli.exited;
    }
  }
  if (worker) {
    worker.interrupt();
    await worker.exited;
  }
  await owner?.end();
  await cluster?.stop();
});

interface GraphqlAnswer {
  status: number;
  body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

async function graphql(
  instance: ApiInstance,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphqlAnswer> {
  const response = await fetch(`${instance.url}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphqlAnswer["body"] };
}

function bearer(userId: string, role: UserRole): Record<string, string> {
  return { Authorization: `Bearer ${signAccessToken(JWT, { userId, role: ROLE[role] }).token}` };
}

const passwordHash = hashPassword(PASSWORD);

async function account(email: string, role: UserRole): Promise<string> {
  const { id } = await createUserAccount(owner, {
    email,
    role,
    displayName: email.split("@")[0]!,
    passwordHash: await passwordHash,
  });
  return id;
}

const SESSION = "accessToken refreshToken user { rowId }";
const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) { ${SESSION} } }`;
const REFRESH = `mutation Refresh($input: RefreshSessionInput!) { refreshSession(input: $input) { ${SESSION} } }`;
const CREATE_TICKET = `mutation Create($subject: String!) { createTicket(input: { ticket: { subject: $subject, description: "x" } }) { ticket { rowId } } }`;
const TAKE_NEXT = "mutation { takeNextTicket { ticket { rowId } } }";

describe("through PgBouncer in transaction mode", () => {
  it("both instances serve GraphQL, and PostGraphile's statements reach PostgreSQL", async () => {
    const customer = await account("first@example.com", "customer");
    for (const instance of [a, b]) {
      const answer = await graphql(instance, "{ currentUser { rowId } }", {}, bearer(customer, "customer"));
      expect(answer.body).toEqual({ data: { currentUser: { rowId: customer } } });
    }
  });
});

describe("one deployment, whichever instance a client reaches", () => {
  it("a customer logs in on A and refreshes on B; the rotated token is spent on both", async () => {
    await account("roaming@example.com", "customer");
    const login = await graphql(a, LOGIN, { input: { email: "roaming@example.com", password: PASSWORD } });
    const session = login.body.data?.login;
    expect(session?.refreshToken).toEqual(expect.any(String));
    const refreshed = await graphql(b, REFRESH, { input: { refreshToken: session.refreshToken } });
    expect(refreshed.body.data?.refreshSession?.user).toEqual(session.user);
    // The first token was rotated on B: presenting it again on A is a reuse, refused.
    const reused = await graphql(a, REFRESH, { input: { refreshToken: session.refreshToken } });
    expect(reused.body.errors?.[0]?.extensions?.code).toBe("TOKEN_REUSED");
    // A reuse ends the whole session, on every instance: B's rotated token is refused too.
    const after = await graphql(b, REFRESH, {
      input: { refreshToken: refreshed.body.data?.refreshSession.refreshToken },
    });
    expect(after.body.data?.refreshSession ?? null).toBeNull();
  });

  it("the login limit per email counts the attempts made on both instances", async () => {
    await account("popular@example.com", "customer");
    const { rows } = await owner.query<{ max_count: number }>(
      "select max_count from app_private.address_rate_limits where action = 'login_email'",
    );
    // The default is 10 per 15 minutes; 3 shows the same rule with fewer hashes.
    await owner.query("update app_private.address_rate_limits set max_count = 3 where action = 'login_email'");
    try {
      const codes: Array<string | undefined> = [];
      for (const [index, instance] of [a, b, a, b].entries()) {
        const answer = await graphql(
          instance,
          LOGIN,
          { input: { email: "popular@example.com", password: `wrong-password-${index}` } },
          { "X-Forwarded-For": `198.51.100.${10 + index}` },
        );
        codes.push(answer.body.errors?.[0]?.extensions?.code);
      }
      expect(codes).toEqual(["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"]);
    } finally {
      await owner.query("update app_private.address_rate_limits set max_count = $1 where action = 'login_email'", [
        rows[0]!.max_count,
      ]);
    }
  });

  it("a subscription on A hears a change made on B", async () => {
    const customer = await account("listener@example.com", "customer");
    const agent = await account("speaker@example.com", "agent");
    const connection = connect(a.port, bearer(customer, "customer").Authorization);
    try {
      const recorder = new Recorder(connection, MY_TICKETS);
      await recorder.ready(20_000);
      expect(recorder.kinds()).toEqual(["SUBSCRIBED"]);
      const created = await graphql(
        b,
        CREATE_TICKET,
        { subject: "Heard across instances" },
        bearer(customer, "customer"),
      );
      const ticketId = created.body.data?.createTicket.ticket.rowId as string;
      const taken = await graphql(b, TAKE_NEXT, {}, bearer(agent, "agent"));
      expect(taken.body.data?.takeNextTicket.ticket.rowId).toBe(ticketId);
      await recorder.until(() => recorder.kinds().includes("ASSIGNED"), 20_000, "the assignment made on B");
      expect(
        recorder.events.filter((event) => event.kind !== "SUBSCRIBED").every((event) => event.ticketId === ticketId),
      ).toBe(true);
      expect(recorder.kinds().slice(0, 2)).toEqual(["SUBSCRIBED", "CREATED"]);
      recorder.unsubscribe();
    } finally {
      await connection.client.dispose();
    }
  });

  it("12 agents spread over both instances drain the queue, no ticket taken twice", async () => {
    const customer = await account("queue-customer@example.com", "customer");
    const tickets = 120;
    await owner.query(
      `insert into app_public.tickets (subject, description, customer_id, status)
       select 'Queued ' || n, 'x', $1, 'open' from generate_series(1, $2) as n`,
      [customer, tickets],
    );
    const agents = await Promise.all(
      Array.from({ length: 12 }, (_, n) => account(`queue-agent-${n}@example.com`, "agent")),
    );
    const taken = new Map<string, string[]>();
    await Promise.all(
      agents.map(async (agent, n) => {
        const instance = n % 2 === 0 ? a : b;
        const mine: string[] = [];
        taken.set(agent, mine);
        for (;;) {
          const answer = await graphql(instance, TAKE_NEXT, {}, bearer(agent, "agent"));
          expect(answer.body.errors).toBeUndefined();
          const ticket = answer.body.data?.takeNextTicket?.ticket;
          if (!ticket) return;
          mine.push(ticket.rowId);
        }
      }),
    );
    const all = [...taken.values()].flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(tickets);
    const { rows } = await owner.query<{ id: string; agent_id: string }>(
      "select id, agent_id from app_public.tickets where customer_id = $1 and status = 'in_progress'",
      [customer],
    );
    expect(rows).toHaveLength(tickets);
    for (const row of rows) expect(taken.get(row.agent_id)).toContain(row.id);
  });

  it("the worker delivers, once each, the webhooks of tickets created on either instance", async () => {
    const receiver = await startReceiver();
    try {
      const admin = await account("hooks-admin@example.com", "admin");
      const customer = await account("hooks-customer@example.com", "customer");
      const endpoint = await graphql(
        b,
        `mutation ($url: String!) { createWebhookEndpoint(input: { url: $url, eventKinds: ["ticket.created"] }) { created { secret } } }`,
        { url: receiver.url("/hooks") },
        bearer(admin, "admin"),
      );
      expect(endpoint.body.errors).toBeUndefined();
      const ids: string[] = [];
      for (const instance of [a, b, a, b]) {
        const created = await graphql(
          instance,
          CREATE_TICKET,
          { subject: `Hooked on ${instance.name}` },
          bearer(customer, "customer"),
        );
        ids.push(created.body.data?.createTicket.ticket.rowId as string);
      }
      await eventually(async () => receiver.received.length >= ids.length, "four deliveries");
      expect(new Set(receiver.received.map((entry) => entry.headers["webhook-id"])).size).toBe(ids.length);
      const bodies = receiver.received.map((entry) => entry.body).join("\n");
      for (const id of ids) expect(bodies).toContain(id);
    } finally {
      await receiver.close();
    }
  });

  it("analysts read the replica: a row written on the primary becomes readable there by an analyst login", async () => {
    const login = await withRootClient((root) =>
      createAnalystLogin(root, { name: "cluster_reader", databaseUrl: cluster.urls.owner }),
    );
    // Made on the primary (a replica is read-only), used on the replica: `analyst:create --host/--port`.
    const onReplica = new URL(login.connectionString);
    onReplica.port = String(cluster.replica.port);
    const customer = await account("reported@example.com", "customer");
    const created = await graphql(
      a,
      CREATE_TICKET,
      { subject: "Reported from the replica" },
      bearer(customer, "customer"),
    );
    const ticketId = created.body.data?.createTicket.ticket.rowId as string;
    await replicaCaughtUp(cluster);
    const analyst = new pg.Client({ connectionString: onReplica.toString() });
    await analyst.connect();
    try {
      const { rows } = await analyst.query<{ recovery: boolean; customer_id: string; status: string }>(
        "select pg_is_in_recovery() as recovery, customer_id, status from app_reporting.tickets where id = $1",
        [ticketId],
      );
      expect(rows).toEqual([{ recovery: true, customer_id: customer, status: "open" }]);
      // The login's own settings replicated with it: the limits hold on the replica too.
      const settings = await analyst.query<{ statement_timeout: string }>("show statement_timeout");
      expect(settings.rows[0]!.statement_timeout).toBe(ANALYST_LIMITS.statementTimeout);
      const write = await analyst.query("create temporary table t (x int)").then(
        () => "ok",
        (error: { code?: string }) => error.code,
      );
      expect(write).toBe("25006");
    } finally {
      await analyst.end();
    }
  });
});

/**
 * Creates `perCustomer` tickets for each customer, each on A or B at random
 * (seeded); a request that fails on `fallible` (being stopped) is retried on
 * the other, as a load balancer would. `after(acknowledged)` runs after each
 * answer. Returns the acknowledged tickets, id to subject.
 */
async function createLoad(
  customers: string[],
  perCustomer: number,
  options: { seed: number; fallible: () => ApiInstance | undefined; after: (acknowledged: number) => void },
): Promise<Map<string, string>> {
  const random = seededRandom(options.seed);
  const acknowledged = new Map<string, string>();
  let attempts = 0;
  await Promise.all(
    customers.map(async (customer, n) => {
      let done = 0;
      while (done < perCustomer) {
        const down = options.fallible();
        const pick = random() < 0.5 ? a : b;
        const instance = pick === down ? (pick === a ? b : a) : pick;
        const subject = `Load ${options.seed}-${n}-${attempts++}`;
        try {
          const answer = await graphql(instance, CREATE_TICKET, { subject }, bearer(customer, "customer"));
          const id = answer.body.data?.createTicket?.ticket.rowId as string | undefined;
          if (!id) throw new Error(JSON.stringify(answer.body));
          acknowledged.set(id, subject);
          done += 1;
        } catch (error) {
          // Only an instance being stopped may fail a request (refused, reset, or 503 while draining).
          if (instance !== options.fallible()) throw error;
        }
        options.after(acknowledged.size);
      }
    }),
  );
  return acknowledged;
}

async function expectAllStored(acknowledged: Map<string, string>): Promise<void> {
  const { rows } = await owner.query<{ id: string; subject: string }>(
    "select id, subject from app_public.tickets where id = any($1::uuid[])",
    [[...acknowledged.keys()]],
  );
  expect(new Map(rows.map((row) => [row.id, row.subject]))).toEqual(acknowledged);
}

describe("an instance stops", () => {
  it("drained (SIGTERM), B finishes what it took while A serves on; B's subscriber resumes on A from its cursor", async () => {
    const watcher = await account("drain-watcher@example.com", "customer");
    const onB = connect(b.port, bearer(watcher, "customer").Authorization);
    const first = new Recorder(onB, MY_TICKETS);
    await first.ready(20_000);
    await graphql(a, CREATE_TICKET, { subject: "Before the drain" }, bearer(watcher, "customer"));
    await first.until(() => first.kinds().includes("CREATED"), 20_000, "the ticket created on A");
    const cursor = first.events.at(-1)!.cursor;

    const customers = await Promise.all(
      Array.from({ length: 4 }, (_, n) => account(`drain-${n}@example.com`, "customer")),
    );
    let draining: ApiInstance | undefined;
    const acknowledged = await createLoad(customers, 15, {
      seed: 1,
      fallible: () => draining,
      after: (count) => {
        if (draining || count < 20) return;
        draining = b;
        process.kill(b.cli.child.pid!, "SIGTERM");
      },
    });
    expect(draining).toBe(b);
    // A clean drain: B exits 0, its socket closed with 1001 (going away).
    expect(await b.cli.exited).toBe(0);
    expect((await onB.closed).code).toBe(1001);
    await expectAllStored(acknowledged);

    const missed = await graphql(a, CREATE_TICKET, { subject: "While nobody listened" }, bearer(watcher, "customer"));
    const onA = connect(a.port, bearer(watcher, "customer").Authorization);
    try {
      const resumed = new Recorder(onA, MY_TICKETS_AFTER, { after: cursor });
      await resumed.live(20_000);
      expect(resumed.kinds()).toEqual(["CREATED", "SUBSCRIBED"]);
      expect(resumed.events[0]!.ticketId).toBe(missed.body.data?.createTicket.ticket.rowId);
    } finally {
      await onA.client.dispose();
    }
    // A rolling restart: B comes back for what follows.
    b = await startApi("B", { pooled: cluster.pooledUrl, direct: cluster.urls.authenticator });
  });

  it("SIGKILLed mid-load, the other serves on and nothing acknowledged is lost", async () => {
    const customers = await Promise.all(
      Array.from({ length: 6 }, (_, n) => account(`load-${n}@example.com`, "customer")),
    );
    let killed: ApiInstance | undefined;
    const acknowledged = await createLoad(customers, 25, {
      seed: 21,
      fallible: () => killed,
      after: (count) => {
        if (killed || count < 40) return;
        killed = a;
        process.kill(-a.cli.child.pid!, "SIGKILL");
      },
    });
    expect(killed).toBe(a);
    expect(await a.cli.exited).toBeNull();
    expect(acknowledged.size).toBe(customers.length * 25);
    await expectAllStored(acknowledged);
    // What A was doing when it died is rolled back once PgBouncer sees its clients gone: no transaction is left open.
    await eventually(async () => {
      const { rows: open } = await owner.query(
        "select 1 from pg_stat_activity where state like 'idle in transaction%' and datname = 'ticketing'",
      );
      return open.length === 0;
    }, "no transaction left open");
  });
});

/** Polls `done` until it holds (within a minute: a bound for a broken run, not a timing claim). */
async function eventually(done: () => Promise<boolean>, what: string): Promise<void> {
  await expect.poll(done, { timeout: 60_000, interval: 100, message: what }).toBe(true);
}

async function withRootClient<T>(work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const url = new URL(cluster.urls.owner);
  const root = new URL(cluster.primary.rootUrl);
  root.pathname = url.pathname;
  const client = new pg.Client({ connectionString: root.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
