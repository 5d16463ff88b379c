import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
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
 *
 * Commands started together on a new data directory (`npm start` and
 * `db:dev` in two terminals) each find no file and generate secrets; the
 * file is written whole under a temporary name and linked into place, which
 * fails for all but the first, and those read the first one's secrets.
 */
export async function ensureLocalSecrets(
  dataDir: string,
): Promise<{ secrets: LocalSecrets; addedToExisting: (keyof LocalSecrets)[] }> {
  const file = path.join(dataDir, "secrets.json");
  for (;;) {
    let stored: Partial<LocalSecrets> | undefined;
    try {
      stored = JSON.parse(await readFile(file, "utf8")) as Partial<LocalSecrets>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const added = (Object.keys(GENERATORS) as (keyof LocalSecrets)[]).filter((key) => !stored?.[key]);
    const secrets = { ...stored } as LocalSecrets;
    for (const key of added) secrets[key] = GENERATORS[key]();
    if (added.length > 0 && !(await writeWhole(file, secrets, stored !== undefined))) continue;
    return { secrets, addedToExisting: stored ? added : [] };
  }
}

/**
 * Writes the file under a temporary name, then puts it in place: replacing
 * an existing file, or linking a new one, which fails (false) when another
 * command created it meanwhile.
 */
async function writeWhole(file: string, secrets: LocalSecrets, replace: boolean): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temporary, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: "wx" });
  try {
    if (replace) {
      await rename(temporary, file);
      return true;
    }
    await link(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
}

export async function loadLocalSecrets(dataDir: string): Promise<LocalSecrets> {
  return (await ensureLocalSecrets(dataDir)).secrets;
}
