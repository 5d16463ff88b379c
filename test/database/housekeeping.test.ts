import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { ConfigurationError, parseEnvironment } from "../../src/config/environment.ts";
import { DEFAULT_HOUSEKEEPING_MINUTES, pruneSecurityRows, startHousekeeping } from "../../src/database/housekeeping.ts";
import { runMaintenance } from "../../src/database/maintenance.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { makeUser } from "../support/fixtures.ts";
import { startTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * Pruning of append-mostly security rows (migrations/committed/000015-write-quotas-per-user-and-kind-pruning-of-expired-security-r.sql):
 * a long run is simulated by moving the authentication clock forward a day
 * at a time and writing a day's rows each time; the tables stay flat and the
 * checks that read them still work.
 */
const database = useTestDatabase();

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await database.current.owner.query<{ n: number }>(sql, params);
  return rows[0]!.n;
}

async function setClock(offset: string): Promise<void> {
  await database.current.owner.query("update app_private.auth_clock set offset_by = $1::interval", [offset]);
}

/** A day's login traffic at the current auth clock: honest attempts from many addresses and a flood refused by the rate limit. */
async function loginTraffic(user: string, honest: number, refused: number): Promise<void> {
  await database.current.owner.query(
    `insert into app_private.login_attempts (email, user_id, ip, success, reason)
     select 'someone@example.com', $1, ('10.1.' || (n % 250) || '.1')::inet, n % 3 = 0,
            case when n % 3 = 0 then 'success' else 'invalid_credentials' end
       from generate_series(1, $2) as n`,
    [user, honest],
  );
  await database.current.owner.query(
    `insert into app_private.login_attempts (email, ip, success, reason)
     select 'victim@example.com', '203.0.113.9', false, 'rate_limited' from generate_series(1, $1)`,
    [refused],
  );
}

const digest = () => randomBytes(32);

describe("days of simulated use", () => {
  it("keeps login attempts flat and the per-address check on its index", async () => {
    const user = await makeUser(database.current.owner, "Long Run User", "customer");
    const sizes: number[] = [];
    try {
      for (let day = 0; day < 12; day += 1) {
        await setClock(`${day} days`);
        await loginTraffic(user, 300, 1_500);
        // db:maintain on the last day, the API's round on the others.
        if (day === 11)
          expect(await runMaintenance(database.current.urls.owner)).toHaveProperty(["app_private.login_attempts"]);
        else await pruneSecurityRows(database.current.owner);
        sizes.push(await count("select count(*)::int as n from app_private.login_attempts"));
      }
    } finally {
      await setClock("0");
    }
    // Counted attempts stay 7 days (plus today), refused ones an hour: the
    // table stops growing after a week instead of reaching 21,600 rows.
    expect(Math.max(...sizes.slice(7))).toBeLessThanOrEqual(8 * 300 + 1_500);
    expect(sizes.at(-1)).toBe(sizes.at(-4));

    // A flood of refused attempts from one address in the window does not
    // make the per-address count read them.
    await loginTraffic(user, 0, 10_000);
    await database.current.owner.query("analyze app_private.login_attempts");
    const { rows } = await database.current.owner.query<{ "QUERY PLAN": unknown }>(
      `explain (analyze, buffers, format json)
       select count(*) from app_private.login_attempts as l
        where l.ip = '203.0.113.9' and l.attempted_at > app_private.auth_now() - interval '5 minutes' and l.reason <> 'rate_limited'`,
    );
    const plan = JSON.stringify(rows[0]!["QUERY PLAN"]);
    expect(plan).toContain("login_attempts_ip_counted_idx");
    const buffers = (
      rows[0]!["QUERY PLAN"] as [{ Plan: { "Shared Hit Blocks": number; "Shared Read Blocks": number } }]
    )[0].Plan;
    expect(buffers["Shared Hit Blocks"] + buffers["Shared Read Blocks"]).toBeLessThan(20);
  });

  it("keeps a session's rotated tokens bounded however often it refreshes, and reuse detection works on the kept ones", async () => {
    const user = await makeUser(database.current.owner, "Refreshing User", "customer");
    const first = digest();
    const family = (
      await database.current.owner.query<{ id: string }>(
        `insert into app_private.refresh_tokens (id, user_id, family_id, token_digest, expires_at, session_started_at)
         select id, $1, id, $2, app_private.auth_now() + interval '30 days', app_private.auth_now() from (select app_private.uuid_generate_v7() as id) as t
         returning id`,
        [user, first],
      )
    ).rows[0]!.id;
    // 1,500 rotations through the real function, as the API's connection role
    // (from one address: its refresh rate limit is lifted for this test).
    await database.current.owner.query(
      "update app_private.address_rate_limits set max_count = 100000 where action = 'refresh'",
    );
    const token = (n: number) => (n === 0 ? first : createHash("sha256").update(`rotation ${n}`).digest());
    await database.current.authenticator.query(
      `do $$
       declare result text;
       begin
         for n in 1..1500 loop
           select outcome into result
             from app_private.rotate_refresh_token(
               case when n = 1 then decode('${first.toString("hex")}', 'hex') else sha256(convert_to('rotation ' || (n - 1), 'UTF8')) end,
               sha256(convert_to('rotation ' || n, 'UTF8')), '198.51.100.1', interval '30 days');
           if result <> 'rotated' then raise exception 'rotation % answered %', n, result; end if;
         end loop;
       end
       $$`,
    );
    const familySize = () =>
      count("select count(*)::int as n from app_private.refresh_tokens where family_id = $1", [family]);
    expect(await familySize()).toBe(1_501);

    const pruned = await pruneSecurityRows(database.current.owner);
    expect(pruned["app_private.refresh_tokens"]).toBe(500);
    // The newest 1,000 rotated tokens and the live one.
    expect(await familySize()).toBe(1_001);

    // A pruned token is refused as unknown; a kept rotated one still trips reuse detection.
    const outcome = async (token: Buffer) =>
      (
        await database.current.authenticator.query<{ outcome: string }>(
          "select outcome from app_private.rotate_refresh_token($1, $2, '198.51.100.1', interval '30 days')",
          [token, digest()],
        )
      ).rows[0]!.outcome;
    expect(await outcome(token(10))).toBe("invalid");
    expect(await outcome(token(1_400))).toBe("reused");
    expect(
      await count(
        "select count(*)::int as n from app_private.refresh_tokens where family_id = $1 and revoked_at is null",
        [family],
      ),
    ).toBe(0);

    // Once the session has ended, it goes entirely after the retention.
    try {
      await setClock("6 days");
      await pruneSecurityRows(database.current.owner);
      expect(await familySize()).toBe(1_001);
      await setClock("8 days");
      await pruneSecurityRows(database.current.owner);
      expect(await familySize()).toBe(0);
    } finally {
      await setClock("0");
    }
  });

  it("removes expired sessions, and rotated tokens of live sessions a week after their rotation", async () => {
    const user = await makeUser(database.current.owner, "Returning User", "customer");
    // Fifty sessions that expired ten days ago.
    await database.current.owner.query(
      `insert into app_private.refresh_tokens (id, user_id, family_id, token_digest, created_at, expires_at, session_started_at)
       select id, $1, id, sha256(id::text::bytea), now() - interval '40 days', now() - interval '10 days', now() - interval '40 days'
         from (select app_private.uuid_generate_v7() as id from generate_series(1, 50)) as expired`,
      [user],
    );
    // A live session: a token rotated 8 days ago, one 2 days ago, and the current one.
    const ids = (
      await database.current.owner.query<{ id: string }>(
        "select app_private.uuid_generate_v7() as id from generate_series(1, 3)",
      )
    ).rows.map((row) => row.id);
    const [old, recent, live] = ids as [string, string, string];
    await database.current.owner.query(
      `insert into app_private.refresh_tokens (id, user_id, family_id, token_digest, created_at, expires_at, rotated_at, replaced_by, session_started_at)
       values ($3::uuid, $1::uuid, $2::uuid, sha256($3::text::bytea), now() - interval '2 days', now() + interval '28 days', null, null, now() - interval '10 days'),
              ($4::uuid, $1::uuid, $2::uuid, sha256($4::text::bytea), now() - interval '9 days', now() + interval '21 days', now() - interval '2 days', $3::uuid, now() - interval '10 days'),
              ($2::uuid, $1::uuid, $2::uuid, sha256($2::text::bytea), now() - interval '10 days', now() + interval '20 days', now() - interval '8 days', $4::uuid, now() - interval '10 days')`,
      [user, old, live, recent],
    );
    await pruneSecurityRows(database.current.owner);
    const left = await database.current.owner.query<{ id: string }>(
      "select id from app_private.refresh_tokens where user_id = $1 order by id",
      [user],
    );
    expect(left.rows.map((row) => row.id).sort()).toEqual([recent, live].sort());
  });

  it("deletes counted writes older than the longest quota window, and the quota still counts the recent ones", async () => {
    const user = await makeUser(database.current.owner, "Old Writer", "customer");
    await database.current.owner.query(
      `insert into app_private.write_events (user_id, kind, occurred_at)
       select $1, 'ticket', now() - make_interval(mins => n) from generate_series(1, 3000) as n`,
      [user],
    );
    const pruned = await pruneSecurityRows(database.current.owner);
    // Kept: the last hour (59 whole minutes back, the 60th is on the edge).
    expect(pruned["app_private.write_events"]).toBeGreaterThanOrEqual(2_940);
    expect(
      await count("select count(*)::int as n from app_private.write_events where user_id = $1", [user]),
    ).toBeLessThanOrEqual(60);
  });

  it("deletes per-address authentication events older than the longest address window, and keeps the ones still counted", async () => {
    await database.current.owner.query(
      `insert into app_private.address_events (action, ip, occurred_at)
       select 'refresh', '198.51.100.23', app_private.auth_now() - make_interval(mins => n) from generate_series(1, 600) as n`,
    );
    const pruned = await pruneSecurityRows(database.current.owner);
    // The longest window (registrations, password changes) is an hour: 59 whole minutes stay.
    expect(pruned["app_private.address_events"]).toBeGreaterThanOrEqual(540);
    const left = await count("select count(*)::int as n from app_private.address_events where ip = '198.51.100.23'");
    expect(left).toBeGreaterThanOrEqual(59);
    expect(left).toBeLessThanOrEqual(60);
  });
});

describe("running it", () => {
  it("one instance at a time: a concurrent round is skipped", async () => {
    const first = await database.current.authenticator.connect();
    try {
      await first.query("begin");
      expect(Object.keys(await pruneSecurityRows(first))).toHaveLength(4);
      expect(await pruneSecurityRows(database.current.authenticator)).toEqual({});
      await first.query("commit");
    } finally {
      first.release();
    }
    expect(Object.keys(await pruneSecurityRows(database.current.authenticator))).toHaveLength(4);
  });

  it("the API prunes by itself on its schedule, and stops with the server", async () => {
    const oldAttempts = () =>
      count("select count(*)::int as n from app_private.login_attempts where email = 'old@example.com'");
    const addOldAttempts = () =>
      database.current.owner.query(
        `insert into app_private.login_attempts (email, ip, success, reason, attempted_at)
         select 'old@example.com', '198.51.100.7', false, 'invalid_credentials', now() - interval '30 days' from generate_series(1, 100)`,
      );
    await addOldAttempts();
    // A round every 120 ms instead of every 10 minutes.
    const { api } = await startTestApi(database.current, { housekeepingMinutes: 0.002 });
    try {
      await vi.waitFor(async () => expect(await oldAttempts()).toBe(0), { timeout: 10_000, interval: 200 });
    } finally {
      await api.close();
    }
    await addOldAttempts();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await oldAttempts()).toBe(100);
    await pruneSecurityRows(database.current.owner);
  });

  it("a schedule of 0 minutes never runs", async () => {
    const housekeeping = startHousekeeping({
      pool: database.current.authenticator,
      minutes: 0,
      logger: createLogger("silent"),
    });
    await database.current.owner.query(
      `insert into app_private.login_attempts (email, ip, success, reason, attempted_at)
       values ('older@example.com', '198.51.100.8', false, 'invalid_credentials', now() - interval '30 days')`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await housekeeping.stop();
    expect(
      await count("select count(*)::int as n from app_private.login_attempts where email = 'older@example.com'"),
    ).toBe(1);
  });
});

describe("HOUSEKEEPING_INTERVAL_MINUTES", () => {
  it("defaults to 10 minutes; 0 turns the API's schedule off", () => {
    expect(parseEnvironment({}).HOUSEKEEPING_INTERVAL_MINUTES).toBe(DEFAULT_HOUSEKEEPING_MINUTES);
    expect(DEFAULT_HOUSEKEEPING_MINUTES).toBe(10);
    expect(parseEnvironment({ HOUSEKEEPING_INTERVAL_MINUTES: "0" }).HOUSEKEEPING_INTERVAL_MINUTES).toBe(0);
  });

  it.each(["-1", "1.5", "1441", "often"])("refuses %s with one line naming the variable", (value) => {
    expect(() => parseEnvironment({ HOUSEKEEPING_INTERVAL_MINUTES: value })).toThrow(ConfigurationError);
    expect(() => parseEnvironment({ HOUSEKEEPING_INTERVAL_MINUTES: value })).toThrow(
      /^Invalid configuration: HOUSEKEEPING_INTERVAL_MINUTES [^\n]+$/,
    );
  });
});
