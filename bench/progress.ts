/**
 * Progress on stderr: one line per step, and a bar for steps that count
 * (seeding). On a terminal the bar redraws in place; otherwise it prints a
 * line at every tenth, so logs stay short.
 */
export type ProgressReporter = (step: string, done?: number, total?: number) => void;

const WIDTH = 30;

function elapsed(since: number): string {
  const seconds = Math.round((Date.now() - since) / 1000);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s` : `${seconds}s`;
}

export function progressReporter(prefix: string, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const started = Date.now();
  let barOpen = false;
  let lastTenth = -1;
  return (step, done, total) => {
    if (done === undefined || total === undefined || total <= 0) {
      if (barOpen) stream.write("\n");
      barOpen = false;
      stream.write(`[${prefix}] ${step} (${elapsed(started)})\n`);
      return;
    }
    const share = Math.min(1, done / total);
    const filled = Math.round(share * WIDTH);
    const line = `[${prefix}] ${step} [${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${Math.round(share * 100)}% ${done}/${total} (${elapsed(started)})`;
    if (stream.isTTY) {
      stream.write(`\r${line}`);
      barOpen = done < total;
      if (!barOpen) stream.write("\n");
      return;
    }
    const tenth = Math.floor(share * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      stream.write(`${line}\n`);
    }
  };
}
