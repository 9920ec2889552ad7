import { describe, expect, it } from 'vitest';
import { ClientError } from '../../shared/errors/errors.js';
import {
  addDays,
  isCalendarDate,
  isValidTimeZone,
  resolveDayRange,
  todayIn,
  useTimeZoneNames,
} from './date-range.js';

const now = new Date('2026-03-08T23:30:00Z');
// A few of the names PostgreSQL's pg_timezone_names has (the API loads the server's list).
useTimeZoneNames(['UTC', 'Asia/Tokyo', 'Europe/Berlin', 'America/New_York', 'Etc/GMT+5']);
const W = { websiteTimezone: 'UTC' };

function fieldOf(fn: () => unknown): string | null {
  try {
    fn();
  } catch (e) {
    if (e instanceof ClientError) return e.field;
    throw e;
  }
  throw new Error('expected a ClientError');
}

describe('resolveDayRange', () => {
  it('defaults end to today in the time zone and start to end − 6', () => {
    // 23:30 UTC on 8 March is already 9 March in Tokyo.
    expect(resolveDayRange({ ...W, timezone: 'Asia/Tokyo' }, now)).toEqual({
      start: '2026-03-03',
      end: '2026-03-09',
      timezone: 'Asia/Tokyo',
    });
    expect(resolveDayRange({ ...W }, now).end).toBe('2026-03-08');
  });

  it('derives start from an explicit end_date, not from today', () => {
    expect(resolveDayRange({ ...W, end_date: '2026-01-10' }, now).start).toBe('2026-01-04');
  });

  it.each([
    [{ start_date: '2026-02-30', timezone: 'UTC' }, 'start_date'],
    [{ end_date: '2026/03/01', timezone: 'UTC' }, 'end_date'],
    [{ start_date: '2026-03-05', end_date: '2026-03-01', timezone: 'UTC' }, 'end_date'],
    [{ start_date: '2025-01-01', end_date: '2026-03-01', timezone: 'UTC' }, 'start_date'],
    [{ timezone: 'Mars/Olympus' }, 'timezone'],
  ])('refuses %j naming %s', (params, field) => {
    expect(fieldOf(() => resolveDayRange({ ...W, ...params }, now))).toBe(field);
  });

  it('refuses a website time zone the database does not know, naming the zone', () => {
    const call = () => resolveDayRange({ websiteTimezone: 'US/Pacific-New' }, now);
    expect(fieldOf(call)).toBe('timezone');
    expect(call).toThrow(/US\/Pacific-New/);
  });

  it('accepts exactly 400 days', () => {
    expect(
      resolveDayRange({ ...W, start_date: '2025-01-01', end_date: addDays('2025-01-01', 399) }, now)
        .start,
    ).toBe('2025-01-01');
  });
});

describe('isValidTimeZone', () => {
  it('needs a name both PostgreSQL and Intl know, never an offset', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Etc/GMT+5')).toBe(true);
    // Intl accepts it on Node 20, PostgreSQL does not know it.
    expect(isValidTimeZone('US/Pacific-New')).toBe(false);
    // Node 22 and 24 accept offsets, which PostgreSQL reads with the sign inverted.
    for (const tz of ['+05:30', '-0800', 'UTC+5', 'GMT-3', '']) {
      expect(isValidTimeZone(tz)).toBe(false);
    }
  });
});

describe('date helpers', () => {
  it('validates calendar dates', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2025-02-29')).toBe(false);
    expect(isCalendarDate('2025-2-1')).toBe(false);
  });

  it('adds days across month and year ends', () => {
    expect(addDays('2025-12-31', 1)).toBe('2026-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });

  it('computes today in a zone west of UTC', () => {
    expect(todayIn('America/New_York', new Date('2026-03-08T03:00:00Z'))).toBe('2026-03-07');
  });
});
