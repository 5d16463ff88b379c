import { Logger } from "graphile-migrate";

/**
 * What `npm run db:dev -- watch` prints while a developer edits
 * migrations/current/: one plain line per apply, and a failure as the
 * database reported it — the statement around the error with a caret, the
 * SQLSTATE, detail and hint — instead of escaped one-line JSON with a stack
 * trace. Written to standard error; the database is unchanged after a
 * failure (the migration runs in one transaction).
 */
interface DatabaseError {
  message?: string;
  code?: string;
  detail?: string;
  hint?: string;
  _gmMessageOverride?: string;
}

const time = () => new Date().toISOString().slice(11, 19);

export function formatWatchFailure(error: DatabaseError | undefined, message: string): string {
  const lines = [`${time()} ✖ migrations/current failed — nothing was applied; fix the file and save to try again.`];
  // graphile-migrate's excerpt of the statement, with the position marked (when PostgreSQL gave one).
  if (error?._gmMessageOverride) lines.push(error._gmMessageOverride);
  else lines.push(`  ${error?.code ? `${error.code}: ` : ""}${error?.message ?? message}`);
  if (error?.detail) lines.push(`  detail: ${error.detail}`);
  if (error?.hint) lines.push(`  hint: ${error.hint}`);
  return `${lines.join("\n")}\n`;
}

export function watchReporter(write: (text: string) => void = (text) => void process.stderr.write(text)): Logger {
  return new Logger(() => (level, message, meta) => {
    if (level === "error") {
      write(formatWatchFailure(meta?.error as DatabaseError | undefined, message));
      return;
    }
    const finished = /Finished \((\d+)ms/.exec(message);
    if (/Running current\.sql/.test(message)) write(`${time()} applying migrations/current …\n`);
    else if (finished) write(`${time()} ✔ applied migrations/current (${finished[1]} ms)\n`);
    else if (/current\.sql unchanged/.test(message))
      write(`${time()} migrations/current unchanged (only comments or spacing)\n`);
    else if (level === "warning") write(`${time()} warning: ${message}\n`);
    else if (level === "info") write(`${time()} ${message}\n`);
  });
}
