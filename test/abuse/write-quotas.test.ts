import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { makeUser } from "../support/fixtures.ts";
import { bearer, graphql, useTestApi } from "../support/test-api.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * The disk-filling attack: one customer sends 500 createTicket mutations
 * with large descriptions (ten aliases per request, the most a request may
 * carry). The write quota refuses everything past the 30th ticket with a
 * coded RATE_LIMITED and a retry hint, before the rows are written, so the
 * database hardly grows.
 */
const database = useTestDatabase();
const api = useTestApi(database);

const QUOTA = 30;
const ATTEMPTS = 500;
const PER_REQUEST = 10;

/** Incompressible text, so TOAST cannot hide the growth. */
const description = () => randomBytes(14_000).toString("base64").slice(0, 18_000);

function flood(): string {
  const fields = Array.from(
    { length: PER_REQUEST },
    (_, n) =>
      `t${n}: createTicket(input: { ticket: { subject: "Flood ${n}", description: $d${n} } }) { ticket { rowId } }`,
  );
  const variables = Array.from({ length: PER_REQUEST }, (_, n) => `$d${n}: String!`).join(", ");
  return `mutation Flood(${variables}) { ${fields.join(" ")} }`;
}

/** Bytes of everything a ticket write lands in: the tickets, their histories, the audit log, the quota's own rows. */
async function writtenBytes(): Promise<number> {
  const { rows } = await database.current.owner.query<{ bytes: string }>(
    `select sum(pg_total_relation_size(c.oid))::bigint as bytes
       from pg_catalog.pg_class as c
      where c.oid in ('app_public.tickets'::regclass, 'app_private.audit_log'::regclass, 'app_private.write_events'::regclass)
         or c.oid in (select inhrelid from pg_catalog.pg_inherits where inhparent = 'app_public.ticket_status_history'::regclass)`,
  );
  return Number(rows[0]!.bytes);
}

let customer: string;
beforeAll(async () => {
  customer = await makeUser(database.current.owner, "Flooding Customer", "customer");
});

describe("500 createTicket mutations from one customer", () => {
  it("create at most the quota; every other one is RATE_LIMITED with a retry hint; the disk barely grows", async () => {
    const before = await writtenBytes();
    const codes = new Map<string, number>();
    const retryHints: number[] = [];
    let created = 0;
    for (let sent = 0; sent < ATTEMPTS; sent += PER_REQUEST) {
      const variables = Object.fromEntries(Array.from({ length: PER_REQUEST }, (_, n) => [`d${n}`, description()]));
      const { body } = await graphql(api.current.request, flood(), variables, bearer(customer, "ticketing_customer"));
      created += Object.values(body.data ?? {}).filter((field) => field !== null).length;
      for (const error of body.errors ?? []) {
        codes.set(error.extensions?.code, (codes.get(error.extensions?.code) ?? 0) + 1);
        if (typeof error.extensions?.retryAfterSeconds === "number")
          retryHints.push(error.extensions.retryAfterSeconds);
        // No SQL, table or trigger names leak.
        expect(error.message).not.toMatch(/write_events|write_quotas|trigger|app_private|TKRAT/);
      }
    }
    const grown = (await writtenBytes()) - before;

    expect(created).toBe(QUOTA);
    expect(Object.fromEntries(codes)).toEqual({ RATE_LIMITED: ATTEMPTS - QUOTA });
    expect(retryHints).toHaveLength(ATTEMPTS - QUOTA);
    expect(Math.min(...retryHints)).toBeGreaterThan(3000);
    expect(Math.max(...retryHints)).toBeLessThanOrEqual(3600);
    const { rows } = await database.current.owner.query(
      "select count(*)::int as n from app_public.tickets where customer_id = $1",
      [customer],
    );
    expect(rows[0].n).toBe(QUOTA);
    // Measured: 30 tickets of 18 KB (with audit copies and search vectors)
    // add about 2.7 MiB; the 500 without a quota added 47 MiB.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  }, 90_000);

  it("another customer is not affected", async () => {
    const other = await makeUser(database.current.owner, "Quiet Customer", "customer");
    const { body } = await graphql(
      api.current.request,
      `mutation { createTicket(input: { ticket: { subject: "My printer" } }) { ticket { rowId } } }`,
      {},
      bearer(other, "ticketing_customer"),
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.createTicket.ticket.rowId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("quotas over GraphQL", () => {
  const UPDATE = `mutation { updateWriteQuota(input: { role: customer, kind: comment, patch: { maxCount: 200 } }) { writeQuota { role kind maxCount } } }`;
  const READ = "{ writeQuotas { nodes { role kind maxCount } } }";

  it("admins read and change them", async () => {
    const admin = await makeUser(database.current.owner, "Quota Admin", "admin");
    const read = await graphql(api.current.request, READ, {}, bearer(admin, "ticketing_admin"));
    expect(read.body.data.writeQuotas.nodes).toHaveLength(9);
    const { body } = await graphql(api.current.request, UPDATE, {}, bearer(admin, "ticketing_admin"));
    expect(body.errors).toBeUndefined();
    expect(body.data.updateWriteQuota.writeQuota).toEqual({ role: "customer", kind: "comment", maxCount: 200 });
  });

  it("customers and agents can neither read nor change them", async () => {
    for (const [role, token] of [
      ["customer", "ticketing_customer"],
      ["agent", "ticketing_agent"],
    ] as const) {
      const user = await makeUser(database.current.owner, `Quota ${role}`, role);
      const read = await graphql(api.current.request, READ, {}, bearer(user, token));
      expect(read.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const update = await graphql(api.current.request, UPDATE, {}, bearer(user, token));
      expect(update.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    const { rows } = await database.current.owner.query(
      "select max_count from app_public.write_quotas where role = 'customer' and kind = 'comment'",
    );
    expect(rows[0].max_count).toBe(200);
  });
});
