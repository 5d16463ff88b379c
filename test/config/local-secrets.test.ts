import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureLocalSecrets, loadLocalSecrets } from "../../src/config/local-secrets.ts";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "ticketing-secrets-"));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("local secrets", () => {
  it("are generated once per data directory, readable by its owner only", async () => {
    const first = await ensureLocalSecrets(dataDir);
    expect(first.addedToExisting).toEqual([]);
    expect(first.secrets.demoPassword).toMatch(/^demo-[\w-]{16}$/);
    expect((await stat(path.join(dataDir, "secrets.json"))).mode & 0o777).toBe(0o600);
    expect(await loadLocalSecrets(dataDir)).toEqual(first.secrets);

    const other = await mkdtemp(path.join(tmpdir(), "ticketing-secrets-"));
    try {
      const secrets = await loadLocalSecrets(other);
      for (const key of Object.keys(secrets) as (keyof typeof secrets)[])
        expect(secrets[key]).not.toBe(first.secrets[key]);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it("complete a file written before demo passwords were generated, keeping what it holds", async () => {
    const old = { jwtSecret: "j".repeat(43), superuserPassword: "s", ownerPassword: "o", authenticatorPassword: "a" };
    await writeFile(path.join(dataDir, "secrets.json"), JSON.stringify(old), { mode: 0o600 });
    const { secrets, addedToExisting } = await ensureLocalSecrets(dataDir);
    expect(addedToExisting).toEqual(["demoPassword"]);
    expect(secrets).toMatchObject(old);
    expect(JSON.parse(await readFile(path.join(dataDir, "secrets.json"), "utf8"))).toEqual(secrets);
    expect((await ensureLocalSecrets(dataDir)).addedToExisting).toEqual([]);
  });

  it("are the same for commands started together on a new data directory", async () => {
    // npm start and db:dev in two terminals at once: each reads no file and generates secrets.
    const results = await Promise.all(Array.from({ length: 4 }, () => ensureLocalSecrets(dataDir)));
    const stored = JSON.parse(await readFile(path.join(dataDir, "secrets.json"), "utf8"));
    for (const { secrets, addedToExisting } of results) {
      expect(secrets).toEqual(stored);
      expect(addedToExisting).toEqual([]);
    }
    expect((await stat(path.join(dataDir, "secrets.json"))).mode & 0o777).toBe(0o600);
  });
});
