import type pg from "pg";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { beginWithSettings } from "../../src/database/request-transaction.ts";
import { actorSettings, testPool, useTestDatabase } from "../support/test-database.ts";
import {
  codeOf,
  expectAssignmentInvariant,
  expectHistoryInvariant,
  makeTicket,
  makeUser,
  ROLE,
  runAs,
  type Outcome,
} from "../support/fixtures.ts";
import { seededRandom } from "../support/seeded-random.ts";

/**
 * Races between lifecycle operations, staged deterministically with two open
 * transactions (the second one is observed waiting on a lock before the
 * first commits), and a seeded mix of operations run on many connections.
 */
const database = useTestDatabase();
const people = {} as Record<"customer" | "admin" | "agent", string>;

beforeAll(async () => {
  const owner = database.current.owner;
  people.customer = await makeUser(owner, "Race Customer", "customer");
  people.admin = await makeUser(owner, "Race Admin", "admin");
  people.agent = await makeUser(owner, "Race Agent", "agent");
});

/** A connection inside an open transaction, acting as `role` with `userId` as the claim. */
interface Session {
  client: pg.PoolClient;
  pid: number;
  run(sql: string, params?: unknown[]): Promise<Outcome>;
  finish(ending: "commit" | "rollback"): Promise<void>;
}

async function openSession(pool: pg.Pool, role: string | null, userId: string): Promise<Session> {
  const client = await pool.connect();
  const pid: number = (await client.query("select pg_backend_pid() as pid")).rows[0].pid;
  await beginWithSettings(client, actorSettings({ role: role ?? undefined, userId }));
  // A lock cycle or a missed wake-up fails the test instead of hanging it.
  await client.query("set local lock_timeout = '10s'");
  let failed = false;
  let finished = false;
  return {
    client,
    pid,
    async run(sql, params = []) {
      try {
        const result = await client.query(sql, params);
        return { ok: true, rows: result.rows, count: result.rowCount ?? 0 };
      } catch (error) {
        failed = true;
        const { code, message } = error as { code?: string; message: string };
        return { ok: false, code: code ?? "unknown", message };
      }
    },
    async finish(ending) {
      if (finished) return;
      finished = true;
      try {
        await client.query(failed ? "rollback" : ending);
      } finally {
        client.release();
      }
    },
  };
}

/** Resolves once backend `pid` is waiting for a lock. */
async function blockedOnLock(pid: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const { rows } = await database.current.root.query(
      "select wait_event_type from pg_catalog.pg_stat_activity where pid = $1",
      [pid],
    );
    if (rows[0]?.wait_event_type === "Lock") return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect.fail(`backend ${pid} never waited for a lock`);
}

const LEAVING = {
  deactivated: "update app_public.users set is_active = false where id = $1",
  demoted: "update app_public.users set role = 'customer' where id = $1",
} as const;

const CLAIMS = {
  "an admin assigns": {
    role: ROLE.admin,
    actor: (_agent: string) => people.admin,
    sql: "select agent_id from app_public.assign_ticket($1, $2)",
    params: (ticket: string, agent: string) => [ticket, agent],
  },
  "the agent takes it from the queue": {
    role: ROLE.agent,
    actor: (agent: string) => agent,
    sql: "select agent_id from app_public.take_next_ticket()",
    params: () => [],
  },
} as const;

const CASES = (Object.keys(LEAVING) as (keyof typeof LEAVING)[]).flatMap((how) =>
  (Object.keys(CLAIMS) as (keyof typeof CLAIMS)[]).map((claim) => [how, claim] as const),
);

describe("an agent leaving while a ticket is handed to them", () => {
  beforeEach(async () => {
    // Each case starts with an empty queue; leftovers are closed as the owner.
    await database.current.owner.query(
      "update app_public.tickets set status = 'closed' where status <> 'closed' and agent_id is null",
    );
  });

  async function assignments(ticket: string) {
    const { rows } = await database.current.owner.query(
      "select from_agent_id, to_agent_id, changed_by from app_public.ticket_assignment_history where ticket_id = $1 order by changed_at, id",
      [ticket],
    );
    return rows;
  }

  it.each(CASES)(
    "%s agent, claim first: the claim stands until the change commits, then the ticket is released",
    async (how, claimKind) => {
      const owner = database.current.owner;
      const leaving = await makeUser(owner, `Leaving ${how}`, "agent");
      const ticket = await makeTicket(owner, people.customer, "open", null, { priority: "urgent" });
      const claim = CLAIMS[claimKind];

      const claimer = await openSession(database.current.authenticator, claim.role, claim.actor(leaving));
      const remover = await openSession(owner, null, people.admin);
      try {
        const claimed = await claimer.run(claim.sql, claim.params(ticket.id, leaving));
        expect(claimed).toMatchObject({ ok: true, rows: [{ agent_id: leaving }] });
        // The change of the agent's row waits for the claim's lock on it...
        const removal = remover.run(LEAVING[how], [leaving]);
        await blockedOnLock(remover.pid);
        await claimer.finish("commit");
        // ...and, once it goes through, its release sees the committed claim.
        expect(codeOf(await removal)).toBe("ok");
        await remover.finish("commit");
      } finally {
        await claimer.finish("rollback").catch(() => undefined);
        await remover.finish("rollback").catch(() => undefined);
      }

      const { rows } = await owner.query("select status, agent_id from app_public.tickets where id = $1", [ticket.id]);
      expect(rows[0]).toEqual({ status: "open", agent_id: null });
      expect(await assignments(ticket.id)).toEqual([
        { from_agent_id: null, to_agent_id: leaving, changed_by: claim.actor(leaving) },
        { from_agent_id: leaving, to_agent_id: null, changed_by: people.admin },
      ]);
    },
  );

  it.each(CASES)("%s agent, change first: the claim waits for it and is then refused", async (how, claimKind) => {
    const owner = database.current.owner;
    const leaving = await makeUser(owner, `Leaving ${how}`, "agent");
    const ticket = await makeTicket(owner, people.customer, "open", null, { priority: "urgent" });
    const claim = CLAIMS[claimKind];

    const remover = await openSession(owner, null, people.admin);
    const claimer = await openSession(database.current.authenticator, claim.role, claim.actor(leaving));
    try {
      expect(codeOf(await remover.run(LEAVING[how], [leaving]))).toBe("ok");
      // The claim reads the agent as still active (the change is not committed)
      // but its lock on the agent's row waits for the change...
      const claimed = claimer.run(claim.sql, claim.params(ticket.id, leaving));
      await blockedOnLock(claimer.pid);
      await remover.finish("commit");
      // ...and then finds them gone.
      expect(codeOf(await claimed)).toBe("TKVAL");
    } finally {
      await remover.finish("rollback").catch(() => undefined);
      await claimer.finish("rollback").catch(() => undefined);
    }

    const { rows } = await owner.query("select status, agent_id from app_public.tickets where id = $1", [ticket.id]);
    expect(rows[0]).toEqual({ status: "open", agent_id: null });
    expect(await assignments(ticket.id)).toEqual([]);
  });
});

describe("two callers moving one ticket at once", () => {
  it("run one after the other: the second sees the status the first left", async () => {
    const owner = database.current.owner;
    const ticket = await makeTicket(owner, people.customer, "in_progress", people.agent);
    const agent = await openSession(database.current.authenticator, ROLE.agent, people.agent);
    const customer = await openSession(database.current.authenticator, ROLE.customer, people.customer);
    try {
      expect(codeOf(await agent.run("select app_public.transition_ticket($1, 'resolved', 'fixed')", [ticket.id]))).toBe(
        "ok",
      );
      const closing = customer.run("select app_public.transition_ticket($1, 'closed', 'thanks')", [ticket.id]);
      await blockedOnLock(customer.pid);
      await agent.finish("commit");
      expect(codeOf(await closing)).toBe("ok");
      await customer.finish("commit");
    } finally {
      await agent.finish("rollback").catch(() => undefined);
      await customer.finish("rollback").catch(() => undefined);
    }
    const { rows } = await owner.query(
      "select from_status, to_status, note from app_public.ticket_status_history where ticket_id = $1 order by changed_at, id",
      [ticket.id],
    );
    expect(rows.slice(-2)).toEqual([
      { from_status: "in_progress", to_status: "resolved", note: "fixed" },
      { from_status: "resolved", to_status: "closed", note: "thanks" },
    ]);
    const after = (
      await owner.query("select resolved_at, closed_at from app_public.tickets where id = $1", [ticket.id])
    ).rows[0];
    expect(after.resolved_at).not.toBeNull();
    expect(after.closed_at).not.toBeNull();
  });

  it("refuses the second move when the first made it invalid", async () => {
    const owner = database.current.owner;
    const ticket = await makeTicket(owner, people.customer, "in_progress", people.agent);
    const customer = await openSession(database.current.authenticator, ROLE.customer, people.customer);
    const agent = await openSession(database.current.authenticator, ROLE.agent, people.agent);
    try {
      expect(codeOf(await customer.run("select app_public.transition_ticket($1, 'closed')", [ticket.id]))).toBe("ok");
      const resolving = agent.run("select app_public.transition_ticket($1, 'resolved')", [ticket.id]);
      await blockedOnLock(agent.pid);
      await customer.finish("commit");
      expect(codeOf(await resolving)).toBe("TKINV");
    } finally {
      await customer.finish("rollback").catch(() => undefined);
      await agent.finish("rollback").catch(() => undefined);
    }
    const { rows } = await owner.query("select status from app_public.tickets where id = $1", [ticket.id]);
    expect(rows[0].status).toBe("closed");
    await expectHistoryInvariant(owner);
  });
});

describe("a mix of operations on many connections", () => {
  it("never deadlocks and keeps both histories consistent (seed 5150)", { timeout: 60_000 }, async () => {
    const owner = database.current.owner;
    const next = seededRandom(5150);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const customers = await Promise.all([1, 2, 3, 4].map((n) => makeUser(owner, `Mix Customer ${n}`, "customer")));
    const agents = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => makeUser(owner, `Mix Agent ${n}`, "agent")));
    const tickets: { id: string; customer: string }[] = [];
    for (let n = 0; n < 24; n += 1) {
      const customer = customers[n % customers.length]!;
      tickets.push({
        id: (await makeTicket(owner, customer, "open", null, { priority: pick(["low", "normal", "high", "urgent"]) }))
          .id,
        customer,
      });
    }
    const STATUSES = ["open", "in_progress", "waiting_on_customer", "resolved", "closed"];

    // Few tickets, many workers: the same rows are fought over all the time.
    const WORKERS = 10;
    const STEPS = 40;
    const plans = Array.from({ length: WORKERS }, () =>
      Array.from({ length: STEPS }, (): [string, string, string, unknown[]] => {
        const ticket = pick(tickets);
        const roll = next();
        if (roll < 0.2) return [ROLE.agent, pick(agents), "select id from app_public.take_next_ticket()", []];
        if (roll < 0.5) {
          const agent = pick(agents);
          return [ROLE.agent, agent, "select app_public.transition_ticket($1, $2, 'mix')", [ticket.id, pick(STATUSES)]];
        }
        if (roll < 0.6)
          return [
            ROLE.customer,
            ticket.customer,
            "select app_public.transition_ticket($1, $2)",
            [ticket.id, pick(STATUSES)],
          ];
        if (roll < 0.72)
          return [
            ROLE.admin,
            people.admin,
            "select app_public.assign_ticket($1, $2)",
            [ticket.id, pick([...agents, null])],
          ];
        if (roll < 0.84)
          return [ROLE.customer, ticket.customer, "select app_public.add_comment($1, 'customer says')", [ticket.id]];
        if (roll < 0.92)
          return [
            ROLE.agent,
            pick(agents),
            "select app_public.add_comment($1, 'agent says', $2)",
            [ticket.id, next() < 0.5],
          ];
        return [
          ROLE.admin,
          people.admin,
          "update app_public.tickets set priority = $2 where id = $1",
          [ticket.id, pick(["low", "urgent"])],
        ];
      }),
    );

    const connections = testPool(database.current.urls.authenticator, WORKERS);
    const codes = new Map<string, number>();
    try {
      await Promise.all(
        plans.map(async (plan) => {
          for (const [role, actor, sql, params] of plan) {
            const code = codeOf(await runAs(connections, role, actor, sql, params));
            codes.set(code, (codes.get(code) ?? 0) + 1);
          }
        }),
      );
    } finally {
      await connections.end();
    }

    // Refusals are the lifecycle's own answers; never a deadlock (40P01),
    // a serialization failure, a lock timeout or a broken constraint.
    const unexpected = [...codes.keys()].filter((code) => code !== "ok" && !/^TK(INV|FBD|NTF|VAL)$/.test(code));
    expect(unexpected).toEqual([]);
    expect(codes.get("ok") ?? 0).toBeGreaterThan(WORKERS * STEPS * 0.2);
    await expectHistoryInvariant(owner);
    await expectAssignmentInvariant(owner);
  });
});
