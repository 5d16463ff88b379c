/**
 * A brute-force model of business time for the property tests: it walks UTC
 * minute by minute, reads each minute's local wall-clock time in the calendar's
 * zone (UTC offsets from Intl.DateTimeFormat) and asks whether an opening
 * interval holds it and no holiday closes it. Slow and obvious on purpose.
 */

export interface OracleHours {
  weekday: number; // ISO 1 Monday … 7 Sunday
  start: number; // minutes of the day, 0 … 1439
  end: number; // minutes of the day, 1 … 1440; end <= start runs overnight
}

export interface OracleVersion {
  effectiveFrom: string | null; // YYYY-MM-DD, null: since always
  hours: OracleHours[];
}

export interface OracleHoliday {
  date: string; // YYYY-MM-DD
  start?: number; // partial closure [start, end) in minutes of the day
  end?: number;
}

export interface OracleCalendar {
  zone: string;
  versions: OracleVersion[];
  holidays: OracleHoliday[];
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, number>();

function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, format);
  }
  return format;
}

/** Local wall-clock time minus UTC, in milliseconds, at an instant (from Intl). */
export function intlOffset(zone: string, at: number): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(new Date(at))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  return local - Math.floor(at / 1000) * 1000;
}

/**
 * The offset at a minute. Offsets change only on whole minutes; an hour whose
 * two ends agree is taken to hold no change (zones change at most once in an
 * hour), otherwise the minute is asked directly.
 */
function offsetAt(zone: string, minuteStart: number): number {
  const hourStart = Math.floor(minuteStart / HOUR) * HOUR;
  const key = `${zone}@${hourStart}`;
  let cached = offsetCache.get(key);
  if (cached === undefined) {
    const a = intlOffset(zone, hourStart);
    const b = intlOffset(zone, hourStart + HOUR);
    cached = a === b ? a : Number.NaN;
    offsetCache.set(key, cached);
  }
  return Number.isNaN(cached) ? intlOffset(zone, minuteStart) : cached;
}

const isoDates = new Map<number, string>();

function isoDate(dayNumber: number): string {
  let date = isoDates.get(dayNumber);
  if (date === undefined) {
    date = new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
    isoDates.set(dayNumber, date);
  }
  return date;
}

const versionCache = new WeakMap<OracleCalendar, Map<string, OracleVersion | undefined>>();

function versionFor(calendar: OracleCalendar, date: string): OracleVersion | undefined {
  let cache = versionCache.get(calendar);
  if (!cache) {
    cache = new Map();
    versionCache.set(calendar, cache);
  }
  if (cache.has(date)) return cache.get(date);
  const version = findVersion(calendar, date);
  cache.set(date, version);
  return version;
}

function findVersion(calendar: OracleCalendar, date: string): OracleVersion | undefined {
  let best: OracleVersion | undefined;
  for (const version of calendar.versions) {
    if (version.effectiveFrom !== null && version.effectiveFrom > date) continue;
    if (!best || (best.effectiveFrom ?? "") < (version.effectiveFrom ?? "")) best = version;
  }
  return best;
}

/** Whether the minute starting at `at` (ms since the epoch) is business time. */
export function isBusinessMinute(calendar: OracleCalendar, at: number): boolean {
  const local = at + offsetAt(calendar.zone, at);
  const dayNumber = Math.floor(local / 86_400_000);
  const minuteOfDay = Math.floor((local - dayNumber * 86_400_000) / MINUTE);
  const date = isoDate(dayNumber);
  for (const holiday of calendar.holidays) {
    if (holiday.date === date && minuteOfDay >= (holiday.start ?? 0) && minuteOfDay < (holiday.end ?? 1440))
      return false;
  }
  // ISO weekday: 1970-01-01 (day 0) was a Thursday (4).
  const weekday = ((((dayNumber + 3) % 7) + 7) % 7) + 1;
  const today = versionFor(calendar, date);
  for (const h of today?.hours ?? []) {
    if (h.weekday !== weekday) continue;
    const end = h.end > h.start ? h.end : 1440;
    if (minuteOfDay >= h.start && minuteOfDay < end) return true;
  }
  const yesterdayWeekday = weekday === 1 ? 7 : weekday - 1;
  const yesterday = versionFor(calendar, isoDate(dayNumber - 1));
  for (const h of yesterday?.hours ?? []) {
    if (h.weekday !== yesterdayWeekday || h.end > h.start) continue;
    if (minuteOfDay < h.end) return true;
  }
  return false;
}

/** Business minutes in [from, to) counted minute by minute; active (if given) also must hold each minute. */
export function oracleMinutesBetween(
  calendar: OracleCalendar,
  from: number,
  to: number,
  active?: (at: number) => boolean,
): number {
  let count = 0;
  for (let at = from; at < to; at += MINUTE) {
    if (isBusinessMinute(calendar, at) && (!active || active(at))) count++;
  }
  return count;
}

/** The end of the N-th business minute after `from` (from itself for 0), or null past `limit`. */
export function oracleAddMinutes(
  calendar: OracleCalendar,
  from: number,
  minutes: number,
  limit: number,
  active?: (at: number) => boolean,
): number | null {
  if (minutes === 0) return from;
  let count = 0;
  for (let at = from; at < limit; at += MINUTE) {
    if (isBusinessMinute(calendar, at) && (!active || active(at))) {
      count++;
      if (count === minutes) return at + MINUTE;
    }
  }
  return null;
}
