import { mkdirSync, readdirSync, unlinkSync, writeFileSync } from "node:fs";
import { isRunning } from "./postmaster.ts";

/**
 * Which processes use a local PostgreSQL server: one empty file per process,
 * named by its pid, in a folder next to the data directory. Every command
 * takes a lease before it uses the server and gives it back when done; the
 * one that gives back the last live lease stops the server. A process that
 * died without giving its lease back (SIGKILL, crash) is pruned the next
 * time anyone looks, so a server it left running is stopped by whichever
 * command uses it last.
 *
 * Synchronous on purpose: leases are also given back from an `exit` handler.
 */
export class ServerLeases {
  readonly folder: string;
  private readonly own = String(process.pid);

  constructor(databaseDir: string) {
    this.folder = `${databaseDir}.leases`;
  }

  take(): void {
    mkdirSync(this.folder, { recursive: true });
    writeFileSync(`${this.folder}/${this.own}`, "");
  }

  /** Gives this process's lease back; says whether other live processes still hold one. */
  giveBack(): { othersRemain: boolean } {
    try {
      unlinkSync(`${this.folder}/${this.own}`);
    } catch {
      // Already given back.
    }
    return { othersRemain: this.holders().length > 0 };
  }

  /** Pids of the live processes holding a lease; leases of dead processes are removed. */
  holders(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.folder);
    } catch {
      return [];
    }
    const live: number[] = [];
    for (const name of names) {
      const pid = Number(name);
      if (Number.isInteger(pid) && pid > 0 && isRunning(pid)) {
        live.push(pid);
        continue;
      }
      try {
        unlinkSync(`${this.folder}/${name}`);
      } catch {
        // Pruned by someone else meanwhile.
      }
    }
    return live;
  }
}
