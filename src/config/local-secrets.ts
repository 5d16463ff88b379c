import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Secrets of a local (non-production) installation: generated once, kept in
 * the data directory with owner-only permissions, reused on every start so
 * tokens, role passwords and demo logins survive restarts. Nothing here is
 * published: each data directory has its own.
 */
export interface LocalSecrets {
  jwtSecret: string;
  superuserPassword: string;
  ownerPassword: string;
  authenticatorPassword: string;
  /** The password of every demo login. */
  demoPassword: string;
}

const GENERATORS: Record<keyof LocalSecrets, () => string> = {
  jwtSecret: () => randomBytes(32).toString("base64url"),
  superuserPassword: () => randomBytes(32).toString("base64url"),
  ownerPassword: () => randomBytes(32).toString("base64url"),
  authenticatorPassword: () => randomBytes(32).toString("base64url"),
  // Short enough to type at a login form, long enough not to be guessed.
  demoPassword: () => `demo-${randomBytes(12).toString("base64url")}`,
};

/**
 * The data directory's secrets, creating the file (or the secrets a file
 * written by an older version lacks). `addedToExisting` names the secrets
 * generated now for a file that already existed.
 */
export async function ensureLocalSecrets(
  dataDir: string,
): Promise<{ secrets: LocalSecrets; addedToExisting: (keyof LocalSecrets)[] }> {
  const file = path.join(dataDir, "secrets.json");
  let stored: Partial<LocalSecrets> | undefined;
  try {
    stored = JSON.parse(await readFile(file, "utf8")) as Partial<LocalSecrets>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const added = (Object.keys(GENERATORS) as (keyof LocalSecrets)[]).filter((key) => !stored?.[key]);
  const secrets = { ...stored } as LocalSecrets;
  for (const key of added) secrets[key] = GENERATORS[key]();
  if (added.length > 0) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: stored ? "w" : "wx" });
  }
  return { secrets, addedToExisting: stored ? added : [] };
}

export async function loadLocalSecrets(dataDir: string): Promise<LocalSecrets> {
  return (await ensureLocalSecrets(dataDir)).secrets;
}
