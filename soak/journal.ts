/**
 * What the simulated users were told succeeded. Only a mutation answered
 * with HTTP 200, no errors and the expected payload is journaled; each entry
 * holds what verify.ts must find in the database afterwards.
 */
export type JournalEntry =
  | { kind: "register"; at: number; userId: string; email: string }
  | { kind: "ticket"; at: number; ticketId: string; customerId: string; actorId: string; subject: string }
  | {
      kind: "comment";
      at: number;
      commentId: string;
      ticketId: string;
      authorId: string;
      body: string;
      isInternal: boolean;
    }
  | { kind: "transition"; at: number; ticketId: string; actorId: string; toStatus: string; note: string }
  | { kind: "take"; at: number; ticketId: string; agentId: string }
  | { kind: "assign"; at: number; ticketId: string; actorId: string; agentId: string };

export class Journal {
  readonly entries: JournalEntry[] = [];

  record(entry: JournalEntry): void {
    this.entries.push(entry);
  }

  ofKind<K extends JournalEntry["kind"]>(kind: K): Extract<JournalEntry, { kind: K }>[] {
    return this.entries.filter((entry): entry is Extract<JournalEntry, { kind: K }> => entry.kind === kind);
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const entry of this.entries) counts[entry.kind] = (counts[entry.kind] ?? 0) + 1;
    return counts;
  }

  toNdjson(): string {
    return `${this.entries.map((entry) => JSON.stringify(entry)).join("\n")}\n`;
  }
}
