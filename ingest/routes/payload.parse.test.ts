import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientError } from '../../shared/errors/errors.js';
import { parseCollectBody } from './collect.route.js';
import { parseTimestamp, screenWidthOf } from './payload.parse.js';
import { parseTrackBody } from './track.route.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ClientError
      ? { status: err.statusCode, code: err.code, field: err.field }
      : err;
  }
  return 'no error';
};

describe('collect payload parsing', () => {
  const ok = { website_id: 'site_abcdefghij', type: 'pageview', url: '/' };

  it('names the first invalid field of a batch', () => {
    expect(fieldOf(() => parseCollectBody([ok, ok, ok, { ...ok, type: 'event' }], NOW))).toEqual({
      status: 400,
      code: 'validation_error',
      field: '[3].event_name',
    });
    expect(fieldOf(() => parseCollectBody([ok, { ...ok, url: 5 }], NOW))).toMatchObject({
      field: '[1].url',
    });
    expect(fieldOf(() => parseCollectBody({ ...ok, screen_width: 'wide' }, NOW))).toMatchObject({
      field: 'screen_width',
    });
    expect(fieldOf(() => parseCollectBody(Array(51).fill(ok), NOW))).toMatchObject({
      code: 'batch_too_large',
    });
  });

  it('ignores unknown fields and reads screen from either form', () => {
    const [e] = parseCollectBody({ ...ok, screen: '1280x720', whatever: [1] }, NOW);
    expect(e!.raw.screenWidth).toBe(1280);
    expect(screenWidthOf(390.4, null)).toBe(390);
    expect(screenWidthOf(undefined, 'big')).toBeNull();
  });

  it('accepts timestamps as ISO 8601 or epoch ms within 30 days back and 5 minutes ahead', () => {
    expect(parseTimestamp('2026-06-01T11:00:00Z', 'timestamp', NOW)).toBe(NOW - 3_600_000);
    expect(parseTimestamp('2026-06-01T13:00:00+02:00', 'timestamp', NOW)).toBe(NOW - 3_600_000);
    expect(parseTimestamp(NOW - 1000, 'timestamp', NOW)).toBe(NOW - 1000);
    expect(parseTimestamp(undefined, 'timestamp', NOW)).toBeNull();
    expect(fieldOf(() => parseTimestamp(NOW + 6 * 60_000, '[2].timestamp', NOW))).toMatchObject({
      field: '[2].timestamp',
    });
    expect(fieldOf(() => parseTimestamp(NOW - 31 * 86_400_000, 'timestamp', NOW))).toMatchObject({
      field: 'timestamp',
    });
    expect(fieldOf(() => parseTimestamp('June 1st', 'timestamp', NOW))).toMatchObject({
      field: 'timestamp',
    });
  });
});

describe('track payload parsing', () => {
  const base = { site_id: '1', hostname: 'x.example', pathname: '/p', querystring: '?a=1' };
  it('maps Rybbit types onto the event message types', () => {
    expect(parseTrackBody({ ...base, type: 'pageview', event_name: '' }, NOW).raw).toMatchObject({
      type: 'pageview',
      eventName: null,
      url: 'https://x.example/p?a=1',
    });
    expect(
      parseTrackBody({ ...base, type: 'outbound', properties: '{"url":"https://u.example/"}' }, NOW)
        .raw,
    ).toMatchObject({
      type: 'outbound',
      eventName: null,
      properties: { url: 'https://u.example/' },
    });
    expect(() =>
      parseTrackBody({ ...base, type: 'outbound', properties: '{"url":"u"}' }, NOW),
    ).toThrow('Invalid payload');
    expect(
      parseTrackBody({ ...base, type: 'performance', lcp: 1, cls: null }, NOW).raw,
    ).toMatchObject({
      type: 'performance',
      properties: { lcp: 1, cls: null, inp: null, fcp: null, ttfb: null },
    });
  });

  it('takes the landing campaign the Goalpost tracker repeats, and refuses a non-string api_key', () => {
    const raw = parseTrackBody(
      { ...base, type: 'pageview', utm_source: 'google', utm_medium: 'cpc' },
      NOW,
    ).raw;
    expect(raw.utm).toMatchObject({ source: 'google', medium: 'cpc' });
    expect(fieldOf(() => parseTrackBody({ ...base, api_key: 42 }, NOW))).toMatchObject({
      status: 400,
      field: 'api_key',
    });
  });
});

describe('property: any collect body is parsed or refused with a 400 naming a field', () => {
  // Issue 12 §2: whatever JSON a client posts, the parsers return events or throw a ClientError
  // (400, the field at fault), never anything else that would become a 500.
  const text = fc.oneof(
    fc.constantFrom('', '\u0000', '\ud800', 'İ', '__proto__', 'constructor', 'site_abcdefghij'),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );
  const value = fc.oneof(text, fc.jsonValue({ maxDepth: 3 }));
  const sparklytics = fc.record(
    {
      website_id: value,
      type: fc.oneof(fc.constantFrom('pageview', 'event'), value),
      url: fc.oneof(fc.constantFrom('/', 'https://a.example/x?y=1'), value),
      event_name: value,
      event_data: value,
      visitor_id: value,
      event_id: fc.oneof(fc.uuid(), value),
      timestamp: fc.oneof(fc.integer(), fc.constant(new Date(NOW).toISOString()), value),
      screen: value,
      screen_width: value,
    },
    { requiredKeys: [] },
  );
  const rybbit = fc.record(
    {
      site_id: fc.oneof(fc.nat(), value),
      type: fc.oneof(fc.constantFrom('pageview', 'custom_event', 'outbound', 'performance'), value),
      pathname: value,
      hostname: value,
      event_name: value,
      properties: fc.oneof(
        value,
        fc.jsonValue().map((v) => JSON.stringify(v)),
      ),
      user_id: value,
      lcp: value,
      timestamp: value,
      constructor: value,
    },
    { requiredKeys: [] },
  );
  const outcome = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      expect(err.statusCode).toBe(400);
      return err.field;
    }
  };

  it('Sparklytics bodies: one event, a batch, or anything else', () => {
    fc.assert(
      fc.property(
        fc.oneof(sparklytics, fc.array(fc.oneof(sparklytics, value), { maxLength: 60 }), value),
        (body) => {
          outcome(() => parseCollectBody(body, NOW));
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('Rybbit bodies', () => {
    fc.assert(
      fc.property(fc.oneof(rybbit, value), (body) => {
        outcome(() => parseTrackBody(body, NOW));
      }),
      { numRuns: 3_000 },
    );
  });
});
