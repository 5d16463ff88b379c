import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { signAccessToken } from "../src/auth/access-tokens.ts";
import { ROLE } from "../src/database/web-roles.ts";
import { createLogger } from "../src/observability/logger.ts";
import { freePort } from "../src/net/free-port.ts";
import { Admin, Agent, Customer, type Actor, type World } from "./actors.ts";
import { ApiProcess } from "./api-process.ts";
import { SoakCluster } from "./cluster.ts";
import { awaitRecovery, inject, RECOVERY_LIMIT_MS, schedule, type FaultContext, type FaultWindow } from "./faults.ts";
import { Journal } from "./journal.ts";
import { runMalformed } from "./malformed.ts";
import { ReadinessMonitor } from "./monitor.ts";
import { Random } from "./random.ts";
import { buckets, latencySummary, notOkCounts, outcomeCounts, svgChart } from "./report.ts";
import { castFor, createStaff, prepareDatabase, randomSecret, soakUrls } from "./setup.ts";
import { Traffic } from "./traffic.ts";
import { GRACE_MS, verifyDatabase, verifyTraffic } from "./verify.ts";

/**
 * `npm run soak -- --minutes N --users M [--seed S] [--pool P]`: a private
 * embedded PostgreSQL and the API as a child process, simulated users over
 * HTTP, faults at fixed offsets, then verification and a report in
 * soak/results/ (latest.json, latest.svg). Exits 1 when a check fails.
 * Everything it started is stopped and its temporary directory removed,
 * also on failure or Ctrl-C.
 */
const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "1" },
    users: { type: "string", default: "12" },
    seed: { type: "string", default: "1" },
    pool: { type: "string", default: "10" },
  },
});
const minutes = Number(values.minutes);
const users = Number.parseInt(values.users, 10);
const seed = Number.parseInt(values.seed, 10);
const poolSize = Number.parseInt(values.pool, 10);
if (!(minutes > 0 && minutes <= 240) || !(users >= 3 && users <= 500) || !Number.isInteger(seed) || !(poolSize >= 2)) {
  process.stderr.write("usage: npm run soak -- --minutes N (0 < N <= 240) --users M (3..500) [--seed S] [--pool P]\n");
  process.exit(2);
}

const logger = createLogger(process.env.LOG_LEVEL ?? "warn");
const say = (message: string) => process.stdout.write(`[soak] ${message}\n`);
const durationMs = Math.round(minutes * 60_000);
const cycles = Math.max(1, Math.floor(minutes / 2));
/** Longest wait for the API to answer again after a fault: 15 s for a one-minute run, at most RECOVERY_LIMIT_MS. */
const recoveryLimitMs = Math.min(RECOVERY_LIMIT_MS, Math.max(15_000, durationMs / 4));

const cleanups: (() => Promise<void>)[] = [];
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const step of cleanups.reverse()) await step().catch((error) => say(`cleanup: ${String(error)}`));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<boolean> {
  const wallStart = Date.now();
  await mkdir(RESULTS, { recursive: true });
  const temp = await mkdtemp(path.join(tmpdir(), "ticketing-soak-"));
  // As root the server runs as the `postgres` system user, which must reach the folder.
  await chmod(temp, 0o755);
  cleanups.push(() => rm(temp, { recursive: true, force: true }));

  const cluster = new SoakCluster({ dataDir: temp, port: await freePort(), password: randomSecret() });
  cleanups.push(() => cluster.stop());
  await cluster.start();
  const urls = soakUrls(cluster.rootUrl, { owner: randomSecret(), authenticator: randomSecret() });
  await prepareDatabase(urls, logger);
  const cast = castFor(users);
  const staff = await createStaff(urls.owner, cast);
  say(
    `database ready: ${cast.customers} customers, ${cast.agents} agents, ${cast.admins} admins; pool ${poolSize}; seed ${seed}`,
  );

  const jwt = {
    secret: randomSecret() + randomSecret(),
    issuer: "ticketing-api",
    audience: "ticketing-clients",
    accessTokenSeconds: 900,
  };
  let traffic: Traffic | undefined;
  const clock = () => traffic?.now() ?? 0;
  const api = new ApiProcess({
    port: await freePort(),
    logFile: path.join(RESULTS, "api.log"),
    clock,
    env: {
      NODE_ENV: "production",
      DATABASE_URL: urls.authenticator,
      JWT_SECRET: jwt.secret,
      // Only this API trusts X-Forwarded-For from loopback: each simulated user has its own IP for the login rate limit.
      TRUST_PROXY: "loopback",
      DATABASE_POOL_SIZE: String(poolSize),
      LOG_LEVEL: "warn",
    },
  });
  await writeFile(path.join(RESULTS, "api.log"), "");
  cleanups.push(() => api.stop());
  await api.start();

  traffic = new Traffic(api.baseUrl);
  const admins = staff.filter((account) => account.role === "admin");
  const agents = staff.filter((account) => account.role === "agent");
  const probeToken = signAccessToken(
    { ...jwt, accessTokenSeconds: Math.ceil(durationMs / 1_000) + 3_600 },
    {
      userId: admins[0]!.userId,
      role: ROLE.admin,
    },
  ).token;
  const journal = new Journal();
  const world: World = {
    traffic,
    journal,
    tickets: [],
    agentIds: agents.map((agent) => agent.userId),
    stopAt: durationMs,
    sessions: { logins: 0, registrations: 0, refreshes: 0, relogins: 0 },
    async verificationToken(email) {
      const owner = new pg.Client({ connectionString: urls.owner });
      await owner.connect();
      try {
        const { rows } = await owner.query<{ token: string }>(
          `select params ->> 'token' as token from app_private.outbound_mails
           where kind = 'email_verification' and to_address = lower($1) order by created_at desc limit 1`,
          [email],
        );
        return rows[0]?.token ?? undefined;
      } finally {
        await owner.end();
      }
    },
  };
  const actors: Actor[] = [];
  let index = 0;
  const rng = () => new Random(seed * 100_003 + index * 7_919);
  for (const admin of admins) actors.push(new Admin(`admin${++index}`, "admin", admin.email, index, rng(), world));
  for (const agent of agents) actors.push(new Agent(`agent${++index}`, "agent", agent.email, index, rng(), world));
  for (let i = 1; i <= cast.customers; i++) {
    index += 1;
    actors.push(
      new Customer(`customer${index}`, "customer", `customer${i}-seed${seed}@soak.example.com`, index, rng(), world),
    );
  }

  // Sign-ins cost argon2 (about 180 ms, two at a time): users arrive 150 ms apart.
  actors.forEach((actor, position) => {
    actor.startDelayMs = position * 150;
  });

  const monitor = new ReadinessMonitor(api.baseUrl, clock);
  monitor.start();
  const context: FaultContext = { traffic, cluster, api, ownerUrl: urls.owner, poolSize, probeToken };
  const windows: FaultWindow[] = [];
  const plan = schedule(durationMs, cycles);
  say(
    `running ${minutes} min with ${actors.length} users; ${plan.length} faults at ${plan.map((fault) => `${(fault.at / 1_000).toFixed(1)}s ${fault.kind}`).join(", ")}`,
  );

  const faults = (async () => {
    for (const fault of plan) {
      // A fault that could not start on time (an earlier one never recovered) is skipped: the run stays bounded.
      if (traffic.now() >= durationMs) break;
      const wait = fault.at - traffic.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const start = traffic.now();
      let detail: string;
      try {
        detail = await inject(fault.kind, context);
      } catch (error) {
        detail = `injection failed: ${String(error)}`;
      }
      const actionEnd = traffic.now();
      const recoveredAt = await awaitRecovery(context, recoveryLimitMs);
      if (recoveredAt === undefined) {
        // Why /readyz still refuses, e.g. "database unavailable" or "1 migration(s) pending".
        const readyz = await fetch(`${api.baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) })
          .then((response) => response.text())
          .catch((error: unknown) => String(error));
        detail = `${detail}; not recovered, /readyz: ${readyz.slice(0, 200)}`;
      }
      const window: FaultWindow = {
        kind: fault.kind,
        start,
        actionEnd,
        notReadyMs: monitor.notReadyBetween(start, recoveredAt ?? traffic.now()),
        detail,
        ...(recoveredAt === undefined ? {} : { recoveredAt, recoveryMs: recoveredAt - actionEnd }),
      };
      windows.push(window);
      say(
        `${(start / 1_000).toFixed(1)}s ${fault.kind}: ${detail}; recovered ${window.recoveryMs ?? "never"} ms after`,
      );
    }
  })();

  // A crash is a finding (recorded by ApiProcess); the run goes on with a fresh process.
  let handledExits = 0;
  const watchdog = (async () => {
    while (traffic.now() < durationMs) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (api.unexpectedExits.length > handledExits && !api.running && !cleaned) {
        handledExits = api.unexpectedExits.length;
        say("API process died on its own; restarting it");
        await api.start().catch((error) => say(`restart failed: ${String(error)}`));
      }
    }
  })();

  await Promise.all([
    ...actors.map((actor) => actor.run()),
    runMalformed(traffic, new Random(seed * 31 + 7), durationMs),
    faults,
    watchdog,
  ]);
  await monitor.stop();
  const runMs = traffic.now();

  say("verifying");
  const rootSoakUrl = new URL(cluster.rootUrl);
  rootSoakUrl.pathname = new URL(urls.owner).pathname;
  const checks = [
    ...(await verifyDatabase(rootSoakUrl.toString(), journal)),
    ...verifyTraffic(traffic.samples, windows, api.unexpectedExits, recoveryLimitMs),
  ];
  const passed = checks.every((each) => each.passed);

  const chart = buckets(traffic.samples, runMs);
  const samples = traffic.samples;
  const inside = samples.filter((sample) => !sample.op.startsWith("burst:"));
  const summary = {
    passed,
    startedAt: new Date(wallStart).toISOString(),
    command: `npm run soak -- --minutes ${minutes} --users ${users}${seed === 1 ? "" : ` --seed ${seed}`}${poolSize === 10 ? "" : ` --pool ${poolSize}`}`,
    parameters: { minutes, users, seed, poolSize, cast, graceMs: GRACE_MS, faultCycles: cycles },
    machine: {
      node: process.version,
      cpus: cpus().length,
      loadAverageAtEnd: loadavg().map((load) => Math.round(load * 100) / 100),
    },
    wallTimeSeconds: Math.round((Date.now() - wallStart) / 1_000),
    runSeconds: Math.round(runMs / 1_000),
    requests: {
      total: samples.length,
      perSecond: Math.round((samples.length / (runMs / 1_000)) * 10) / 10,
      outcomes: outcomeCounts(samples),
      notOkByOperation: notOkCounts(samples),
      latencyMs: latencySummary(inside),
    },
    sessions: world.sessions,
    journal: journal.counts(),
    faults: windows,
    checks,
    timeline: chart,
  };
  await writeFile(path.join(RESULTS, "latest.json"), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(
    path.join(RESULTS, "latest.svg"),
    svgChart({
      buckets: chart.buckets,
      sizeMs: chart.sizeMs,
      windows,
      durationMs: runMs,
      title: `soak: ${minutes} min, ${users} users, ${samples.length} requests, ${passed ? "all checks passed" : "CHECKS FAILED"}`,
    }),
  );
  await writeFile(path.join(RESULTS, "journal.ndjson"), journal.toNdjson());

  for (const each of checks) {
    say(
      `${each.passed ? "PASS" : "FAIL"} ${each.name} (${each.checked} checked${each.passed ? "" : `, ${each.failures} failed: ${JSON.stringify(each.examples).slice(0, 400)}`})`,
    );
  }
  say(
    `${samples.length} requests (${summary.requests.perSecond}/s), outcomes ${JSON.stringify(summary.requests.outcomes)}, latency ${JSON.stringify(summary.requests.latencyMs)}`,
  );
  say(`journal ${JSON.stringify(summary.journal)}; sessions ${JSON.stringify(world.sessions)}`);
  say(
    `results in ${path.relative(process.cwd(), RESULTS)}/latest.json and latest.svg; wall time ${summary.wallTimeSeconds}s`,
  );
  return passed;
}

let passed = false;
try {
  passed = await main();
} catch (error) {
  say(`run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanup();
}
process.exit(passed ? 0 : 1);
