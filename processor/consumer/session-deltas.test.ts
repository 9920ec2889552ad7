import { describe, expect, it } from 'vitest';
import type { EventRow } from '../../shared/db/repositories/event.repository.js';
import { buildSessionDeltas, timeKey } from './session-deltas.js';

const base: EventRow = {
  event_id: '00000000-0000-4000-8000-000000000000',
  event_time: '2026-01-01T00:00:00Z',
  seq: 0,
  received_at: '2026-01-01T00:00:00Z',
  website_id: 'site_aaaaaaaaaa',
  session_id: 's1',
  visitor_id: 'v1',
  user_id: null,
  type: 'pageview',
  event_name: null,
  hostname: 'a.example',
  path: '/',
  querystring: null,
  page_title: null,
  referrer: null,
  referrer_domain: null,
  channel: null,
  utm_source: null,
  utm_medium: null,
  utm_campaign: null,
  utm_term: null,
  utm_content: null,
  properties: null,
  browser: null,
  os: null,
  device: null,
  screen_width: null,
  language: null,
  country: null,
  region: null,
  city: null,
  bot_score: 0,
  is_bot: false,
};
const ev = (id: number, time: string, patch: Partial<EventRow> = {}): EventRow => ({
  ...base,
  event_id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
  event_time: time,
  ...patch,
});

describe('timeKey', () => {
  it('orders times with and without fractions', () => {
    const sorted = ['2026-01-01T00:00:00.5Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00.05Z']
      .map(timeKey)
      .sort();
    expect(sorted).toEqual([
      '2026-01-01T00:00:00.000000000',
      '2026-01-01T00:00:00.050000000',
      '2026-01-01T00:00:00.500000000',
    ]);
  });
});

describe('buildSessionDeltas', () => {
  it('picks landing (first pageview), entry and exit by event time, not by arrival order', () => {
    const rows = [
      ev(3, '2026-01-01T00:00:30Z', { path: '/exit', utm_source: 'later' }),
      ev(1, '2026-01-01T00:00:05Z', { type: 'event', event_name: 'x', utm_source: 'event' }),
      ev(2, '2026-01-01T00:00:10.5Z', { path: '/entry', user_id: 'u', utm_source: 'mail' }),
      ev(4, '2026-01-01T00:00:00Z', { type: 'performance', path: '/perf' }),
    ];
    const [d] = buildSessionDeltas(rows);
    expect(d).toMatchObject({
      started_at: '2026-01-01T00:00:05Z',
      ended_at: '2026-01-01T00:00:30Z',
      // The session's first pageview, although a custom event came earlier.
      utm_source: 'mail',
      first_event_id: '00000000-0000-4000-8000-000000000002',
      landing_pageview: true,
      entry_page: '/entry',
      exit_page: '/exit',
      pageviews: 2,
      events: 1,
      user_id: 'u',
    });
    expect(buildSessionDeltas([...rows].reverse())).toEqual([d]);
  });

  it('breaks equal times by seq, then event id, as PostgreSQL compares (timestamptz, smallint, uuid)', () => {
    const [d] = buildSessionDeltas([
      ev(9, '2026-01-01T00:00:00Z', { path: '/b' }),
      ev(8, '2026-01-01T00:00:00Z', { path: '/a' }),
    ]);
    expect([d!.entry_page, d!.exit_page]).toEqual(['/a', '/b']);
    // One request, no timestamps: its order (seq) decides, whatever the ids.
    const [s] = buildSessionDeltas([
      ev(1, '2026-01-01T00:00:00Z', { path: '/second', seq: 1 }),
      ev(9, '2026-01-01T00:00:00Z', { path: '/first', seq: 0, utm_source: 'google' }),
    ]);
    expect([s!.entry_page, s!.exit_page, s!.utm_source]).toEqual(['/first', '/second', 'google']);
  });

  it('takes the landing from the first event when the session has no pageview', () => {
    const [d] = buildSessionDeltas([
      ev(2, '2026-01-01T00:00:02Z', { type: 'event', event_name: 'b', utm_source: 'two' }),
      ev(1, '2026-01-01T00:00:01Z', { type: 'event', event_name: 'a', utm_source: 'one' }),
    ]);
    expect(d).toMatchObject({ utm_source: 'one', landing_pageview: false, entry_page: null });
  });

  it('ignores performance-only sessions and sorts deltas by key', () => {
    const deltas = buildSessionDeltas([
      ev(1, '2026-01-01T00:00:00Z', { session_id: 'z' }),
      ev(2, '2026-01-01T00:00:00Z', { session_id: 'p', type: 'performance' }),
      ev(3, '2026-01-01T00:00:00Z', { session_id: 'a' }),
    ]);
    expect(deltas.map((d) => d.session_id)).toEqual(['a', 'z']);
  });

  it('counts autocapture events as events (outbound clicks were custom events before)', () => {
    const [d] = buildSessionDeltas([
      ev(1, '2026-01-01T00:00:00Z', { type: 'pageview', path: '/' }),
      ev(2, '2026-01-01T00:00:05Z', {
        type: 'outbound',
        properties: { url: 'https://x.example/' },
      }),
      ev(3, '2026-01-01T00:00:09Z', { type: 'button_click', properties: { text: 'Buy' } }),
      ev(4, '2026-01-01T00:00:20Z', { type: 'performance' }),
    ]);
    expect(d).toMatchObject({ pageviews: 1, events: 2 });
    expect(String(d!.ended_at)).toContain('00:00:09');
  });
});
