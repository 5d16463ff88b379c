import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { pino } from "pino";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, type ServerProcess } from "../../bench/processes.ts";
import { freePort } from "../../src/net/free-port.ts";
import { DEFAULT_DOCUMENT_LIMITS } from "../../src/graphql/document-limits.ts";
import { createApiServer } from "../../src/http/api-server.ts";
import { connect, type Connection } from "../realtime/realtime-helpers.ts";
import { makeUser } from "../support/fixtures.ts";
import { bearer, TEST_JWT, testAppConfig } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { wsRequest } from "../support/ws-request.ts";

/**
 * The document attacks of the abuse report, replayed against a running
 * production-mode API (`npm start` with NODE_ENV=production, its own
 * process) over real HTTP and websockets. Each shows the attack refused or
 * bounded: the answer's status and code, its size, the time to refusal, the
 * API process's resident memory before and after (growth under 40 MiB),
 * its peak during the attack, and /healthz answering throughout. Each attack
 * prints one line of measurements.
 *
 * Memory is read from /proc after a full garbage collection of the API,
 * requested through its inspector (the process runs with `--inspect` on a
 * loopback port): a process that has just parsed 60 MB of request bodies
 * holds them as garbage until its next major collection, which says nothing
 * about what it keeps.
 */
const database = useTestDatabase();
const limits = DEFAULT_DOCUMENT_LIMITS;
let server: ServerProcess;
let base: string;
let port: number;
let customerToken: string;
let socket: Connection;
let inspector: WebSocket;
let inspectorCalls = 0;

/** The API process's resident memory, in MiB, from /proc. */
function apiResidentMiB(): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** A full garbage collection in the API process, through the inspector protocol. */
function collectGarbage(): Promise<void> {
  const id = ++inspectorCalls;
  return new Promise((resolve) => {
    const answered = (data: WebSocket.RawData) => {
      if ((JSON.parse(String(data)) as { id?: number }).id !== id) return;
      inspector.off("message", answered);
      resolve();
    };
    inspector.on("message", answered);
    inspector.send(JSON.stringify({ id, method: "HeapProfiler.collectGarbage" }));
  });
}

// Production serves /metrics only behind a token (docs/security.md, "Time and connections").
const METRICS_TOKEN = "metrics-token-for-the-abuse-suite";

beforeAll(async () => {
  port = await freePort();
  const inspectorPort = await freePort();
  server = await startApi({
    databaseUrl: database.current.urls.authenticator,
    jwtSecret: TEST_JWT.secret,
    port,
    poolSize: 4,
    logLevel: "silent",
    nodeArgs: [`--inspect=127.0.0.1:${inspectorPort}`],
    metricsToken: METRICS_TOKEN,
  });
  base = server.baseUrl;
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  inspector = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => inspector.once("open", resolve).once("error", reject));
  const customerId = await makeUser(database.current.owner, "Flooding Customer", "customer");
  customerToken = bearer(customerId, "ticketing_customer");
  // The customer of the report, with 1,000 tickets.
  await database.current.owner.query(
    `insert into app_public.tickets (subject, description, customer_id)
     select 'Flood ' || n, 'x', $1 from generate_series(1, 1000) as n`,
    [customerId],
  );
  socket = connect(port, customerToken);
});

afterAll(async () => {
  await socket?.client.dispose();
  inspector?.close();
  await server?.stop();
});

interface Answer {
  status: number;
  bytes: number;
  body: any;
}

async function post(body: unknown, authorization?: string): Promise<Answer> {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
}

/** 48,000 aliases: about 900 KB, under the 1 MB body limit, as in the report. */
const LARGE_ALIASES = 48_000;

interface Measured {
  elapsedMs: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssGrowthMiB: number;
  healthChecks: number;
  healthFailures: number;
  slowestHealthMs: number;
}

/** Runs `attack` while /healthz is polled and the API's memory sampled; checks and prints the measurements. */
async function underAttack(name: string, attack: () => Promise<void>): Promise<Measured> {
  await collectGarbage();
  const rssBefore = apiResidentMiB();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, apiResidentMiB())), 100);
  let attacking = true;
  let healthChecks = 0;
  let healthFailures = 0;
  let slowestHealthMs = 0;
  const health = (async () => {
    while (attacking) {
      const started = performance.now();
      try {
        const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (response.status !== 200) healthFailures++;
      } catch {
        healthFailures++;
      }
      healthChecks++;
      slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  const started = performance.now();
  try {
    await attack();
  } finally {
    attacking = false;
    clearInterval(sampler);
    await health;
  }
  const elapsedMs = Math.round(performance.now() - started);
  await collectGarbage();
  const measured = {
    elapsedMs,
    rssBeforeMiB: Math.round(rssBefore),
    rssPeakMiB: Math.round(rssPeak),
    rssGrowthMiB: Math.round((apiResidentMiB() - rssBefore) * 10) / 10,
    healthChecks,
    healthFailures,
    slowestHealthMs: Math.round(slowestHealthMs),
  };
  console.log(`[abuse] ${name}: ${JSON.stringify(measured)}`);
  expect(measured.rssGrowthMiB).toBeLessThan(40);
  expect(healthFailures).toBe(0);
  expect(healthChecks).toBeGreaterThan(0);
  return measured;
}

/** Runs `work` for each index with `concurrency` in flight. */
async function inParallel(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

function aliases(count: number, salt: string): string {
  const fields: string[] = [];
  for (let index = 0; index < count; index++) fields.push(`a${index}: __typename`);
  return `query Q${salt} { ${fields.join(" ")} }`;
}

function fragmentDoubling(levels: number, salt: string): string {
  const fragments = [`fragment F0 on Query { __typename }`];
  for (let level = 1; level <= levels; level++)
    fragments.push(`fragment F${level} on Query { ...F${level - 1} ...F${level - 1} }`);
  return `query D${salt} { ...F${levels} } ${fragments.join(" ")}`;
}

const NESTED_CUSTOMER_TICKETS = `{ currentUser { ticketsByCustomerId { nodes { customer { ticketsByCustomerId { nodes {
  customer { ticketsByCustomerId { nodes { rowId subject } } } } } } } } } }`;

describe("documents over HTTP", () => {
  it("69 distinct ~900 KB documents are refused by size before parsing", async () => {
    const size = Buffer.byteLength(aliases(LARGE_ALIASES, "68"));
    expect(size).toBeGreaterThan(850_000);
    expect(size).toBeLessThan(1_000_000);
    const answers: Answer[] = [];
    await underAttack("69 × 900 KB aliases", () =>
      inParallel(69, 4, async (index) => {
        answers.push(await post({ query: aliases(LARGE_ALIASES, String(index)) }));
      }),
    );
    expect(answers).toHaveLength(69);
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body.errors[0].extensions.code).toBe("QUERY_TOO_COMPLEX");
      expect(answer.bytes).toBeLessThan(400);
    }
  });

  it("fragment doubling 30 levels deep is refused without running validation", async () => {
    const answers: Answer[] = [];
    const measured = await underAttack("fragment doubling × 50", () =>
      inParallel(50, 4, async (index) => {
        answers.push(await post({ query: fragmentDoubling(30, String(index)) }));
      }),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body.errors[0].extensions.code).toBe("QUERY_TOO_COMPLEX");
    }
    // Validation took 4–11 s per variant before; generous bound for a loaded machine.
    expect(measured.elapsedMs).toBeLessThan(20_000);
  });

  it("16k aliases are refused (size), and so are the aliases that fit in the size limit (tokens)", async () => {
    const answers: Answer[] = [];
    expect(Buffer.byteLength(aliases(1_500, "39"))).toBeLessThan(limits.maxDocumentBytes);
    await underAttack("16k aliases × 20, 1.5k aliases × 20", () =>
      inParallel(40, 4, async (index) => {
        answers.push(await post({ query: aliases(index < 20 ? 16_000 : 1_500, String(index)) }));
      }),
    );
    for (const answer of answers) expect(answer.body.errors[0].extensions.code).toBe("QUERY_TOO_COMPLEX");
    expect(answers.some((answer) => answer.body.errors[0].message.includes("tokens"))).toBe(true);
  });

  it("the Relay root field nested deeper than the limit is refused with 400, not an internal error", async () => {
    const depth = 500;
    const answer = await post({ query: `${"{ query ".repeat(depth)}{ __typename }${" }".repeat(depth)}` });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].extensions.code).toBe("QUERY_TOO_COMPLEX");
  });

  it("a customer's nested customer→tickets lists are refused by cost; one level reads one page", async () => {
    let nested: Answer | undefined;
    let flat: Answer | undefined;
    await underAttack("nested customer→tickets", async () => {
      nested = await post({ query: NESTED_CUSTOMER_TICKETS }, customerToken);
      flat = await post({ query: "{ tickets { nodes { rowId subject } } }" }, customerToken);
    });
    expect(nested!.status).toBe(400);
    expect(nested!.body.errors[0].extensions.code).toBe("QUERY_TOO_COMPLEX");
    expect(flat!.status).toBe(200);
    expect(flat!.body.data.tickets.nodes).toHaveLength(limits.defaultPageSize);
  });

  it("tickets(first: 1000000) is refused with PAGE_TOO_LARGE, literal or variable", async () => {
    const literal = await post({ query: "{ tickets(first: 1000000) { nodes { rowId } } }" }, customerToken);
    expect(literal.status).toBe(400);
    expect(literal.body.errors[0].extensions.code).toBe("PAGE_TOO_LARGE");
    const variable = await post(
      { query: "query P($n: Int) { tickets(first: $n) { nodes { rowId } } }", variables: { n: 1_000_000 } },
      customerToken,
    );
    expect(variable.body.errors[0].extensions.code).toBe("PAGE_TOO_LARGE");
  });

  // Each distinct name is a distinct document to parse, validate and plan (milliseconds each):
  // 1,000 keep the test short on a shared machine; the series count does not depend on how many.
  it("1,000 distinct operation names make one metrics series, not 1,000", { timeout: 90_000 }, async () => {
    await underAttack("1k operation names", () =>
      inParallel(1_000, 4, async (index) => {
        const answer = await post({ query: `query Op${index} { __typename }` });
        if (answer.status !== 200) throw new Error(`request ${index} answered ${answer.status}`);
      }),
    );
    const scrape = await (
      await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })
    ).text();
    const series = scrape.split("\n").filter((line) => line.startsWith("graphql_operations_total{"));
    console.log(`[abuse] 1k operation names: ${series.length} series, scrape ${Buffer.byteLength(scrape)} bytes`);
    expect(series.length).toBeLessThan(10);
    expect(scrape).toMatch(
      /graphql_operations_total\{operation_name="other",operation_type="query",outcome="success"\} (\d+)/,
    );
    expect(Buffer.byteLength(scrape)).toBeLessThan(100_000);
  });
});

describe("documents over websocket", () => {
  it("the same documents are refused with the same codes", async () => {
    const results: Record<string, string | undefined> = {};
    await underAttack("websocket: 900 KB, doubling, 16k aliases, deep, nested lists, huge page", async () => {
      const attacks: Record<string, string> = {
        size: aliases(LARGE_ALIASES, "ws"),
        doubling: fragmentDoubling(30, "ws"),
        aliases: aliases(16_000, "ws2"),
        deep: `${"{ query ".repeat(100)}{ __typename }${" }".repeat(100)}`,
        nested: NESTED_CUSTOMER_TICKETS,
        page: "{ tickets(first: 1000000) { nodes { rowId } } }",
      };
      for (const [name, query] of Object.entries(attacks)) {
        const result = await wsRequest(socket.client, { query });
        results[name] = result.errors?.[0]?.extensions?.code;
      }
    });
    expect(results).toEqual({
      size: "QUERY_TOO_COMPLEX",
      doubling: "QUERY_TOO_COMPLEX",
      aliases: "QUERY_TOO_COMPLEX",
      deep: "QUERY_TOO_COMPLEX",
      nested: "QUERY_TOO_COMPLEX",
      page: "PAGE_TOO_LARGE",
    });
    // The socket stays usable for ordinary work.
    const ordinary = await wsRequest(socket.client, { query: "{ tickets(first: 5) { nodes { rowId } } }" });
    expect(ordinary.data?.tickets.nodes).toHaveLength(5);
  });
});

describe("caches under distinct documents", () => {
  it("150 documents at the limits, each different, leave memory within the cache budget", {
    timeout: 60_000,
  }, async () => {
    // About 980 tokens and 245 fields each: inside every limit, so parsed, validated, planned and cached.
    const within = (index: number) =>
      `query C${index} { ${Array.from({ length: 245 }, (_, field) => `f${field}: __typename`).join(" ")} }`;
    expect(Buffer.byteLength(within(149))).toBeLessThan(limits.maxDocumentBytes);
    const answers: Answer[] = [];
    // Before the caches were bounded by size, each of these held about 1.5 MiB.
    await underAttack("150 distinct documents at the limits", () =>
      inParallel(150, 4, async (index) => {
        answers.push(await post({ query: within(index) }));
      }),
    );
    expect(answers.filter((answer) => answer.status !== 200 || answer.body.errors)).toEqual([]);
  });
});

describe("logs under a flood of refused documents", () => {
  it("2,000 refusals write a few sampled warnings, not one line each", { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const local = await createApiServer(
      testAppConfig(database.current.urls.authenticator, { production: true, graphiql: false, logLevel: "warn" }),
      pino({ level: "warn" }, sink),
    );
    const { port: localPort } = await local.listen();
    try {
      // The first of them arrive while the schema is still being built: they wait for it, and are checked.
      await inParallel(2_000, 8, async (index) => {
        const response = await fetch(`http://127.0.0.1:${localPort}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: fragmentDoubling(20, String(index)) }),
        });
        expect(response.status).toBe(400);
        await response.arrayBuffer();
      });
      const bytes = lines.reduce((total, line) => total + Buffer.byteLength(line), 0);
      console.log(`[abuse] 2,000 refusals: ${lines.length} log lines, ${bytes} bytes`);
      expect(lines.length).toBeLessThanOrEqual(12);
      expect(bytes).toBeLessThan(10_000);
    } finally {
      await local.close();
    }
  });
});
