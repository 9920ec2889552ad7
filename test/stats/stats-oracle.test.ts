import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
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
import {
  figures,
  generate,
  GOALS,
  newGoalOf,
  localDate,
  localMidnight,
  plusDays,
  sessionsOf,
  type GoalSpec,
  type Session,
  type SiteSpec,
  wall,
} from './dataset.js';

/**
 * The statistics oracle: ~24k generated events (three websites in UTC, New York — DST starts
 * 2026-03-08 — and Kolkata; bots; several sessions per visitor; several conversions per
 * session; values in USD and EUR) go through Kafka and the real processor consumer into
 * TimescaleDB, exactly as in production. Every field of every statistics endpoint is then
 * compared with figures computed in plain TypeScript from the generated events, over a grid
 * of date ranges, time zones, bot settings and filters.
 *
 * The events are produced straight to the topic (not through ingest) because they span more
 * than the 30 days ingest accepts and must carry fixed times and session ids.
 */
const KEY = `spk_selfhosted_${'5a'.repeat(16)}`;

interface Site extends SiteSpec {
  events: EventMessage[];
  sessions: Map<string, Session>;
  goals: Map<GoalSpec['key'], { id: string; numeric_id: number }>;
  numeric: number;
}

const round = (x: number, p: number) => Math.round(x * 10 ** p) / 10 ** p;
const rate = (c: number, t: number) => (t === 0 ? 0 : c / t);

describe('goal statistics match an independent oracle', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let producer: Producer;
  let api: HttpApp;
  const sites: Site[] = (
    [
      { timezone: 'UTC', botPolicy: 'balanced', seed: 11 },
      { timezone: 'America/New_York', botPolicy: 'off', seed: 22 },
      { timezone: 'Asia/Kolkata', botPolicy: 'strict', seed: 33 },
    ] as const
  ).map((s) => {
    const spec: SiteSpec = { ...s, websiteId: newWebsiteId(), visitors: 330 };
    const events = generate(spec);
    return { ...spec, events, sessions: sessionsOf(events), goals: new Map(), numeric: 0 };
  });
  const total = sites.reduce((n, s) => n + s.events.length, 0);

  beforeAll(async () => {
    deps = openTestDeps('stats-oracle');
    topic = await createTestTopic(deps.kafka, 'stats-oracle');
    dlqTopic = await createTestTopic(deps.kafka, 'stats-oracle-dlq', 1);
    for (const s of sites) {
      const created = await websiteRepository.create(deps.db, {
        id: s.websiteId,
        name: `oracle ${s.timezone}`,
        domain: 'shop.example',
        timezone: s.timezone,
        bot_policy: s.botPolicy,
      });
      s.numeric = created.numeric_id;
      for (const g of GOALS) {
        const goal = await goalRepository.create(deps.db, newGoalOf(s.websiteId, g));
        s.goals.set(g.key, { id: goal.id, numeric_id: goal.numeric_id });
      }
    }
    producer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const all = sites.flatMap((s) => s.events);
    for (let i = 0; i < all.length; i += 2000) {
      await producer.send({
        topic,
        acks: -1,
        messages: all
          .slice(i, i + 2000)
          .map((e) => ({ key: `${e.website_id}:${e.visitor_id}`, value: encodeEvent(e) })),
      });
    }
    processor = await startTestProcessor(deps, {
      name: 'stats-oracle',
      topic,
      dlqTopic,
      subBatchSize: 2000,
      partitionsConcurrently: 3,
    });
    await waitFor(
      `${total} events in the database`,
      async () => {
        const { rows } = await deps.db.query<{ n: number }>(
          'test.count',
          'SELECT count(*)::int AS n FROM events WHERE website_id = ANY($1)',
          [sites.map((s) => s.websiteId)],
        );
        return rows[0]!.n === total ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    api = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
    });
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await processor?.stop();
    await producer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    const ids = sites.map((s) => s.websiteId);
    for (const t of ['events', 'conversions', 'sessions']) {
      await deps.db.query('test.cleanup', `DELETE FROM ${t} WHERE website_id = ANY($1)`, [ids]);
    }
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [ids]);
    await deps.close();
  });

  const get = async (url: string) => {
    const res = await api.inject({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${KEY}` },
    });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  };

  it(`generated at least 20k events (${total})`, () => {
    expect(total).toBeGreaterThanOrEqual(20_000);
    // Sessions spanning local midnight, bots and multi-conversion sessions are all present.
    const s = sites[1]!;
    const spanning = [...s.sessions.values()].filter(
      (x) =>
        localDate(Date.parse(x.events[0]!.event_time), s.timezone) !==
        localDate(Date.parse(x.events[x.events.length - 1]!.event_time), s.timezone),
    );
    expect(spanning.length).toBeGreaterThan(10);
    expect([...s.sessions.values()].some((x) => x.isBot)).toBe(true);
  });

  /** Sparklytics filters as query parameters, with the oracle's predicate. */
  const FILTERS: Array<{ q: Record<string, string>; keep: (s: Session) => boolean }> = [
    { q: {}, keep: () => true },
    { q: { filter_country: 'US' }, keep: (s) => s.landing.country === 'US' },
    { q: { filter_utm_source: 'google' }, keep: (s) => s.landing.utm_source === 'google' },
    {
      q: { filter_page: '/pricing' },
      keep: (s) => s.events.some((e) => e.type === 'pageview' && e.path!.includes('/pricing')),
    },
    {
      q: { filter_hostname: 'BLOG.example' },
      keep: (s) => s.events.some((e) => e.hostname!.toLowerCase() === 'blog.example'),
    },
    {
      q: { filter_referrer: 'google.com', filter_device: 'desktop' },
      keep: (s) => s.landing.referrer_domain === 'google.com' && s.landing.device === 'desktop',
    },
    {
      q: { filter_browser: 'Chrome', filter_language: 'en-US', filter_city: 'Berlin' },
      keep: (s) =>
        s.landing.browser === 'Chrome' &&
        s.landing.language === 'en-US' &&
        s.landing.city === 'Berlin',
    },
  ];

  const RANGES: Array<[string, string]> = [
    ['2026-03-01', '2026-03-14'],
    ['2026-03-08', '2026-03-08'],
    ['2026-02-22', '2026-03-21'],
    ['2026-02-16', '2026-02-18'],
  ];

  function expectedStats(
    site: Site,
    g: GoalSpec,
    tz: string,
    [start, end]: [string, string],
    includeBots: boolean,
    keep: (s: Session) => boolean,
  ) {
    const days = Math.round((Date.parse(end) - Date.parse(start)) / 86_400_000) + 1;
    const lo = localMidnight(start, tz);
    const hi = localMidnight(plusDays(end, 1), tz);
    const plo = localMidnight(plusDays(start, -days), tz);
    const k = (s: Session) => (includeBots || !s.isBot) && keep(s);
    const cur = figures(site.sessions, g, lo, hi, k);
    const prev = figures(site.sessions, g, plo, lo, k);
    const r = rate(cur.converting_sessions, cur.total_sessions);
    const pr =
      prev.total_sessions === 0 ? null : rate(prev.converting_sessions, prev.total_sessions);
    const hasValue = g.value_mode !== 'none';
    return {
      cur,
      body: {
        start_date: start,
        end_date: end,
        timezone: tz,
        include_bots: includeBots,
        conversions: cur.conversions,
        converting_sessions: cur.converting_sessions,
        total_sessions: cur.total_sessions,
        conversion_rate: round(r, 4),
        prev_conversions: prev.total_sessions === 0 ? null : prev.conversions,
        prev_conversion_rate: pr === null ? null : round(pr, 4),
        trend_pct: pr === null || pr === 0 ? null : round(((r - pr) / pr) * 100, 2),
        currency: g.currency,
        total_value: hasValue ? cur.cents / 100 : null,
      },
      average: hasValue && cur.valued > 0 ? cur.cents / cur.valued / 100 : null,
    };
  }

  it('Sparklytics stats: every field over ranges × filters × bot settings × goals', async () => {
    let checked = 0;
    let nonZero = 0;
    for (const site of sites) {
      const policyBots = site.botPolicy === 'off';
      for (const g of GOALS) {
        const goal = site.goals.get(g.key)!;
        for (const range of RANGES) {
          for (const f of FILTERS) {
            // The flipped bot setting on a subset of filters keeps the run short.
            const botSettings = [undefined, ...(FILTERS.indexOf(f) % 2 === 0 ? [!policyBots] : [])];
            for (const bots of botSettings) {
              const includeBots = bots ?? policyBots;
              const qs = new URLSearchParams({
                start_date: range[0],
                end_date: range[1],
                ...f.q,
                ...(bots === undefined ? {} : { include_bots: String(bots) }),
              });
              const res = await get(
                `/api/websites/${site.websiteId}/goals/${goal.id}/stats?${qs.toString()}`,
              );
              expect(res.status).toBe(200);
              const exp = expectedStats(site, g, site.timezone, range, includeBots, f.keep);
              const data = res.body.data as Record<string, unknown>;
              const ctx = `${site.timezone} ${g.key} ${qs.toString()}`;
              expect(data, ctx).toMatchObject({ goal_id: goal.id, ...exp.body });
              if (exp.average === null) expect(data.average_value, ctx).toBeNull();
              else expect(data.average_value as number, ctx).toBeCloseTo(exp.average, 9);
              expect(data.timeseries).toBeUndefined();
              checked++;
              if (exp.cur.conversions > 0) nonZero++;
            }
          }
        }
      }
    }
    // The grid is meaningful: most cells have conversions.
    expect(nonZero).toBeGreaterThan(checked / 2);
  }, 120_000);

  it('the timezone parameter overrides the website’s, DST-correct', async () => {
    const site = sites[0]!; // a UTC website, asked in New York and Kolkata time
    for (const tz of ['America/New_York', 'Asia/Kolkata']) {
      for (const range of RANGES.slice(0, 2)) {
        for (const g of GOALS) {
          const goal = site.goals.get(g.key)!;
          const qs = new URLSearchParams({
            start_date: range[0],
            end_date: range[1],
            timezone: tz,
          });
          const res = await get(
            `/api/websites/${site.websiteId}/goals/${goal.id}/stats?${qs.toString()}`,
          );
          expect(res.status).toBe(200);
          const exp = expectedStats(site, g, tz, range, false, () => true);
          expect(res.body.data).toMatchObject(exp.body);
        }
      }
    }
  });

  /** `2026-03-08T03:00:00-04:00` for an instant, computed from Intl parts. */
  const isoWithOffset = (t: number, tz: string) => {
    const w = wall(t, tz);
    const off = Math.round(
      (Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(t / 1000) * 1000) / 60_000,
    );
    const two = (n: number) => String(n).padStart(2, '0');
    const a = Math.abs(off);
    return `${w.y}-${two(w.mo)}-${two(w.d)}T${two(w.h)}:${two(w.mi)}:${two(w.s)}${off < 0 ? '-' : '+'}${two(Math.floor(a / 60))}:${two(a % 60)}`;
  };

  it('timeseries by day and by hour (23-hour DST day in New York), zero-filled', async () => {
    const site = sites[1]!;
    const cases: Array<{
      g: GoalSpec;
      range: [string, string];
      gran: 'day' | 'hour';
      f: (typeof FILTERS)[number];
    }> = [
      { g: GOALS[0]!, range: ['2026-03-01', '2026-03-14'], gran: 'day', f: FILTERS[0]! },
      { g: GOALS[1]!, range: ['2026-03-01', '2026-03-14'], gran: 'day', f: FILTERS[2]! },
      { g: GOALS[1]!, range: ['2026-03-07', '2026-03-09'], gran: 'hour', f: FILTERS[0]! },
      { g: GOALS[2]!, range: ['2026-03-08', '2026-03-08'], gran: 'hour', f: FILTERS[3]! },
    ];
    for (const { g, range, gran, f } of cases) {
      const goal = site.goals.get(g.key)!;
      const qs = new URLSearchParams({
        start_date: range[0],
        end_date: range[1],
        include: 'timeseries',
        granularity: gran,
        ...f.q,
      });
      const res = await get(
        `/api/websites/${site.websiteId}/goals/${goal.id}/stats?${qs.toString()}`,
      );
      expect(res.status).toBe(200);
      const series = (res.body.data as { timeseries: Array<Record<string, unknown>> }).timeseries;
      const keep = f.keep;
      const tz = site.timezone;
      const expected: Array<Record<string, unknown>> = [];
      const push = (period: string, lo: number, hi: number) => {
        const c = figures(site.sessions, g, lo, hi, keep);
        expected.push({
          period,
          conversions: c.conversions,
          converting_sessions: c.converting_sessions,
          total_sessions: c.total_sessions,
          conversion_rate: round(rate(c.converting_sessions, c.total_sessions), 4),
          total_value: g.value_mode === 'none' ? null : c.cents / 100,
        });
      };
      if (gran === 'day') {
        for (let d = range[0]; d <= range[1]; d = plusDays(d, 1)) {
          push(d, localMidnight(d, tz), localMidnight(plusDays(d, 1), tz));
        }
      } else {
        const lo = localMidnight(range[0], tz);
        const hi = localMidnight(plusDays(range[1], 1), tz);
        for (let t = lo; t < hi; t += 3_600_000) push(isoWithOffset(t, tz), t, t + 3_600_000);
      }
      expect(series).toEqual(expected);
      if (gran === 'hour' && range[0] === range[1]) expect(series).toHaveLength(23);
    }
  });

  it('Rybbit goal list: metrics, paging and sorting', async () => {
    const RF: Array<{ filters?: unknown; keep: (s: Session) => boolean }> = [
      { keep: () => true },
      {
        filters: [{ parameter: 'country', type: 'equals', value: ['US', 'DE'] }],
        keep: (s) => s.landing.country === 'US' || s.landing.country === 'DE',
      },
      {
        filters: [
          { parameter: 'pathname', type: 'starts_with', value: ['/checkout'] },
          { parameter: 'utm_source', type: 'not_equals', value: ['google'] },
        ],
        keep: (s) =>
          s.events.some((e) => e.type === 'pageview' && e.path!.startsWith('/checkout')) &&
          s.landing.utm_source !== 'google',
      },
      {
        filters: [{ parameter: 'event_name', type: 'equals', value: ['signup'] }],
        keep: (s) => s.events.some((e) => e.type === 'event' && e.event_name === 'signup'),
      },
    ];
    for (const site of sites) {
      const bots = site.botPolicy === 'off';
      for (const range of [null, ['2026-03-01', '2026-03-14'] as [string, string]]) {
        for (const f of RF) {
          const qs = new URLSearchParams({
            ...(range ? { start_date: range[0], end_date: range[1] } : {}),
            ...(f.filters ? { filters: JSON.stringify(f.filters) } : {}),
            sort: 'goalId',
            order: 'asc',
          });
          const res = await get(`/api/goals/${site.numeric}?${qs.toString()}`);
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          const lo = range ? localMidnight(range[0], site.timezone) : -Infinity;
          const hi = range ? localMidnight(plusDays(range[1], 1), site.timezone) : Infinity;
          const k = (s: Session) => (bots || !s.isBot) && f.keep(s);
          expect(res.body).toEqual({
            data: GOALS.map((g): unknown => {
              const c = figures(site.sessions, g, lo, hi, k);
              return expect.objectContaining({
                goalId: site.goals.get(g.key)!.numeric_id,
                name: g.key,
                total_conversions: c.converting_sessions,
                total_sessions: c.total_sessions,
                conversion_rate: round(rate(c.converting_sessions, c.total_sessions), 4),
              });
            }),
            meta: { total: 3, page: 1, pageSize: 10, totalPages: 1 },
          });
        }
      }
      // Sorted by converting sessions, two per page.
      const all = GOALS.map((g) => ({
        id: site.goals.get(g.key)!.numeric_id,
        n: figures(site.sessions, g, -Infinity, Infinity, (s) => bots || !s.isBot)
          .converting_sessions,
      })).sort((a, b) => b.n - a.n || b.id - a.id);
      const p1 = await get(`/api/sites/${site.websiteId}/goals?sort=conversions&page_size=2`);
      const p2 = await get(`/api/sites/${site.websiteId}/goals?sort=conversions&pageSize=2&page=2`);
      const ids = [p1, p2].flatMap((p) =>
        (p.body.data as Array<{ goalId: number }>).map((x) => x.goalId),
      );
      expect(ids).toEqual(all.map((x) => x.id));
      expect(p2.body.meta).toEqual({ total: 3, page: 2, pageSize: 2, totalPages: 2 });
    }
  });

  const sessionView = (s: Session) => {
    const pv = s.events.filter((e) => e.type === 'pageview');
    const first = s.events[0]!;
    const last = s.events[s.events.length - 1]!;
    return {
      session_id: s.id,
      user_id: first.user_id,
      country: first.country,
      browser: first.browser,
      operating_system: first.os,
      device_type: first.device,
      entry_page: pv[0]?.path ?? null,
      exit_page: pv[pv.length - 1]?.path ?? null,
      pageviews: pv.length,
      session_duration: Math.floor(
        (Date.parse(last.event_time) - Date.parse(first.event_time)) / 1000,
      ),
      session_start: first.event_time,
      session_end: last.event_time,
      referrer: first.referrer_domain,
      channel: first.channel,
    };
  };

  const expectedSessions = (
    site: Site,
    g: GoalSpec,
    range: [string, string],
    includeBots: boolean,
    keep: (s: Session) => boolean,
  ) => {
    const lo = localMidnight(range[0], site.timezone);
    const hi = localMidnight(plusDays(range[1], 1), site.timezone);
    const c = figures(site.sessions, g, lo, hi, (s) => (includeBots || !s.isBot) && keep(s));
    return [...c.convertingIds]
      .map((id) => site.sessions.get(id)!)
      .sort((a, b) => {
        const ea = Date.parse(a.events[a.events.length - 1]!.event_time);
        const eb = Date.parse(b.events[b.events.length - 1]!.event_time);
        return eb - ea || (a.id < b.id ? -1 : 1);
      })
      .map(sessionView);
  };

  it('Rybbit and Sparklytics converting sessions: fields, order, paging, filters', async () => {
    for (const site of sites) {
      const bots = site.botPolicy === 'off';
      for (const g of [GOALS[0]!, GOALS[1]!]) {
        const goal = site.goals.get(g.key)!;
        const range: [string, string] = ['2026-03-01', '2026-03-10'];
        for (const f of [FILTERS[0]!, FILTERS[2]!, FILTERS[3]!]) {
          const expected = expectedSessions(site, g, range, bots, f.keep);
          // Rybbit: page/limit, meta.total.
          const rf = Object.entries(f.q).map(([k, v]) =>
            k === 'filter_utm_source'
              ? { parameter: 'utm_source', type: 'equals', value: [v] }
              : { parameter: 'pathname', type: 'contains', value: [v] },
          );
          const got: unknown[] = [];
          for (let page = 1; ; page++) {
            const qs = new URLSearchParams({
              start_date: range[0],
              end_date: range[1],
              page: String(page),
              limit: '40',
              ...(rf.length ? { filters: JSON.stringify(rf) } : {}),
            });
            const res = await get(
              `/api/goals/${goal.numeric_id}/sessions/${site.websiteId}?${qs.toString()}`,
            );
            expect(res.status, JSON.stringify(res.body)).toBe(200);
            const data = res.body.data as unknown[];
            expect(res.body.meta).toEqual({ total: expected.length, page, limit: 40 });
            got.push(...data);
            if (data.length < 40) break;
          }
          expect(got).toEqual(expected);
          // Sparklytics: cursor.
          const got2: unknown[] = [];
          let cursor: string | null = null;
          do {
            const qs = new URLSearchParams({
              start_date: range[0],
              end_date: range[1],
              limit: '33',
              ...f.q,
              ...(cursor ? { cursor } : {}),
            });
            const res = await get(
              `/api/websites/${site.websiteId}/goals/${goal.id}/sessions?${qs.toString()}`,
            );
            expect(res.status, JSON.stringify(res.body)).toBe(200);
            got2.push(...(res.body.data as unknown[]));
            cursor = res.body.next_cursor as string | null;
          } while (cursor !== null);
          expect(got2).toEqual(expected);
        }
      }
    }
  });

  it('refuses bad parameters in each dialect', async () => {
    const site = sites[0]!;
    const goal = site.goals.get('checkout')!;
    const base = `/api/websites/${site.websiteId}/goals/${goal.id}/stats`;
    for (const [qs, field] of [
      ['include_bots=yes', 'include_bots'],
      ['start_date=2026-02-30', 'start_date'],
      ['end_date=2026-03-01&start_date=2026-03-02', 'end_date'],
      ['timezone=Mars/Olympus', 'timezone'],
      ['start_date=2025-01-01&end_date=2026-03-01', 'start_date'],
      ['granularity=week&include=timeseries', 'granularity'],
    ] as const) {
      const res = await get(`${base}?${qs.toString()}`);
      expect(res.status, qs).toBe(422);
      expect((res.body.error as { field: string }).field).toBe(field);
    }
    for (const [qs, field] of [
      ['page_size=0', 'page_size'],
      ['pageSize=101', 'pageSize'],
      ['sort=size', 'sort'],
      ['order=up', 'order'],
      ['filters=nope', 'filters'],
      [
        `filters=${encodeURIComponent('[{"parameter":"os","type":"equals","value":["x"]}]')}`,
        'filters[0].parameter',
      ],
      [
        `filters=${encodeURIComponent('[{"parameter":"country","type":"like","value":["x"]}]')}`,
        'filters[0].type',
      ],
      [
        `filters=${encodeURIComponent('[{"parameter":"country","type":"regex","value":["\\\\p{L}"]}]')}`,
        'filters[0].value[0]',
      ],
      ['time_zone=Nowhere', 'time_zone'],
    ] as const) {
      const res = await get(`/api/goals/${site.websiteId}?${qs.toString()}`);
      expect(res.status, qs.toString()).toBe(400);
      expect(res.body).toEqual({
        error: expect.any(String) as string,
        details: [{ field, message: expect.any(String) as string }],
      });
    }
    const res = await get(`/api/goals/${goal.numeric_id}/sessions/${site.websiteId}?limit=101`);
    expect(res.status).toBe(400);
  });
});
