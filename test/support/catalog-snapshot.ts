import type pg from "pg";

/**
 * The database's final state as one reviewable SQL-like text, read from
 * pg_catalog: for each application schema its grants and comment, types,
 * tables (columns, row level security, constraints, indexes, triggers,
 * policies, grants, comments), views, sequences and functions, each kind in
 * name order. A reviewer reads the current `add_comment` here instead of
 * finding the migration that last replaced it.
 *
 * The text is identical on every supported PostgreSQL (15 to 18):
 * - everything is printed with `search_path = pg_catalog`, so names are
 *   always schema-qualified;
 * - NOT NULL constraints, which PostgreSQL 18 also lists in pg_constraint,
 *   are printed as column properties only;
 * - the MAINTAIN table privilege (PostgreSQL 17+) is left out;
 * - partitions are left out: they are created month by month at run time,
 *   so only the partitioned table and its partition key are printed;
 * - extension members (e.g. citext's functions) are left out;
 * - view definitions read before PostgreSQL 16 are brought to the newer
 *   deparser's form (see `unqualifySingleRelationView`).
 */
export const CATALOG_SCHEMAS = ["app_public", "app_private", "app_reporting"] as const;

/** The role that owns the application's objects; other owners are called out. */
const OWNER_ROLE = "ticketing_owner";

const TABLE_PRIVILEGES = ["delete", "insert", "references", "select", "trigger", "truncate", "update"];

interface Grant {
  grantee: string;
  privilege: string;
  grantable: boolean;
}

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

function commentOn(kind: string, name: string, description: string | null): string[] {
  return description === null ? [] : [`comment on ${kind} ${name} is ${quote(description)};`];
}

/**
 * `grant …` lines for an object's privileges, one per grantee, in name order;
 * the owner's privileges only as a `revoke` of what it was denied.
 */
function grantLines(kind: string, name: string, grants: Grant[], owner: string, ownerDefault: string[]): string[] {
  const lines: string[] = [];
  const byGrantee = new Map<string, Grant[]>();
  for (const grant of grants) {
    if (grant.privilege === "maintain") continue;
    byGrantee.set(grant.grantee, [...(byGrantee.get(grant.grantee) ?? []), grant]);
  }
  const ownerHas = new Set((byGrantee.get(owner) ?? []).map((grant) => grant.privilege));
  const ownerLacks = ownerDefault.filter((privilege) => !ownerHas.has(privilege));
  if (ownerLacks.length > 0) lines.push(`revoke ${ownerLacks.join(", ")} on ${kind} ${name} from ${owner};`);
  for (const grantee of [...byGrantee.keys()].sort()) {
    if (grantee === owner) continue;
    const entries = byGrantee.get(grantee) ?? [];
    for (const grantable of [false, true]) {
      const privileges = entries
        .filter((grant) => grant.grantable === grantable)
        .map((grant) => grant.privilege)
        .sort();
      if (privileges.length === 0) continue;
      const option = grantable ? " with grant option" : "";
      lines.push(`grant ${privileges.join(", ")} on ${kind} ${name} to ${grantee}${option};`);
    }
  }
  return lines;
}

/** Rows of `sql` with `$1` = the schema names. */
async function rows<T extends pg.QueryResultRow>(client: pg.ClientBase, sql: string, schemas: readonly string[]) {
  return (await client.query<T>(sql, [schemas])).rows;
}

/** An aclexplode() of `acl` (or the default for `kind` owned by `owner`) as JSON grants. */
function grantsJson(acl: string, kind: string, owner: string): string {
  return `(select coalesce(json_agg(json_build_object(
              'grantee', case when a.grantee = 0 then 'public' else a.grantee::regrole::text end,
              'privilege', lower(a.privilege_type),
              'grantable', a.is_grantable)), '[]')
            from aclexplode(coalesce(${acl}, acldefault('${kind}', ${owner}))) a)`;
}

async function schemaSection(client: pg.ClientBase, schemas: readonly string[]): Promise<Map<string, string[]>> {
  const found = await rows<{ name: string; owner: string; comment: string | null; grants: Grant[] }>(
    client,
    `select n.nspname as name, n.nspowner::regrole::text as owner,
            obj_description(n.oid, 'pg_namespace') as comment,
            ${grantsJson("n.nspacl", "n", "n.nspowner")} as grants
       from pg_namespace n
      where n.nspname = any($1)
      order by n.nspname`,
    schemas,
  );
  const sections = new Map<string, string[]>();
  for (const schema of found) {
    sections.set(schema.name, [
      `create schema ${schema.name};`,
      ...(schema.owner === OWNER_ROLE ? [] : [`alter schema ${schema.name} owner to ${schema.owner};`]),
      ...grantLines("schema", schema.name, schema.grants, schema.owner, ["create", "usage"]),
      ...commentOn("schema", schema.name, schema.comment),
    ]);
  }
  const defaults = await rows<{ schema: string | null; role: string; kind: string; grants: Grant[] }>(
    client,
    `select n.nspname as schema, d.defaclrole::regrole::text as role,
            case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                                 when 'T' then 'types' when 'n' then 'schemas' end as kind,
            ${grantsJson("d.defaclacl", "r", "d.defaclrole")} as grants
       from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace
      where d.defaclnamespace = 0 or n.nspname = any($1)
      order by 1 nulls first, 2, 3`,
    schemas,
  );
  const global = defaults
    .filter((entry) => entry.schema === null)
    .map((entry) => {
      const privileges = entry.grants
        .filter((grant) => grant.privilege !== "maintain")
        .map((grant) => `${grant.grantee}: ${grant.privilege}${grant.grantable ? " (grantable)" : ""}`)
        .sort();
      return `-- default privileges of ${entry.role} on new ${entry.kind}: ${privileges.join(", ") || "none"}`;
    });
  if (global.length > 0) sections.set("", global);
  for (const entry of defaults.filter((entry) => entry.schema !== null)) {
    const privileges = entry.grants.map((grant) => `${grant.grantee}: ${grant.privilege}`).sort();
    sections
      .get(entry.schema as string)
      ?.push(
        `-- default privileges of ${entry.role} on new ${entry.kind} in ${entry.schema}: ${privileges.join(", ")}`,
      );
  }
  return sections;
}

async function typeLines(client: pg.ClientBase, schemas: readonly string[]): Promise<Map<string, string[]>> {
  const types = await rows<{ schema: string; name: string; definition: string; comment: string | null }>(
    client,
    `select n.nspname as schema, t.oid::regtype::text as name,
            case t.typtype
              when 'e' then 'as enum (' ||
                (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
                   from pg_enum e where e.enumtypid = t.oid) || ')'
              when 'd' then 'as ' || format_type(t.typbasetype, t.typtypmod) ||
                case when t.typnotnull then ' not null' else '' end ||
                coalesce(' default ' || t.typdefault, '') ||
                coalesce((select string_agg(' constraint ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid, true), '' order by c.conname)
                            from pg_constraint c where c.contypid = t.oid), '')
              when 'c' then 'as (' ||
                (select string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum)
                   from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) || ')'
            end as definition,
            obj_description(t.oid, 'pg_type') as comment
       from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = any($1)
        and (t.typtype in ('e', 'd') or (t.typtype = 'c' and (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c'))
        and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
      order by 1, 2`,
    schemas,
  );
  const sections = new Map<string, string[]>();
  for (const type of types) {
    const kind = type.definition.startsWith("as enum") || type.definition.startsWith("as (") ? "type" : "domain";
    sections.set(type.schema, [
      ...(sections.get(type.schema) ?? []),
      `create ${kind} ${type.name} ${type.definition};`,
      ...commentOn(kind, type.name, type.comment),
    ]);
  }
  return sections;
}

interface RelationRow {
  schema: string;
  name: string;
  kind: string;
  owner: string;
  comment: string | null;
  rls: boolean;
  force_rls: boolean;
  options: string[] | null;
  partition_key: string | null;
  view_definition: string | null;
  grants: Grant[];
  columns: {
    name: string;
    type: string;
    not_null: boolean;
    default: string | null;
    identity: string;
    generated: string;
    comment: string | null;
    grants: Grant[];
  }[];
  constraints: { name: string; definition: string }[];
  indexes: string[];
  triggers: string[];
  policies: {
    name: string;
    permissive: boolean;
    command: string;
    roles: string[];
    using: string | null;
    check: string | null;
    comment: string | null;
  }[];
}

async function relationLines(client: pg.ClientBase, schemas: readonly string[]): Promise<Map<string, string[]>> {
  const { rows: version } = await client.query<{ number: number }>(
    "select current_setting('server_version_num')::int as number",
  );
  const viewDefinition = (definition: string) =>
    (version[0]?.number ?? 0) < 160000 ? unqualifySingleRelationView(definition) : definition;
  const relations = await rows<RelationRow>(
    client,
    `select n.nspname as schema, c.oid::regclass::text as name, c.relkind::text as kind,
            c.relowner::regrole::text as owner, obj_description(c.oid, 'pg_class') as comment,
            c.relrowsecurity as rls, c.relforcerowsecurity as force_rls,
            (select array_agg(o order by o) from unnest(c.reloptions) o) as options,
            case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partition_key,
            case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid, true) end as view_definition,
            ${grantsJson("c.relacl", "r", "c.relowner")} as grants,
            (select coalesce(json_agg(json_build_object(
                      'name', a.attname,
                      'type', format_type(a.atttypid, a.atttypmod),
                      'not_null', a.attnotnull,
                      'default', pg_get_expr(ad.adbin, ad.adrelid, true),
                      'identity', a.attidentity,
                      'generated', a.attgenerated,
                      'comment', col_description(c.oid, a.attnum),
                      'grants', (select coalesce(json_agg(json_build_object(
                                          'grantee', case when g.grantee = 0 then 'public' else g.grantee::regrole::text end,
                                          'privilege', lower(g.privilege_type),
                                          'grantable', g.is_grantable)), '[]')
                                   from aclexplode(a.attacl) g)
                    ) order by a.attnum), '[]')
               from pg_attribute a
               left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
            (select coalesce(json_agg(json_build_object('name', k.conname, 'definition', pg_get_constraintdef(k.oid, true))
                      order by k.conname), '[]')
               from pg_constraint k where k.conrelid = c.oid and k.contype <> 'n') as constraints,
            (select coalesce(json_agg(pg_get_indexdef(i.indexrelid) order by i.indexrelid::regclass::text), '[]')
               from pg_index i
              where i.indrelid = c.oid
                and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = c.oid)) as indexes,
            (select coalesce(json_agg(pg_get_triggerdef(t.oid, true) order by t.tgname), '[]')
               from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal) as triggers,
            (select coalesce(json_agg(json_build_object(
                      'name', p.polname,
                      'permissive', p.polpermissive,
                      'command', case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                                               when 'd' then 'delete' else 'all' end,
                      'roles', (select array_agg(case when r = 0 then 'public' else r::regrole::text end order by 1)
                                  from unnest(p.polroles) r),
                      'using', pg_get_expr(p.polqual, p.polrelid, true),
                      'check', pg_get_expr(p.polwithcheck, p.polrelid, true),
                      'comment', obj_description(p.oid, 'pg_policy')
                    ) order by p.polname), '[]')
               from pg_policy p where p.polrelid = c.oid) as policies
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1)
        and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and not c.relispartition
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
        -- Sequences of identity and serial columns belong to their column.
        and not (c.relkind = 'S' and exists (
              select 1 from pg_depend d
               where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('i', 'a')))
      order by 1, (c.relkind in ('v', 'm')), 2`,
    schemas,
  );
  const sections = new Map<string, string[]>();
  for (const relation of relations) {
    const lines: string[] = [""];
    const kind = { r: "table", p: "table", v: "view", m: "materialized view", S: "sequence", f: "foreign table" }[
      relation.kind
    ] as string;
    const options = relation.options ? ` with (${relation.options.join(", ")})` : "";
    if (relation.kind === "v" || relation.kind === "m") {
      const definition = viewDefinition(relation.view_definition ?? "").replace(/;$/, "");
      lines.push(`create ${kind} ${relation.name}${options} as`, `${definition};`);
    } else if (relation.kind === "S") {
      lines.push(`create sequence ${relation.name};`);
    } else {
      const columns = relation.columns.map((column) => {
        const parts = [`  ${column.name} ${column.type}`];
        if (column.generated === "s") parts.push(`generated always as (${column.default}) stored`);
        else if (column.default !== null) parts.push(`default ${column.default}`);
        if (column.identity) parts.push(`generated ${column.identity === "a" ? "always" : "by default"} as identity`);
        if (column.not_null) parts.push("not null");
        return parts.join(" ");
      });
      const partition = relation.partition_key ? ` partition by ${relation.partition_key.toLowerCase()}` : "";
      lines.push(`create ${kind} ${relation.name} (`, columns.join(",\n"), `)${partition}${options};`);
      if (relation.kind === "p")
        lines.push("-- partitions (the default one, and monthly ones created at run time) are not listed");
    }
    if (relation.owner !== OWNER_ROLE) lines.push(`alter ${kind} ${relation.name} owner to ${relation.owner};`);
    if (relation.rls) lines.push(`alter table ${relation.name} enable row level security;`);
    if (relation.force_rls) lines.push(`alter table ${relation.name} force row level security;`);
    for (const constraint of relation.constraints) {
      lines.push(`alter table ${relation.name} add constraint ${constraint.name} ${constraint.definition};`);
    }
    for (const index of relation.indexes) lines.push(`${index};`);
    for (const trigger of relation.triggers) lines.push(`${trigger};`);
    for (const policy of relation.policies) {
      const parts = [`create policy ${policy.name} on ${relation.name}`];
      if (!policy.permissive) parts.push("as restrictive");
      parts.push(`for ${policy.command} to ${policy.roles.join(", ")}`);
      if (policy.using !== null) parts.push(`using (${policy.using})`);
      if (policy.check !== null) parts.push(`with check (${policy.check})`);
      lines.push(`${parts.join("\n  ")};`);
      lines.push(...commentOn(`policy ${policy.name} on`, relation.name, policy.comment));
    }
    const aclKind = relation.kind === "S" ? "sequence" : "table";
    const ownerDefault = relation.kind === "S" ? ["select", "update", "usage"] : TABLE_PRIVILEGES;
    lines.push(...grantLines(aclKind, relation.name, relation.grants, relation.owner, ownerDefault));
    const columnGrants = new Map<string, string[]>();
    for (const column of relation.columns) {
      for (const grant of column.grants) {
        const key = `${grant.privilege} (%) on table ${relation.name} to ${grant.grantee}${grant.grantable ? " with grant option" : ""}`;
        columnGrants.set(key, [...(columnGrants.get(key) ?? []), column.name]);
      }
    }
    for (const key of [...columnGrants.keys()].sort()) {
      lines.push(`grant ${key.replace("%", (columnGrants.get(key) ?? []).join(", "))};`);
    }
    lines.push(...commentOn(kind, relation.name, relation.comment));
    for (const column of relation.columns) {
      lines.push(...commentOn("column", `${relation.name}.${column.name}`, column.comment));
    }
    sections.set(relation.schema, [...(sections.get(relation.schema) ?? []), ...lines]);
  }
  return sections;
}

/**
 * Before PostgreSQL 16 a view's stored query also listed the OLD and NEW
 * pseudo-relations, so the deparser qualified every column of a view that
 * reads one relation (`SELECT t.id FROM app_public.tickets t`); from 16 on it
 * does not (`SELECT id FROM app_public.tickets t`). Subqueries and CTE
 * bodies are qualified on both. On an older server this rewrites the
 * definition to the newer form: when the view's own FROM clause holds one
 * item (no join, no comma, no set operation), the qualifier of that item is
 * dropped outside subqueries and string literals.
 */
export function unqualifySingleRelationView(definition: string): string {
  interface Span {
    start: number;
    end: number;
  }
  // Top-level text: outside literals, quoted names and subquery parentheses.
  const literals: Span[] = [];
  const subqueries: Span[] = [];
  const stack: { start: number; subquery: boolean }[] = [];
  const depthZero: boolean[] = new Array(definition.length).fill(false);
  for (let i = 0; i < definition.length; i++) {
    const char = definition[i];
    if (char === "'" || char === '"') {
      const start = i;
      for (i++; i < definition.length; i++) {
        if (definition[i] === char && definition[i + 1] === char) i++;
        else if (definition[i] === char) break;
      }
      literals.push({ start, end: i + 1 });
      continue;
    }
    if (char === "(") {
      const subquery = /^\(\s*(SELECT|WITH|VALUES)\b/i.test(definition.slice(i, i + 16));
      stack.push({ start: i, subquery });
    } else if (char === ")") {
      const open = stack.pop();
      if (open?.subquery) subqueries.push({ start: open.start, end: i + 1 });
    } else if (stack.length === 0) {
      depthZero[i] = true;
    }
  }
  const inside = (spans: Span[], at: number) => spans.some((span) => at >= span.start && at < span.end);
  // Keywords at depth zero (outside every parenthesis): the view's own clauses.
  const keyword = /\b(FROM|WHERE|GROUP|HAVING|WINDOW|ORDER|LIMIT|OFFSET|FETCH|UNION|INTERSECT|EXCEPT|JOIN)\b/g;
  const clauses: { word: string; index: number }[] = [];
  for (const match of definition.matchAll(keyword)) {
    if (depthZero[match.index] && !inside(literals, match.index))
      clauses.push({ word: match[1] as string, index: match.index });
  }
  if (clauses.some((clause) => ["UNION", "INTERSECT", "EXCEPT", "JOIN"].includes(clause.word))) return definition;
  const from = clauses.filter((clause) => clause.word === "FROM");
  if (from.length !== 1) return definition;
  const fromIndex = (from[0] as { index: number }).index;
  const next = clauses.find((clause) => clause.index > fromIndex);
  const fromEnd = next
    ? next.index
    : definition.lastIndexOf(";") >= 0
      ? definition.lastIndexOf(";")
      : definition.length;
  let item = "";
  for (let i = fromIndex + 4; i < fromEnd; i++) {
    if (depthZero[i] && !inside(literals, i)) item += definition[i];
    else if (!item.endsWith("…")) item += "…";
  }
  item = item.trim();
  if (item.includes(",")) return definition;
  // `name alias`, `name`, `…) alias`, `name(…) alias(…)`: the qualifier is the alias, else the name.
  const named = /^(?:[\w.]+|[\w.]*…\)?)\s+(\w+)(?:…)?$/.exec(item) ?? /^(?:\w+\.)?(\w+)$/.exec(item);
  const qualifier = named?.[1];
  if (!qualifier) return definition;
  const reference = new RegExp(`(?<![\\w."])${qualifier}\\.(?=[\\w"])`, "g");
  return definition.replace(reference, (found, offset: number) =>
    inside(literals, offset) || inside(subqueries, offset) ? found : "",
  );
}

async function functionLines(client: pg.ClientBase, schemas: readonly string[]): Promise<Map<string, string[]>> {
  const functions = await rows<{
    schema: string;
    signature: string;
    kind: string;
    owner: string;
    definition: string;
    comment: string | null;
    grants: Grant[];
  }>(
    client,
    `select n.nspname as schema,
            p.oid::regprocedure::text as signature,
            p.prokind::text as kind, p.proowner::regrole::text as owner,
            pg_get_functiondef(p.oid) as definition,
            obj_description(p.oid, 'pg_proc') as comment,
            ${grantsJson("p.proacl", "f", "p.proowner")} as grants
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any($1)
        and p.prokind in ('f', 'p')
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
      order by 1, 2`,
    schemas,
  );
  const sections = new Map<string, string[]>();
  for (const fn of functions) {
    const kind = fn.kind === "p" ? "procedure" : "function";
    const lines = [
      "",
      `${fn.definition.trimEnd()};`,
      ...(fn.owner === OWNER_ROLE ? [] : [`alter ${kind} ${fn.signature} owner to ${fn.owner};`]),
      ...grantLines(kind, fn.signature, fn.grants, fn.owner, ["execute"]),
      ...commentOn(kind, fn.signature, fn.comment),
    ];
    sections.set(fn.schema, [...(sections.get(fn.schema) ?? []), ...lines]);
  }
  return sections;
}

/** The catalog snapshot of `schemas`, as committed in schema.sql. */
export async function catalogSnapshot(
  client: pg.ClientBase,
  schemas: readonly string[] = CATALOG_SCHEMAS,
): Promise<string> {
  await client.query("set search_path = pg_catalog");
  const parts = await Promise.all([
    schemaSection(client, schemas),
    typeLines(client, schemas),
    relationLines(client, schemas),
    functionLines(client, schemas),
  ]);
  const out: string[] = [
    "-- The database's final state, generated from pg_catalog by",
    "-- test/database/catalog-snapshot.test.ts. Do not edit: write a migration,",
    "-- then run `npm run catalog:update` and review the difference.",
  ];
  const global = parts[0].get("");
  if (global) out.push("", ...global);
  for (const schema of [...schemas].sort()) {
    const rule = "-- ".padEnd(78, "=");
    out.push("", rule, `-- ${schema}`, rule, "");
    for (const section of parts) out.push(...(section.get(schema) ?? []));
  }
  return `${out.join("\n").replace(/\n{3,}/g, "\n\n")}\n`;
}
