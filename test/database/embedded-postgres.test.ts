import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/database/embedded-postgres.ts";
import { readPostmaster } from "../../src/database/postmaster.ts";
import { ServerLeases } from "../../src/database/server-leases.ts";
import { freePort } from "../../src/net/free-port.ts";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "ticketing-embedded-"));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** A live process that is not PostgreSQL. */
function someOtherProcess() {
  return spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
}

describe("leases on a local server", () => {
  it("count live processes only and prune those of dead ones", async () => {
    const databaseDir = path.join(dataDir, "postgres");
    const leases = new ServerLeases(databaseDir);
    leases.take();
    const other = someOtherProcess();
    const dead = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => dead.once("exit", resolve));
    try {
      await writeFile(path.join(leases.folder, String(other.pid)), "");
      await writeFile(path.join(leases.folder, String(dead.pid)), "");
      expect(leases.holders().sort()).toEqual([process.pid, other.pid].sort());
      expect(await readdir(leases.folder)).not.toContain(String(dead.pid));
      expect(leases.giveBack()).toEqual({ othersRemain: true });
      other.kill();
      await new Promise((resolve) => other.once("exit", resolve));
      expect(leases.holders()).toEqual([]);
    } finally {
      other.kill();
    }
  });
});

describe("a lock file naming a process that is not the server", () => {
  it("stops start-up with a line saying which file to delete, and leaves no lease", { timeout: 30_000 }, async () => {
    const databaseDir = path.join(dataDir, "postgres");
    await mkdir(databaseDir, { recursive: true });
    const other = someOtherProcess();
    try {
      const port = await freePort();
      // pid, data directory, start time, port, socket directory, listen address, shared memory key, status
      await writeFile(
        path.join(databaseDir, "postmaster.pid"),
        `${other.pid}\n${databaseDir}\n0\n${port}\n/tmp\n127.0.0.1\n0 0\nready   \n`,
      );
      await expect(
        startEmbeddedPostgres({ dataDir: databaseDir, port, password: "unused", persistent: true }),
      ).rejects.toThrow(
        `names process ${other.pid}, which does not answer as PostgreSQL on port ${port}; if no PostgreSQL runs on ${databaseDir}, delete that file`,
      );
      expect(existsSync(path.join(`${databaseDir}.leases`, String(process.pid)))).toBe(false);
    } finally {
      other.kill();
    }
  });
});

describe("a data directory that is neither empty nor a cluster", () => {
  it("stops start-up with a line naming it, and leaves no staging folder", { timeout: 60_000 }, async () => {
    const databaseDir = path.join(dataDir, "postgres");
    await mkdir(databaseDir, { recursive: true });
    await writeFile(path.join(databaseDir, "notes.txt"), "not a database");
    // As root the server runs as the `postgres` system user, which must reach the folder.
    await chmod(dataDir, 0o755);
    await expect(
      startEmbeddedPostgres({ dataDir: databaseDir, port: await freePort(), password: "unused", persistent: true }),
    ).rejects.toThrow(
      `${databaseDir} is not empty and holds no PostgreSQL cluster; move it away or choose another DATA_DIR`,
    );
    expect((await readdir(dataDir)).filter((name) => name.includes(".initdb-"))).toEqual([]);
    expect(await readdir(databaseDir)).toEqual(["notes.txt"]);
  });
});

describe("a command arriving while the last user stops the server", () => {
  it("waits until it has stopped and starts a new one", { timeout: 120_000 }, async () => {
    // As root the server runs as the `postgres` system user, which must reach the folder.
    await chmod(dataDir, 0o755);
    const databaseDir = path.join(dataDir, "postgres");
    const options = { dataDir: databaseDir, port: await freePort(), password: "pw-stopping", persistent: true };
    const first = await startEmbeddedPostgres(options);
    const before = readPostmaster(databaseDir)!;
    // A session that keeps the smart shutdown waiting until it escalates.
    const lingering = new pg.Client({ connectionString: first.rootUrl });
    lingering.on("error", () => undefined);
    await lingering.connect();
    const stopping = first.stop();
    await expect.poll(() => readPostmaster(databaseDir)?.status, { timeout: 10_000 }).toBe("stopping");

    const second = await startEmbeddedPostgres(options);
    await stopping;
    await lingering.end().catch(() => undefined);
    try {
      expect(second.reused).toBe(false);
      expect(readPostmaster(databaseDir)?.pid).not.toBe(before.pid);
      const client = new pg.Client({ connectionString: second.rootUrl });
      await client.connect();
      expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
      await client.end();
    } finally {
      await second.stop();
    }
    expect(readPostmaster(databaseDir)).toBeUndefined();
  });
});

describe("importing embedded-postgres", () => {
  it("leaves the process's exit code alone (its exit hook would turn a failing run into exit 0)", () => {
    const module = new URL("../../src/database/embedded-postgres.ts", import.meta.url).href;
    const script = `const m = await import(${JSON.stringify(module)}); await m.importWithoutSignalHandlers(); process.exitCode = 3;`;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(3);
  });
});
