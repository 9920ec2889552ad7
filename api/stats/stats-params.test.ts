import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientError } from '../../shared/errors/errors.js';
import { normalizeWebsiteInput } from '../websites/website-input.js';
import { resolveDayRange, useTimeZoneNames } from './date-range.js';
import { decodeCursor } from './stats.service.js';
import { parseRybbitFilters, resolveIncludeBots, RYBBIT_FILTER_FIELDS } from './stats-params.js';

/**
 * Issue 12 §2, property tests of the API's hand-written input parsers (the ones TypeBox does
 * not cover): whatever a client sends, each either returns a value or throws a ClientError with
 * a 4xx status naming a field (the error handler turns it into the documented body); nothing
 * else escapes to become a 500.
 */
function outcome(fn: () => unknown): 'ok' | { status: number; field: string | null } {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    return { status: err.statusCode, field: err.field };
  }
}

const nasty = fc.constantFrom(
  '',
  '\u0000',
  '\ud800',
  'İ',
  'ß',
  'ς',
  '__proto__',
  'constructor',
  'toString',
  '(?<n>a)',
  '\\p{L}',
  '.*.*.*=',
  '[',
  '+05:30',
  'US/Pacific-New',
  '2026-02-30',
);
const text = fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 30 }), fc.string());
const anyJson = fc.jsonValue({ maxDepth: 4 });

describe('property: statistics parameters are parsed or refused with a 4xx naming a field', () => {
  const filter = fc.record(
    {
      parameter: fc.oneof(fc.constantFrom(...Object.keys(RYBBIT_FILTER_FIELDS)), text, anyJson),
      type: fc.oneof(
        fc.constantFrom('equals', 'not_equals', 'contains', 'not_contains', 'regex'),
        text,
        anyJson,
      ),
      value: fc.oneof(fc.array(text, { maxLength: 25 }), anyJson),
      extra: anyJson,
    },
    { requiredKeys: [] },
  );
  const filtersParam = fc.oneof(
    text,
    anyJson.map((v) => JSON.stringify(v)),
    fc.array(fc.oneof(filter, anyJson), { maxLength: 25 }).map((v) => JSON.stringify(v)),
  );

  it('Rybbit filters', () => {
    fc.assert(
      fc.property(filtersParam, (raw) => {
        const o = outcome(() => parseRybbitFilters(raw));
        if (o !== 'ok') {
          expect(o.status).toBe(422);
          expect(o.field).toMatch(/^filters/);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('date ranges, time zones and include_bots', () => {
    useTimeZoneNames(['UTC', 'Europe/Berlin', 'America/Los_Angeles']);
    const date = fc.oneof(
      text,
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
    );
    const zone = fc.oneof(text, fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata'));
    fc.assert(
      fc.property(
        fc.option(date, { nil: undefined }),
        fc.option(date, { nil: undefined }),
        fc.option(zone, { nil: undefined }),
        zone,
        fc.option(text, { nil: undefined }),
        (start_date, end_date, timezone, websiteTimezone, bots) => {
          const o = outcome(() =>
            resolveDayRange({ start_date, end_date, timezone, websiteTimezone }),
          );
          if (o !== 'ok') {
            expect(o.status).toBe(422);
            expect(['start_date', 'end_date', 'timezone']).toContain(o.field);
          }
          const b = outcome(() => resolveIncludeBots(bots, 'strict'));
          if (b !== 'ok') expect(b).toEqual({ status: 422, field: 'include_bots' });
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('session cursors', () => {
    const cursor = fc.oneof(
      text,
      anyJson.map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
      fc
        .tuple(
          fc.oneof(
            text,
            fc.date().map((d) => String(d)),
          ),
          text,
        )
        .map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
    );
    fc.assert(
      fc.property(cursor, (raw) => {
        const o = outcome(() => decodeCursor(raw));
        if (o !== 'ok') expect(o).toEqual({ status: 422, field: 'cursor' });
      }),
      { numRuns: 2_000 },
    );
  });

  it('website input', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            name: text,
            domain: fc.oneof(text, fc.domain()),
            allowed_origins: fc.array(fc.oneof(text, fc.webUrl()), { maxLength: 4 }),
            timezone: text,
            bot_policy: fc.constantFrom('strict', 'off') as fc.Arbitrary<'strict'>,
          },
          { requiredKeys: [] },
        ),
        (input) => {
          const o = outcome(() => normalizeWebsiteInput(input));
          if (o !== 'ok') {
            expect(o.status).toBe(422);
            expect(o.field).toMatch(/^(name|domain|allowed_origins|timezone)/);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
