import { readFileSync } from "node:fs";

/**
 * How production runs the API, read from the files that say it (the
 * Dockerfile, package.json) so that the bench and the tests run their
 * processes the same way. Only node:fs here: vitest.config.ts imports it.
 */

/**
 * The glibc settings of the production image (the Dockerfile's
 * `ENV GLIBC_TUNABLES=…`: argon2's 64 MiB in huge pages, docs/performance.md
 * "Password hashing and page faults"), read from the Dockerfile so that the
 * API and the ceiling are measured as the image runs them. glibc reads them
 * when a process starts, so they go into each child's environment.
 */
export function imageGlibcTunables(): { GLIBC_TUNABLES?: string } {
  const dockerfile = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
  const value = /^ENV GLIBC_TUNABLES=(\S+)$/m.exec(dockerfile)?.[1];
  return value ? { GLIBC_TUNABLES: value } : {};
}

/**
 * The Node flags `npm start` gives the API (its memory budget, see
 * docs/performance.md "Memory"), read from package.json so the API measured
 * here runs as deployed; the Dockerfile's CMD repeats them.
 */
export function startScriptNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    scripts: { start: string };
  };
  const words = scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf("src/cli/start.ts"));
}
