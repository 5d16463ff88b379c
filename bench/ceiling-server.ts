import "../src/cli/graphile-env.ts";
import http from "node:http";
import pg from "pg";
import { verifyAccessToken } from "../src/auth/access-tokens.ts";
import { login } from "../src/auth/authentication.ts";
import type { JwtConfig } from "../src/config/app-config.ts";
import { inRequestTransaction } from "../src/database/request-transaction.ts";
import { createLogger } from "../src/observability/logger.ts";
import { CEILING_SQL } from "./scenarios.ts";

/**
 * The raw-SQL ceiling: what a hand-written API gets. A bare node:http server
 * and a pg pool; each request verifies the same JWT, opens a transaction,
 * sets the same role and claims, runs the scenario's SQL and returns its
 * JSON (as a named prepared statement). Login runs the project's own login flow without GraphQL. Started as
 * a child process by bench/cli.ts (PORT, DATABASE_URL, JWT_SECRET, POOL_SIZE).
 */
const jwt: JwtConfig = {
  secret: process.env.JWT_SECRET!,
  issuer: "ticketing-api",
  audience: "ticketing-clients",
  accessTokenSeconds: 3600,
};
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 20) });
pool.on("error", () => undefined);
const logger = createLogger("silent");

async function readBody(req: http.IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

async function runScenario(scenario: string, authorization: string | undefined, params: unknown[]): Promise<unknown> {
  const claims = verifyAccessToken(jwt, (authorization ?? "").replace(/^Bearer /, ""));
  // A named statement, prepared once per connection, as PostGraphile's
  // queries are (@dataplan/pg names them): PostgreSQL may then keep a generic
  // plan instead of planning every request; planning the ticket detail's
  // history over every monthly partition cost more than running it.
  const query = { name: `ceiling_${scenario}`, text: CEILING_SQL[scenario]!, values: params };
  return inRequestTransaction(pool, claims, async (client) => (await client.query(query)).rows[0]?.result ?? null);
}

const server = http.createServer(async (req, res) => {
  try {
    const body = await readBody(req);
    const scenario = (req.url ?? "/").slice(1);
    const data =
      scenario === "login"
        ? {
            accessToken: (await login({ pool, jwt, logger }, body, { ip: req.headers["x-forwarded-for"] as string }))
              .accessToken,
          }
        : await runScenario(scenario, req.headers.authorization, body.params ?? []);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
  } catch (error) {
    res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: String(error) }));
  }
});

server.listen(Number(process.env.PORT), "127.0.0.1", () => process.send?.("ready"));
process.on("SIGTERM", () => server.close(() => pool.end().then(() => process.exit(0))));
