import { describe, expect, it } from "vitest";
import { catalogSnapshot, unqualifySingleRelationView } from "../support/catalog-snapshot.ts";
import { useTestDatabase } from "../support/test-database.ts";

/**
 * The database's final state is committed as schema.sql (functions, views,
 * policies, triggers, constraints, indexes, grants, comments, read from
 * pg_catalog) so every change to it shows up in review as a difference in
 * one file. This test fails when the migrations and the file disagree;
 * `npm run catalog:update` (or `npm run schema:update`) rewrites the file.
 * The text is the same on PostgreSQL 15 and 18 (CI checks both).
 */
const database = useTestDatabase();

describe("database catalog", () => {
  it("matches the committed schema.sql", async () => {
    const client = await database.current.owner.connect();
    try {
      const snapshot = await catalogSnapshot(client);
      // What the snapshot must show, whatever else changes.
      expect(snapshot).toMatch(/^CREATE OR REPLACE FUNCTION app_public\.add_comment\(/m);
      expect(snapshot).toMatch(/^create policy select_customer on app_public\.tickets$/m);
      expect(snapshot).toMatch(/^alter table app_public\.tickets enable row level security;$/m);
      expect(snapshot).toMatch(
        /^grant update \(subject, description\) on table app_public\.tickets to ticketing_customer;$/m,
      );
      expect(snapshot).toMatch(
        /^revoke delete, truncate, update on table app_private\.audit_log from ticketing_owner;$/m,
      );
      await expect(snapshot).toMatchFileSnapshot("../../schema.sql");
    } finally {
      client.release(true);
    }
  });

  describe("view definitions read from PostgreSQL 15 take the form PostgreSQL 16+ prints", () => {
    it("drops the qualifier of a view's single relation, not inside its subqueries", () => {
      const before = [
        " SELECT a.id,",
        "    a.table_name",
        "   FROM app_private.audit_log a",
        "  WHERE (( SELECT app_private.current_user_role() AS current_user_role)) = 'admin'::app_public.user_role",
        "    AND (EXISTS ( SELECT 1 FROM app_public.users u WHERE u.id = a.actor_id AND u.note = 'a.b'));",
      ].join("\n");
      const after = [
        " SELECT id,",
        "    table_name",
        "   FROM app_private.audit_log a",
        "  WHERE (( SELECT app_private.current_user_role() AS current_user_role)) = 'admin'::app_public.user_role",
        "    AND (EXISTS ( SELECT 1 FROM app_public.users u WHERE u.id = a.actor_id AND u.note = 'a.b'));",
      ].join("\n");
      expect(unqualifySingleRelationView(before)).toBe(after);
    });

    it("reads through a CTE, function calls and a subquery in FROM", () => {
      const before = [
        " WITH outcomes AS (",
        "         SELECT t.priority, date_trunc('week'::text, t.created_at) AS week_start",
        "           FROM app_reporting.tickets t",
        "        )",
        " SELECT o.week_start,",
        "    round(count(*) FILTER (WHERE o.priority IS NULL)::numeric, 4) AS pending",
        "   FROM outcomes o",
        "  GROUP BY o.week_start;",
      ].join("\n");
      expect(unqualifySingleRelationView(before)).toBe(
        before
          .replace(" SELECT o.week_start,", " SELECT week_start,")
          .replace("WHERE o.priority", "WHERE priority")
          .replace("BY o.week_start", "BY week_start"),
      );
      const fromFunction =
        " SELECT p.priority\n   FROM unnest(enum_range(NULL::app_public.ticket_priority)) p(priority);";
      expect(unqualifySingleRelationView(fromFunction)).toBe(
        " SELECT priority\n   FROM unnest(enum_range(NULL::app_public.ticket_priority)) p(priority);",
      );
    });

    it("leaves joins, lists of relations and set operations as they are", () => {
      for (const definition of [
        " SELECT h.id,\n    t.number\n   FROM app_public.ticket_status_history h\n     JOIN app_public.tickets t ON t.id = h.ticket_id;",
        " SELECT a.x,\n    b.y\n   FROM app_public.a a, app_public.b b;",
        " SELECT a.x\n   FROM app_public.a a\nUNION\n SELECT b.x\n   FROM app_public.b b;",
      ]) {
        expect(unqualifySingleRelationView(definition)).toBe(definition);
      }
    });
  });
});
