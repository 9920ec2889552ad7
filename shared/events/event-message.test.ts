import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../errors/errors.js';
import { decodeEvent, encodeEvent, type EventMessage } from './event-message.js';

const base: EventMessage = {
  v: 1,
  event_id: '0192d3a4-5b6c-7d8e-9f01-23456789abcd',
  seq: 3,
  event_time: '2026-11-28T10:11:12.345Z',
  received_at: '2026-11-28T10:11:13.000Z',
  website_id: 'site_abcdefghij',
  session_id: 's-1',
  visitor_id: 'v-1',
  user_id: null,
  type: 'pageview',
  event_name: null,
  hostname: 'shop.example',
  path: '/checkout/success',
  querystring: '?utm_source=news',
  page_title: 'Thanks — Shop',
  referrer: 'https://www.google.com/',
  referrer_domain: 'google.com',
  channel: 'Organic Search',
  utm_source: 'news',
  utm_medium: null,
  utm_campaign: null,
  utm_term: null,
  utm_content: null,
  properties: { amount: '12.50', qty: 2, nested: { ok: true } },
  browser: 'Chrome',
  os: 'Windows',
  device: 'desktop',
  screen_width: 1280,
  language: 'en-US',
  country: 'GB',
  region: 'England',
  city: 'London',
  bot_score: 0,
  is_bot: false,
};

/** Why decodeEvent refused a value. */
function reasonOf(value: Buffer): string {
  try {
    decodeEvent(value);
  } catch (err) {
    if (err instanceof PermanentError) return err.reason;
    throw err;
  }
  return 'accepted';
}

// Any UTF-16 code units, lone surrogates included (hostile input can carry them).
const nullableText = (max: number) =>
  fc.option(fc.string({ unit: 'binary', maxLength: max }), { nil: null });

const arbitraryEvent: fc.Arbitrary<EventMessage> = fc
  .record({
    event_id: fc.uuid(),
    seq: fc.integer({ min: 0, max: 32_767 }),
    event_time: fc.date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2100-01-01T00:00:00Z'),
      noInvalidDate: true,
    }),
    user_id: nullableText(200),
    type: fc.constantFrom('pageview', 'event', 'performance'),
    event_name: nullableText(200),
    path: nullableText(300),
    page_title: nullableText(300),
    properties: fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: null }),
    screen_width: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
    bot_score: fc.integer({ min: 0, max: 100 }),
    is_bot: fc.boolean(),
    visitor_id: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }),
    properties_text: fc.option(fc.string({ unit: 'binary' }), { nil: null }),
  })
  .map(({ properties_text, ...r }) => ({
    ...base,
    ...r,
    properties: properties_text === null ? r.properties : { ...r.properties, t: properties_text },
    event_time: r.event_time.toISOString(),
  }));

/**
 * A message's top-level strings as UTF-8 can carry them: a lone surrogate becomes U+FFFD, as
 * PostgreSQL would store it from either encoding (properties travel as JSON text, escaped).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const wellFormed = (ev: EventMessage) =>
  Object.fromEntries(
    Object.entries(ev).map(([k, v]) => [
      k,
      typeof v === 'string' ? v.replace(LONE_SURROGATE, '\uFFFD') : v,
    ]),
  );

describe('event message encodings', () => {
  it('decodes a binary message to what the same message in JSON decodes to', () => {
    fc.assert(
      fc.property(arbitraryEvent, (ev) => {
        const fromJson = decodeEvent(encodeEvent(ev, 'json'));
        const fromBinary = decodeEvent(encodeEvent(ev, 'binary'));
        expect({ ...fromBinary }).toEqual(wellFormed(fromJson));
      }),
      { numRuns: 500 },
    );
  });

  it('writes a typical pageview in far fewer bytes than JSON', () => {
    const binary = encodeEvent(base, 'binary').length;
    const json = encodeEvent(base, 'json').length;
    expect(binary).toBeLessThan(json * 0.7);
  });

  it('never changes a message already encoded when more are written', () => {
    const first = encodeEvent(base, 'binary');
    const copy = Buffer.from(first);
    for (let i = 0; i < 5_000; i++) encodeEvent({ ...base, seq: i % 100 }, 'binary');
    expect(first.equals(copy)).toBe(true);
    expect(decodeEvent(first).seq).toBe(3);
  });

  it('dead-letters truncated, padded, unknown-layout and empty binary messages', () => {
    const good = Buffer.from(encodeEvent(base, 'binary'));
    for (let cut = 1; cut < good.length; cut++) {
      expect(reasonOf(good.subarray(0, cut))).not.toBe('accepted');
    }
    expect(reasonOf(Buffer.concat([good, Buffer.from([0])]))).toBe('undecodable');
    const future = Buffer.from(good);
    future[1] = 2;
    expect(reasonOf(future)).toBe('schema_version');
    expect(reasonOf(Buffer.alloc(0))).toBe('empty');
  });

  it('applies the schema to binary messages as to JSON ones', () => {
    const badSite = encodeEvent({ ...base, website_id: 'not a site' }, 'binary');
    expect(reasonOf(badSite)).toBe('schema_violation');
    const badTime = encodeEvent({ ...base, event_time: 'yesterday' }, 'binary');
    expect(reasonOf(badTime)).toBe(
      reasonOf(encodeEvent({ ...base, event_time: 'yesterday' }, 'json')),
    );
    expect(reasonOf(badTime)).toBe('schema_violation');
  });
});
