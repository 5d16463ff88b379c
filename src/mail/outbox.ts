import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { simpleParser } from "mailparser";

/** A mail of the local development outbox (DATA_DIR/mail/*.eml), as `npm run mail:list` shows it. */
export interface OutboxEntry {
  file: string;
  date: string;
  to: string;
  subject: string;
  links: string[];
  text: string;
}

const LINK = /https?:\/\/[^\s<>"')]+/g;

/** The newest `limit` mails of the outbox, newest first; an absent outbox is empty. */
export async function readOutbox(directory: string, limit = 20): Promise<OutboxEntry[]> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => name.endsWith(".eml"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const newest = names.sort().reverse().slice(0, limit);
  const entries: OutboxEntry[] = [];
  for (const name of newest) {
    const file = path.join(directory, name);
    const parsed = await simpleParser(await readFile(file));
    const to = Array.isArray(parsed.to) ? parsed.to.map((a) => a.text).join(", ") : (parsed.to?.text ?? "");
    const text = parsed.text ?? "";
    entries.push({
      file,
      date: parsed.date?.toISOString() ?? "",
      to,
      subject: parsed.subject ?? "",
      links: [...new Set(text.match(LINK) ?? [])],
      text,
    });
  }
  return entries;
}
