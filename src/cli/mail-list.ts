import { environmentFor } from "../config/command-inputs.ts";
import { outboxDirectory } from "../mail/mail-config.ts";
import { readOutbox } from "../mail/outbox.ts";
import { runCli } from "./run-cli.ts";

/**
 * `npm run mail:list [-- --full] [-- --limit N]`: the local development
 * outbox (DATA_DIR/mail/*.eml, written when no SMTP_URL is set), newest
 * first: date, recipient, subject and the links each mail carries (a reset
 * or verification link is clicked from here). `--full` prints the text bodies.
 */
await runCli(async () => {
  const environment = environmentFor("mail:list");
  const args = process.argv.slice(2);
  const full = args.includes("--full");
  const limitAt = args.indexOf("--limit");
  const limit = limitAt >= 0 ? Math.max(1, Number(args[limitAt + 1]) || 20) : 20;
  const directory = outboxDirectory(environment.DATA_DIR);
  const entries = await readOutbox(directory, limit);
  if (entries.length === 0) {
    process.stdout.write(`No mail in ${directory}\n`);
    return;
  }
  for (const entry of entries) {
    process.stdout.write(`${entry.date}  ${entry.to}\n  ${entry.subject}\n`);
    for (const link of entry.links) process.stdout.write(`  ${link}\n`);
    if (full) process.stdout.write(`\n${entry.text.replace(/^/gm, "  | ")}\n`);
    process.stdout.write(`  (${entry.file})\n\n`);
  }
});
