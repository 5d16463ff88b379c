import "./graphile-env.ts";
import { parseArgs } from "node:util";
import pg from "pg";
import { storableText } from "../auth/account-input.ts";
import { createUserAccount, type UserRole } from "../auth/auth-store.ts";
import { passwordWeakness } from "../auth/password-policy.ts";
import { hashPassword } from "../auth/passwords.ts";
import { environmentFor } from "../config/command-inputs.ts";
import { constraintMessage } from "../graphql/constraint-messages.ts";
import { startLocalDatabase, type LocalDatabase } from "../database/local-database.ts";
import { commandLogger, runCli } from "./run-cli.ts";

/**
 * `npm run user:create -- --email E --role customer|agent|admin [--name N] --password-stdin`
 * Creates a user (typically the first admin of a deployment) through
 * app_private.create_user_account, as the owner (DATABASE_OWNER_URL, its only
 * input; outside production without it, the local embedded database, shared
 * with a running `npm start`). The password is read from standard
 * input so it never appears in the process list or the shell history.
 */
const USAGE = "usage: npm run user:create -- --email E --role customer|agent|admin [--name N] --password-stdin";
const ROLES: readonly UserRole[] = ["customer", "agent", "admin"];
const MAX_STDIN_BYTES = 64 * 1024;

class UsageError extends Error {}

interface Options {
  email: string;
  role: UserRole;
  displayName: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      email: { type: "string" },
      role: { type: "string" },
      name: { type: "string" },
      "password-stdin": { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.email) throw new UsageError(`--email is required (${USAGE})`);
  if (!values.role || !ROLES.includes(values.role as UserRole)) {
    throw new UsageError(`--role must be one of ${ROLES.join(", ")} (${USAGE})`);
  }
  if (!values["password-stdin"]) {
    throw new UsageError(`--password-stdin is required: pipe the password in, never pass it as an argument (${USAGE})`);
  }
  // The database checks and normalises both (the same rules as register and createUser).
  const email = storableText(values.email);
  return {
    email,
    role: values.role as UserRole,
    displayName: storableText(values.name ?? email.split("@")[0] ?? email),
  };
}

async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError("Password on standard input is too long");
    chunks.push(buffer);
  }
  // One trailing newline comes from `echo` or a here-string; it is not part of the password.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function ownerConnection(): Promise<{ url: string; local?: LocalDatabase }> {
  const environment = environmentFor("user:create");
  if (environment.DATABASE_OWNER_URL) return { url: environment.DATABASE_OWNER_URL };
  const local = await startLocalDatabase(
    environment,
    commandLogger(environment.LOG_LEVEL === "info" ? "warn" : environment.LOG_LEVEL),
  );
  return { url: local.urls.owner, local };
}

async function insertUser(url: string, options: Options, passwordHash: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { id } = await createUserAccount(client, { ...options, passwordHash });
    return id;
  } catch (error) {
    const { code, constraint } = error as { code?: string; constraint?: string };
    if (code === "TKEML") throw new Error(`${options.email} is already registered`);
    if (code === "23514") throw new UsageError(constraintMessage(constraint) ?? "Invalid email or name");
    throw error;
  } finally {
    await client.end();
  }
}

await runCli(async () => {
  const options = parseOptions(process.argv.slice(2));
  const password = await readPassword();
  const weakness = passwordWeakness(password, options.email);
  if (weakness) throw new UsageError(weakness);
  const passwordHash = await hashPassword(password);
  const { url, local } = await ownerConnection();
  try {
    const id = await insertUser(url, options, passwordHash);
    process.stdout.write(`Created ${options.role} ${options.email} (id ${id})\n`);
  } finally {
    await local?.stop();
  }
});
