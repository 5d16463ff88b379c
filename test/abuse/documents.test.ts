import { readFileSync } from "node:fs";
import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startApi, type ServerProcess } from "../../bench/processes.ts";
import { DEFAULT_DOCUMENT_LIMITS } from "../../src/graphql/document-limits.ts";
import { connect, type Connection } from "../realtime/realtime-helpers.ts";
import { makeUser } from "../support/scenario.ts";
import { bearer, startTestApi, TEST_JWT } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { wsRequest } from "../support/ws-request.ts";

/**
 * The document attacks of the abuse report, replayed against a running
 * production-mode API (`npm start` with NODE_ENV=production, its own
 * process) over real HTTP and websockets. Each shows the attack refused or
 * bounded: the answer's status and code, its size, the time to refusal, the
 * API process's resident memory before and after (growth under 40 MiB) and
 * /healthz answering throughout. Each attack prints one line of measurements.
 */
const database = useTestDatabase();
const limits = DEFAULT_DOCUMENT_LIMITS;
const MiB = 1024 * 1024;
let server: ServerProcess;
let base: string;
let port: number;
let customerToken: string;
let socket: Connection;

/** The API process's resident memory, in MiB, from /proc. */
function apiResidentMiB(): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

beforeAll(async () => {
  port = await freePort();
  server = await startApi({
    databaseUrl: database.current.urls.authenticator,
    jwtSecret: TEST_JWT.secret,
    port,
    poolSize: 4,
    logLevel: "silent",
  });
  base = server.baseUrl;
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
  /** Growth of the API's resident memory over each round of the attack. */
  rssGrowthMiB: number[];
  healthChecks: number;
  healthFailures: number;
  slowestHealthMs: number;
}

/**
 * Runs `attack` (`rounds` times, each round with fresh documents) while
 * /healthz is polled, and measures the API's resident memory around each
 * round. A process that has just parsed megabytes of request bodies keeps
 * the freed memory (V8 and malloc do not hand it back at once), so where a
 * first round grows the resident size, the next round of the same attack
 * must not: memory held per document would grow with every round. The last
 * round's growth must stay under 40 MiB, and the first under 160 MiB.
 */
async function underAttack(name: string, attack: (round: number) => Promise<void>, rounds = 1): Promise<Measured> {
  const rssBefore = apiResidentMiB();
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
  const growth: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const roundBefore = apiResidentMiB();
      await attack(round);
      growth.push(Math.round((apiResidentMiB() - roundBefore) * 10) / 10);
    }
  } finally {
    attacking = false;
    await health;
  }
  const measured = {
    elapsedMs: Math.round(performance.now() - started),
    rssBeforeMiB: Math.round(rssBefore),
    rssGrowthMiB: growth,
    healthChecks,
    healthFailures,
    slowestHealthMs: Math.round(slowestHealthMs),
  };
  console.log(`[abuse] ${name}: ${JSON.stringify(measured)}`);
  expect(growth.at(-1)).toBeLessThan(40);
  expect(growth[0]).toBeLessThan(160);
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
  for (let level = 1; level <= levels; level++) fragments.push(`fragment F${level} on Query { ...F${level - 1} ...F${level - 1} }`);
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
    await underAttack(
      "69 × 900 KB aliases, twice",
      (round) =>
        inParallel(69, 4, async (index) => {
          answers.push(await post({ query: aliases(LARGE_ALIASES, `${round}_${index}`) }));
        }),
      2,
    );
    expect(answers).toHaveLength(138);
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
    await underAttack(
      "1k operation names, twice",
      (round) =>
        inParallel(500, 4, async (index) => {
          const answer = await post({ query: `query Op${round}_${index} { __typename }` });
          if (answer.status !== 200) throw new Error(`request ${index} answered ${answer.status}`);
        }),
      2,
    );
    const scrape = await (await fetch(`${base}/metrics`)).text();
    const series = scrape.split("\n").filter((line) => line.startsWith("graphql_operations_total{"));
    console.log(`[abuse] 1k operation names: ${series.length} series, scrape ${Buffer.byteLength(scrape)} bytes`);
    expect(series.length).toBeLessThan(10);
    expect(scrape).toMatch(/graphql_operations_total\{operation_name="other",operation_type="query",outcome="success"\} (\d+)/);
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
  it("documents at the limits, each different, leave the retained heap within the cache budget", { timeout: 60_000 }, async () => {
    // The API in this process, so its heap can be measured after a full collection: the
    // resident size of a process churning through plans also counts garbage not yet returned.
    v8.setFlagsFromString("--expose-gc");
    const collect = vm.runInNewContext("gc") as () => void;
    const retainedMiB = () => {
      collect();
      collect();
      return process.memoryUsage().heapUsed / MiB;
    };
    const local = await startTestApi(database.current, { production: true, graphiql: false });
    const { port: localPort } = await local.api.listen();
    try {
      const send = async (query: string) => {
        const response = await fetch(`http://127.0.0.1:${localPort}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query }),
        });
        return { status: response.status, body: await response.json() };
      };
      // About 980 tokens and 245 fields each: inside every limit, so parsed, validated, planned and cached.
      const within = (index: number) =>
        `query C${index} { ${Array.from({ length: 245 }, (_, field) => `f${field}: __typename`).join(" ")} }`;
      await send(within(-1));
      const before = retainedMiB();
      const started = performance.now();
      for (let index = 0; index < 150; index++) {
        const answer = await send(within(index));
        expect(answer.status).toBe(200);
      }
      const growth = retainedMiB() - before;
      console.log(
        `[abuse] 150 distinct documents at the limits: ${JSON.stringify({
          elapsedMs: Math.round(performance.now() - started),
          retainedGrowthMiB: Math.round(growth * 10) / 10,
          cacheBudgetMiB: limits.documentCacheBytes / MiB,
        })}`,
      );
      // 150 plans of 245 fields held about 1.5 MiB each before the caches were bounded by size.
      expect(growth).toBeLessThan(limits.documentCacheBytes / MiB + 8);
    } finally {
      await local.api.close();
    }
  });
});
