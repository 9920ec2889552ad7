import type { Queryable } from '../../shared/db/pool.js';
import { timeZoneRepository } from '../../shared/db/repositories/time-zone.repository.js';
import { validationError } from '../../shared/errors/errors.js';

/** An inclusive range of calendar days in a time zone. */
export interface DayRange {
  start: string;
  end: string;
  timezone: string;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const MAX_RANGE_DAYS = 400;

let databaseZones: ReadonlySet<string> | null = null;

/**
 * Sets the time zone names the database knows (from `pg_timezone_names`); the API loads them
 * once at start-up ({@link loadTimeZones}), tests may pass their own.
 */
export function useTimeZoneNames(names: Iterable<string>): void {
  databaseZones = new Set(names);
}

/** Loads the database's time zone names; call once before validating time zones. */
export async function loadTimeZones(q: Queryable): Promise<void> {
  useTimeZoneNames(await timeZoneRepository.names(q));
}

/** `+05:30`, `-0800`, `UTC+5`, `GMT-3`: offsets, not zones (PostgreSQL inverts their sign). */
const OFFSET_FORM = /^(?:utc|gmt)?\s*[+-]\d/i;

/**
 * A time zone both sides read the same way: an IANA name that JavaScript's `Intl` accepts AND
 * the database knows, never an offset form. JavaScript alone accepts names PostgreSQL does not
 * know (`US/Pacific-New`, which then fails every statistics query) and, on Node 22 and 24,
 * offsets such as `+05:30`, which PostgreSQL reads as POSIX offsets with the sign inverted.
 */
export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64 || OFFSET_FORM.test(tz)) {
    return false;
  }
  if (databaseZones === null) throw new Error('time zones not loaded (loadTimeZones)');
  if (!databaseZones.has(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Today's calendar date (YYYY-MM-DD) in `tz`. */
export function todayIn(tz: string, now: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}

/** True for a real calendar date written YYYY-MM-DD (rejects 2026-02-30). */
export function isCalendarDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

export function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function daysBetween(start: string, end: string): number {
  return Math.round(
    (Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000,
  );
}

/**
 * Resolves the Sparklytics date parameters: `end_date` defaults to today in the time zone,
 * `start_date` to `end_date` − 6; both inclusive. Bad input is a 422 naming the field, never
 * silently replaced by a default.
 */
export function resolveDayRange(
  params: {
    start_date?: string;
    end_date?: string;
    /** The requested zone; absent → the website's. */
    timezone?: string;
    websiteTimezone: string;
    timezoneField?: string;
  },
  now: Date = new Date(),
): DayRange {
  const field = params.timezoneField ?? 'timezone';
  const timezone = params.timezone ?? params.websiteTimezone;
  if (!isValidTimeZone(timezone)) {
    throw validationError(
      params.timezone === undefined
        ? `the website's time zone "${timezone}" is not one the database and JavaScript both know; change it (PUT /api/websites/:website_id) or pass ${field}`
        : `unknown time zone "${timezone}" (an IANA name such as Europe/Berlin; offsets are not time zones)`,
      field,
    );
  }
  if (params.start_date !== undefined && !isCalendarDate(params.start_date)) {
    throw validationError('start_date must be a date written YYYY-MM-DD', 'start_date');
  }
  if (params.end_date !== undefined && !isCalendarDate(params.end_date)) {
    throw validationError('end_date must be a date written YYYY-MM-DD', 'end_date');
  }
  const end = params.end_date ?? todayIn(timezone, now);
  const start = params.start_date ?? addDays(end, -6);
  const span = daysBetween(start, end);
  if (span < 0) throw validationError('end_date is before start_date', 'end_date');
  if (span + 1 > MAX_RANGE_DAYS) {
    throw validationError(`the range spans more than ${MAX_RANGE_DAYS} days`, 'start_date');
  }
  return { start, end, timezone };
}
