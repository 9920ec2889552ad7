import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import { encodeEvent, type EventMessage } from '../../shared/events/event-message.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newWebsiteId } from '../../shared/ids.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { EVENT_DEFAULTS } from '../processor/pipeline.js';

const KEY = `spk_selfhosted_${'6b'.repeat(16)}`;
const DAY1 = '2026-11-20';
const DAY2 = '2026-11-21';
const at = (day: string, hm: string) => `${day}T${hm}:00.000Z`;

/**
 * Rybbit's goal time series, summary and preview (issue 16) over a small hand-built dataset
 * that goes through Kafka and the real processor: autocapture events of their own types, an
 * old-style custom event named `outbound`, a session spanning midnight. Expected numbers are
 * written out by hand from the dataset below; the Sparklytics goal statistics of the same
 * window must give the same per-day figures.
 */
describe('Rybbit goal series, summary and preview', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let producer: Producer;
  let api: HttpApp;
  const websiteId = newWebsiteId();
  let numeric = 0;
  const goals: Record<string, { goalId: number }> = {};

  function ev(
    session: string,
    time: string,
    type: EventMessage['type'],
    extra: Partial<EventMessage> = {},
  ): EventMessage {
    return {
      ...EVENT_DEFAULTS,
      event_id: randomUUID(),
      event_time: time,
      received_at: time,
      website_id: websiteId,
      session_id: session,
      visitor_id: `v-${session}`,
      type,
      event_name: null,
      path: '/',
      querystring: '',
      browser: 'Chrome',
      country: null,
      ...extra,
    };
  }

  // s1 (day 1): pricing, an outbound click, a "Buy now" button.
  // s2 (day 2): an old custom event named `outbound`, a copy.
  // s3 (day 1 23:50 → day 2 00:10): pricing, then an outbound click after midnight.
  // s4 (day 2): one pageview, converts nothing.
  const events: EventMessage[] = [
    ev('s1', at(DAY1, '10:00'), 'pageview', { path: '/pricing' }),
    ev('s1', at(DAY1, '10:01'), 'outbound', {
      properties: { url: 'https://x.example/a', text: 'X', target: '' },
    }),
    ev('s1', at(DAY1, '10:02'), 'button_click', { properties: { text: 'Buy now' } }),
    ev('s2', at(DAY2, '11:00'), 'pageview', { path: '/p' }),
    ev('s2', at(DAY2, '11:01'), 'event', {
      event_name: 'outbound',
      properties: { url: 'https://x.example/' },
    }),
    ev('s2', at(DAY2, '11:02'), 'copy', { properties: { text: 'COUPON-1', sourceElement: 'p' } }),
    ev('s3', at(DAY1, '23:50'), 'pageview', { path: '/pricing' }),
    ev('s3', at(DAY2, '00:10'), 'pageview', { path: '/x' }),
    ev('s3', at(DAY2, '00:11'), 'outbound', {
      properties: { url: 'https://y.example/', text: 'Y', target: '' },
    }),
    ev('s4', at(DAY2, '09:00'), 'pageview', { path: '/' }),
  ];

  const auth = { authorization: `Bearer ${KEY}` };
  const get = (url: string) => api.inject({ method: 'GET', url, headers: auth });
  const post = (url: string, payload: object) =>
    api.inject({ method: 'POST', url, headers: auth, payload });
  const window = `start_date=${DAY1}&end_date=${DAY2}&time_zone=UTC`;

  beforeAll(async () => {
    deps = openTestDeps('goal-series');
    topic = await createTestTopic(deps.kafka, 'goal-series', 2);
    dlqTopic = await createTestTopic(deps.kafka, 'goal-series-dlq', 1);
    const site = await websiteRepository.create(deps.db, {
      id: websiteId,
      name: 'series',
      domain: 'shop.example',
      timezone: 'UTC',
    });
    numeric = site.numeric_id;
    api = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
    });
    for (const [key, body] of Object.entries({
      outbound: { name: 'Outbound', goalType: 'outbound', config: {} },
      buy: { name: 'Buy', goalType: 'button_click', config: { valuePattern: 'Buy*' } },
      oldOutbound: { name: 'Old outbound', goalType: 'event', config: { eventName: 'outbound' } },
      pricing: { name: 'Pricing', goalType: 'path', config: { pathPattern: '/pricing' } },
    })) {
      const res = await post(`/api/sites/${numeric}/goals`, body);
      expect(res.statusCode).toBe(201);
      goals[key] = res.json<{ goalId: number }>();
    }
    producer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: events.map((e) => ({
        key: `${e.website_id}:${e.visitor_id}`,
        value: encodeEvent(e),
      })),
    });
    processor = await startTestProcessor(deps, { name: 'goal-series', topic, dlqTopic });
    await waitFor(
      'all events stored',
      async () => {
        const { rows } = await deps.db.query<{ n: number }>(
          'test.count',
          'SELECT count(*)::int AS n FROM events WHERE website_id = $1',
          [websiteId],
        );
        return rows[0]!.n === events.length ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }, 80_000);

  afterAll(async () => {
    await api?.close();
    await processor?.stop();
    await producer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    for (const t of ['events', 'conversions', 'sessions']) {
      await deps.db.query('test.cleanup', `DELETE FROM ${t} WHERE website_id = $1`, [websiteId]);
    }
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [websiteId]);
    await deps.close();
  });

  type SeriesRow = {
    time: string;
    goal_id: number;
    conversions: number;
    total_sessions: number;
    conversion_rate: number;
  };

  it('time-series by day: conversions per goal and sessions per day, as written out', async () => {
    const ids = [goals.outbound!.goalId, goals.oldOutbound!.goalId, goals.buy!.goalId];
    const res = await get(
      `/api/sites/${numeric}/goals/time-series?${window}&bucket=day&goal_ids=${ids.join(',')}`,
    );
    expect(res.statusCode).toBe(200);
    const rows = res.json<{ data: SeriesRow[] }>().data;
    const sorted = [...ids].sort((a, b) => a - b);
    // Day 1: s1, s3 (2 sessions). Day 2: s2, s3, s4 (3 sessions).
    const want = (day: string, conv: Record<number, number>, total: number) =>
      sorted.map((id) => ({
        time: `${day} 00:00:00`,
        goal_id: id,
        conversions: conv[id] ?? 0,
        total_sessions: total,
        conversion_rate: (conv[id] ?? 0) / total,
      }));
    expect(rows).toEqual([
      ...want(DAY1, { [goals.outbound!.goalId]: 1, [goals.buy!.goalId]: 1 }, 2),
      ...want(DAY2, { [goals.outbound!.goalId]: 1, [goals.oldOutbound!.goalId]: 1 }, 3),
    ]);
    // The older path and the other goal_ids forms give the same rows, `goal_…` ids too.
    const list = await get(`/api/websites/${websiteId}/goals`);
    const idOf = new Map(
      list
        .json<{ data: Array<{ id: string; numeric_id: number }> }>()
        .data.map((g) => [g.numeric_id, g.id]),
    );
    const refs = ids.map((id, i) => (i % 2 === 0 ? idOf.get(id)! : String(id)));
    for (const q of [
      `goal_ids=${encodeURIComponent(JSON.stringify(ids))}`,
      ids.map((id) => `goal_ids=${id}`).join('&') + '&goal_ids=x&goal_ids=' + ids[0],
      `goal_ids=${refs.join(',')}&goal_ids=${idOf.get(ids[1]!)}&goal_ids=goal_x`,
    ]) {
      const r = await get(`/api/sites/${numeric}/goals/bucketed?${window}&bucket=day&${q}`);
      expect(r.json<{ data: SeriesRow[] }>().data, q).toEqual(rows);
    }
  });

  it('the numbers equal the Sparklytics goal statistics of the same window, day by day', async () => {
    const list = await get(`/api/websites/${websiteId}/goals`);
    const all = list.json<{ data: Array<{ id: string; numeric_id: number }> }>().data;
    for (const g of all) {
      const stats = await get(
        `/api/websites/${websiteId}/goals/${g.id}/stats?start_date=${DAY1}&end_date=${DAY2}&timezone=UTC&include=timeseries`,
      );
      const ts = stats.json<{
        data: {
          timeseries: Array<{
            period: string;
            converting_sessions: number;
            total_sessions: number;
          }>;
        };
      }>().data.timeseries;
      const series = await get(
        `/api/sites/${numeric}/goals/time-series?${window}&bucket=day&goal_ids=${g.numeric_id}`,
      );
      const rows = series.json<{ data: SeriesRow[] }>().data;
      expect(
        rows.map((r) => [r.time.slice(0, 10), r.conversions, r.total_sessions]),
        String(g.numeric_id),
      ).toEqual(ts.map((p) => [p.period, p.converting_sessions, p.total_sessions]));
    }
  });

  it('hour buckets count a session in every bucket it touches; no empty buckets', async () => {
    const res = await get(
      `/api/sites/${numeric}/goals/time-series?${window}&goal_ids=${goals.outbound!.goalId}`,
    );
    const rows = res.json<{ data: SeriesRow[] }>().data;
    expect(rows.map((r) => [r.time, r.conversions, r.total_sessions])).toEqual([
      [`${DAY1} 10:00:00`, 1, 1],
      [`${DAY1} 23:00:00`, 0, 1],
      [`${DAY2} 00:00:00`, 1, 1],
      [`${DAY2} 09:00:00`, 0, 1],
      [`${DAY2} 11:00:00`, 0, 1],
    ]);
  });

  it('time-series validation: bucket, goal_ids, bucket count', async () => {
    const base = `/api/sites/${numeric}/goals/time-series?${window}`;
    const bad = await get(`${base}&bucket=fortnight&goal_ids=${goals.outbound!.goalId}`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: string }>().error).toBe('Invalid bucket value: fortnight');
    for (const q of ['', 'goal_ids=abc', 'goal_ids=999999999', 'goal_ids=[]']) {
      const r = await get(`${base}&${q}`);
      expect(r.statusCode, q).toBe(200);
      expect(r.json(), q).toEqual({ data: [] });
    }
    const many = await get(
      `/api/sites/${numeric}/goals/time-series?start_date=2026-01-01&end_date=2026-11-21&bucket=minute&goal_ids=${goals.outbound!.goalId}`,
    );
    expect(many.statusCode).toBe(400);
    expect(many.json()).toMatchObject({ details: [{ field: 'bucket' }] });
    const unknown = await get(`/api/sites/999999999999/goals/time-series`);
    expect(unknown.statusCode).toBe(404);
  });

  it('summary: every goal with metrics, sessions converting on any, ordered', async () => {
    const res = await get(`/api/sites/${numeric}/goals/summary?${window}`);
    expect(res.statusCode).toBe(200);
    const d = res.json<{
      data: {
        goals: Array<{
          goalId: number;
          goalType: string;
          total_conversions: number;
          total_sessions: number;
        }>;
        total_sessions: number;
        converting_sessions: number;
        total_goals: number;
      };
    }>().data;
    expect(d.total_sessions).toBe(4);
    // s1 (outbound, buy, pricing), s2 (old outbound), s3 (outbound, pricing); s4 none.
    expect(d.converting_sessions).toBe(3);
    expect(d.total_goals).toBe(4);
    // conversions desc, then the newer goal first.
    expect(d.goals.map((g) => [g.goalId, g.total_conversions])).toEqual([
      [goals.pricing!.goalId, 2],
      [goals.outbound!.goalId, 2],
      [goals.oldOutbound!.goalId, 1],
      [goals.buy!.goalId, 1],
    ]);
  });

  it('preview reads raw events and agrees with the saved goals; bounds and errors', async () => {
    const url = `/api/sites/${numeric}/goals/preview?${window}&bucket=day`;
    for (const [key, body] of [
      ['outbound', { goalType: 'outbound', config: {} }],
      ['oldOutbound', { goalType: 'event', config: { eventName: 'outbound' } }],
      ['buy', { goalType: 'button_click', config: { valuePattern: 'Buy*' } }],
      ['pricing', { goalType: 'path', config: { pathPattern: '/pricing' } }],
    ] as const) {
      const res = await post(url, body);
      expect(res.statusCode, key).toBe(200);
      const saved = (
        await get(
          `/api/sites/${numeric}/goals/time-series?${window}&bucket=day&goal_ids=${goals[key]!.goalId}`,
        )
      ).json<{ data: SeriesRow[] }>().data;
      const p = res.json<{
        data: {
          conversions: number;
          total_sessions: number;
          conversion_rate: number;
          series: Array<{ time: string; conversions: number }>;
        };
      }>().data;
      expect(p.total_sessions, key).toBe(4);
      expect(p.series, key).toEqual(
        saved
          .filter((r) => r.conversions > 0)
          .map((r) => ({ time: r.time, conversions: r.conversions })),
      );
      expect(p.conversion_rate).toBe(p.conversions / 4);
    }
    const copy = await post(url, { goalType: 'copy', config: { valuePattern: 'COUPON-*' } });
    expect(copy.json<{ data: { conversions: number } }>().data.conversions).toBe(1);
    const none = await post(url, { goalType: 'form_submit', config: {} });
    expect(none.json()).toEqual({
      data: { conversions: 0, total_sessions: 4, conversion_rate: 0, series: [] },
    });
    // Nothing was stored.
    const list = await get(`/api/websites/${websiteId}/goals`);
    expect(list.json<{ data: unknown[] }>().data).toHaveLength(4);

    const unrenderable = await post(url, {
      goalType: 'path',
      config: { pathPattern: '/p', propertyFilters: [{ key: 'ref', value: 'x' }] },
    });
    expect(unrenderable.statusCode).toBe(400);
    expect(unrenderable.json<{ error: string }>().error).toBe('Invalid goal configuration');
    const long = await post(
      `/api/sites/${numeric}/goals/preview?start_date=2026-01-01&end_date=2026-11-21&bucket=day`,
      { goalType: 'outbound', config: {} },
    );
    expect(long.statusCode).toBe(400);
    expect(long.json()).toMatchObject({ details: [{ field: 'start_date' }] });
    const badBucket = await post(`${url}x`, { goalType: 'outbound', config: {} });
    expect(badBucket.statusCode).toBe(400);
    const invalid = await post(url, { goalType: 'path', config: {} });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ details: [{ field: 'config.pathPattern' }] });
  });
  it('a preview past its query time is cancelled and answers 400 naming the window, never a 500', async () => {
    const slow = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'slow preview',
      domain: 'slow.example',
      timezone: 'UTC',
    });
    // 5,000 sessions with 200,000 pageviews in the window: no preview of them finishes
    // within 1 ms.
    await deps.db.query(
      'test.bulk_sessions',
      `INSERT INTO sessions (website_id, session_id, visitor_id, started_at, ended_at,
                             first_event_id, pageviews, events)
       SELECT $1, 's' || i, 'v', $2::timestamptz, $2::timestamptz + interval '1 day' - interval '1 second',
              gen_random_uuid(), 40, 40
         FROM generate_series(0, 4999) i`,
      [slow.id, `${DAY1}T00:00:00Z`],
    );
    await deps.db.query(
      'test.bulk_events',
      `INSERT INTO events (event_id, event_time, received_at, website_id, session_id, visitor_id,
                           type, path)
       SELECT gen_random_uuid(), $2::timestamptz + (i % 86400) * interval '1 second', now(), $1,
              's' || (i % 5000), 'v', 'pageview', '/p/' || (i % 100)
         FROM generate_series(1, 200000) i`,
      [slow.id, `${DAY1}T00:00:00Z`],
    );
    // As autovacuum would after such a load: a fresh chunk without statistics gets a plan
    // that loops over every session (the normal-budget preview below would time out too).
    await deps.db.query('test.analyze', 'ANALYZE events, sessions');
    const tight = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
      previewTimeoutMs: 1,
    });
    try {
      const res = await tight.inject({
        method: 'POST',
        url: `/api/sites/${slow.numeric_id}/goals/preview?${window}&bucket=day`,
        headers: auth,
        payload: { goalType: 'path', config: { pathPattern: '/p/1*' } },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'the preview took too long; use a shorter window',
        details: [
          { field: 'start_date', message: 'the preview took too long; use a shorter window' },
        ],
      });
      // The same preview with the normal budget answers (the data is fine, the time was not).
      const ok = await post(`/api/sites/${slow.numeric_id}/goals/preview?${window}&bucket=day`, {
        goalType: 'path',
        config: { pathPattern: '/p/1*' },
      });
      expect(ok.statusCode).toBe(200);
    } finally {
      await tight.close();
      await deps.db.query('test.cleanup', 'DELETE FROM events WHERE website_id = $1', [slow.id]);
      await deps.db.query('test.cleanup', 'DELETE FROM sessions WHERE website_id = $1', [slow.id]);
      await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [slow.id]);
    }
  });
});
