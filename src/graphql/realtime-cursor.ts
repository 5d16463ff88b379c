import { SafeError } from "postgraphile/grafast";

/**
 * The cursor of a realtime event: its event id, opaque to clients (base64 of
 * `event:<id>`). A subscription given `after: <cursor>` replays from there
 * (docs/realtime.md); how far back it may go is decided in SQL
 * (app_private.realtime_events_after).
 */
const PREFIX = "event:";
const EVENT_ID = /^(0|[1-9][0-9]{0,17})$/;

export function cursorOf(eventId: string): string {
  return Buffer.from(`${PREFIX}${eventId}`).toString("base64");
}

export function cursorExpired(message = "This cursor cannot be resumed from; reload and subscribe again"): SafeError {
  return new SafeError(message, { code: "CURSOR_EXPIRED" });
}

/** The event id a cursor names; CURSOR_EXPIRED for anything that is not one of ours. */
export function eventIdOf(cursor: string): string {
  const text = cursor.length <= 64 ? Buffer.from(cursor, "base64").toString("utf8") : "";
  const id = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : "";
  if (!EVENT_ID.test(id) || cursorOf(id) !== cursor) throw cursorExpired();
  return id;
}
