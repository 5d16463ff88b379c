import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Secrets of a local (non-production) installation: generated once, kept in
 * the data directory with owner-only permissions, reused on every start so
 * tokens and role passwords survive restarts.
 */
export interface LocalSecrets {
  jwtSecret: string;
  superuserPassword: string;
  ownerPassword: string;
  authenticatorPassword: string;
}

const generate = (): string => randomBytes(32).toString("base64url");

export async function loadLocalSecrets(dataDir: string): Promise<LocalSecrets> {
  const file = path.join(dataDir, "secrets.json");
  try {
    return JSON.parse(await readFile(file, "utf8")) as LocalSecrets;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const secrets: LocalSecrets = {
    jwtSecret: generate(),
    superuserPassword: generate(),
    ownerPassword: generate(),
    authenticatorPassword: generate(),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: "wx" });
  return secrets;
}
