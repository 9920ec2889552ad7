import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import type { EventMessage } from '../../shared/events/event-message.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newGoalId, newWebsiteId } from '../../shared/ids.js';
import { createTestTopic, deleteTestTopics, openTestDeps, type TestDeps } from '../helpers/deps.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import { rng } from '../helpers/random.js';
import { cleanupSites, EVENT_DEFAULTS, produceAndStore } from '../processor/pipeline.js';

/**
 * The attribution oracle: sessions whose events carry different campaigns (the landing one,
 * then others), several purchases per session with values, visitors with a stable id coming
 * back over several days, bots, through Kafka and the processor. Every field of
 * `GET …/attribution` and `…/revenue/summary` (first and last touch, session and visitor
 * scope) is compared with figures computed here from the generated events.
 */
const KEY = `spk_selfhosted_${'a7'.repeat(16)}`;
const TZ = 'Europe/Berlin'; // UTC+2 all June
const DAY0 = Date.UTC(2026, 5, 1, -2); // 2026-06-01 00:00 in Berlin
const DAYS = 6;

interface Touch {
  utm_source: string | null;
  utm_medium: string | null;
  referrer_domain: string | null;
}
interface Session {
  id: string;
  user: string | null;
  isBot: boolean;
  start: number;
  landing: Touch;
  events: EventMessage[];
}

const channel = (t: Touch) => {
  const src = t.utm_source?.trim() || null;
  const med = t.utm_medium?.trim() || null;
  if (src) return `${src} / ${med ?? 'utm'}`;
  if (t.referrer_domain) return `${t.referrer_domain} / ${med ?? 'referral'}`;
  return `(direct) / ${med ?? 'direct'}`;
};

function generate(websiteId: string): Session[] {
  const r = rng(777);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const touches: Touch[] = [
    { utm_source: 'google', utm_medium: 'cpc', referrer_domain: 'google.com' },
    { utm_source: ' news ', utm_medium: null, referrer_domain: null },
    { utm_source: null, utm_medium: null, referrer_domain: 'ref.example' },
    { utm_source: null, utm_medium: null, referrer_domain: null },
    { utm_source: 'mail', utm_medium: 'email', referrer_domain: null },
  ];
  const sessions: Session[] = [];
  for (let k = 0; k < 300; k++) {
    const user = k % 3 === 0 ? null : `u${k % 40}`;
    const start = DAY0 + Math.floor(r() * DAYS * 86_400_000) - 3_600_000;
    const landing = pick(touches);
    const events: EventMessage[] = [];
    let t = start;
    const n = 2 + Math.floor(r() * 6);
    for (let i = 0; i < n; i++) {
      const touch = i === 0 ? landing : pick(touches);
      const purchase = i > 0 && r() < 0.5;
      const amount = r();
      const time = new Date(t).toISOString();
      events.push({
        ...EVENT_DEFAULTS,
        event_id: randomUUID(),
        seq: 0,
        event_time: time,
        received_at: time,
        website_id: websiteId,
        session_id: `as${k}`,
        visitor_id: user ?? `anon${k}`,
        user_id: user,
        type: purchase ? 'event' : 'pageview',
        event_name: purchase ? 'purchase' : null,
        path: purchase ? '/checkout' : '/landing',
        referrer: touch.referrer_domain ? `https://${touch.referrer_domain}/` : null,
        ...touch,
        properties: purchase
          ? amount < 0.2
            ? { other: 1 }
            : { amount: Math.round(amount * 10_000) / 100 }
          : null,
        bot_score: k % 17 === 5 ? 100 : 0,
        is_bot: k % 17 === 5,
      });
      t += 1000 + Math.floor(r() * 300_000);
    }
    sessions.push({ id: `as${k}`, user, isBot: k % 17 === 5, start, landing, events });
  }
  return sessions;
}

describe('attribution matches an independent oracle', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let api: HttpApp;
  const websiteId = newWebsiteId();
  const goalId = newGoalId();
  const sessions = generate(websiteId);
  const events = sessions.flatMap((s) => s.events);

  beforeAll(async () => {
    deps = openTestDeps('attribution-oracle');
    topic = await createTestTopic(deps.kafka, 'attribution-oracle', 2);
    dlqTopic = await createTestTopic(deps.kafka, 'attribution-oracle-dlq', 1);
    await websiteRepository.create(deps.db, {
      id: websiteId,
      name: 'attribution oracle',
      domain: 'shop.example',
      timezone: TZ,
      bot_policy: 'balanced',
    });
    await goalRepository.create(deps.db, {
      id: goalId,
      website_id: websiteId,
      name: 'Purchase',
      description: null,
      goal_type: 'event',
      match_operator: 'equals',
      match_value: 'purchase',
      case_sensitive: true,
      property_filters: [],
      value_mode: 'event_property',
      fixed_value: null,
      value_property_key: 'amount',
      currency: 'EUR',
    });
    processor = await startTestProcessor(deps, { name: 'attribution-oracle', topic, dlqTopic });
    await produceAndStore(deps, topic, events);
    api = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
    });
  }, 90_000);

  afterAll(async () => {
    await api?.close();
    await processor?.stop();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await cleanupSites(deps.db, [websiteId]);
    await deps.close();
  });

  const get = async (path: string) => {
    const res = await api.inject({
      method: 'GET',
      url: path,
      headers: { authorization: `Bearer ${KEY}` },
    });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  };

  type Case = {
    start: string;
    end: string;
    model: 'first_touch' | 'last_touch';
    lookback: number | null;
    bots: boolean;
    utm: string | null;
  };
  const CASES: Case[] = [];
  for (const [start, end] of [
    ['2026-06-01', '2026-06-06'],
    ['2026-06-03', '2026-06-04'],
  ] as const) {
    for (const model of ['first_touch', 'last_touch'] as const) {
      CASES.push({ start, end, model, lookback: null, bots: false, utm: null });
    }
    CASES.push({ start, end, model: 'first_touch', lookback: 2, bots: false, utm: null });
    CASES.push({ start, end, model: 'first_touch', lookback: 30, bots: true, utm: null });
    CASES.push({ start, end, model: 'last_touch', lookback: null, bots: false, utm: 'google' });
  }

  function expected(c: Case) {
    const lo = Date.parse(`${c.start}T00:00:00+02:00`);
    const hi = Date.parse(`${c.end}T00:00:00+02:00`) + 86_400_000;
    const rows = new Map<string, { conversions: number; cents: number }>();
    for (const s of sessions) {
      if (s.isBot && !c.bots) continue;
      if (c.utm !== null && s.landing.utm_source?.trim() !== c.utm) continue;
      for (const e of s.events) {
        const t = Date.parse(e.event_time);
        if (e.event_name !== 'purchase' || t < lo || t >= hi) continue;
        let touch: Touch = e;
        if (c.model === 'first_touch') {
          touch = s.landing;
          if (c.lookback !== null && s.user !== null) {
            const first = sessions
              .filter(
                (o) => o.user === s.user && o.start >= t - c.lookback! * 86_400_000 && o.start <= t,
              )
              .sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1))[0];
            if (first) touch = first.landing;
          }
        }
        const ch = channel(touch);
        const row = rows.get(ch) ?? { conversions: 0, cents: 0 };
        row.conversions += 1;
        const amount = (e.properties as { amount?: number } | null)?.amount;
        row.cents += amount === undefined ? 0 : Math.round(amount * 100);
        rows.set(ch, row);
      }
    }
    const total = [...rows.values()].reduce((n, r) => n + r.conversions, 0);
    const cents = [...rows.values()].reduce((n, r) => n + r.cents, 0);
    return {
      rows: [...rows.entries()]
        .map(([ch, r]) => ({
          channel: ch,
          conversions: r.conversions,
          cents: r.cents,
          share: total === 0 ? 0 : r.conversions / total,
        }))
        .sort(
          (a, b) =>
            b.conversions - a.conversions || b.cents - a.cents || (a.channel < b.channel ? -1 : 1),
        ),
      total,
      cents,
    };
  }

  it('the dataset has what the rules are about', () => {
    const returning = new Set(sessions.filter((s) => s.user !== null).map((s) => s.user));
    expect(returning.size).toBeGreaterThan(10);
    // Last and first touch differ for some conversions.
    expect(
      sessions.some((s) =>
        s.events.some((e) => e.event_name === 'purchase' && channel(e) !== channel(s.landing)),
      ),
    ).toBe(true);
  });

  it('every field of attribution and the revenue summary, in every case', async () => {
    for (const c of CASES) {
      const q = new URLSearchParams({
        goal_id: goalId,
        model: c.model,
        start_date: c.start,
        end_date: c.end,
        include_bots: String(c.bots),
        ...(c.lookback !== null ? { scope: 'visitor', lookback_days: String(c.lookback) } : {}),
        ...(c.utm ? { filter_utm_source: c.utm } : {}),
      }).toString();
      const want = expected(c);
      const res = await get(`/api/websites/${websiteId}/attribution?${q}`);
      const data = res.body.data as {
        rows: Array<{ channel: string; conversions: number; revenue: number; share: number }>;
        totals: { conversions: number; revenue: number };
      };
      expect({ c, status: res.status }).toEqual({ c, status: 200 });
      expect({
        c,
        goal: (res.body.data as { goal_id: string }).goal_id,
        model: (res.body.data as { model: string }).model,
        currency: (res.body.data as { currency: string }).currency,
        rows: data.rows.map((r) => ({ ...r, cents: Math.round(r.revenue * 100), revenue: 0 })),
        totals: {
          conversions: data.totals.conversions,
          cents: Math.round(data.totals.revenue * 100),
        },
      }).toEqual({
        c,
        goal: goalId,
        model: c.model,
        currency: 'EUR',
        rows: want.rows.map((r) => ({ ...r, revenue: 0 })),
        totals: { conversions: want.total, cents: want.cents },
      });
      const summary = await get(`/api/websites/${websiteId}/revenue/summary?${q}`);
      const s = summary.body.data as { conversions: number; revenue: number };
      expect({ c, conversions: s.conversions, cents: Math.round(s.revenue * 100) }).toEqual({
        c,
        conversions: want.total,
        cents: want.cents,
      });
    }
  });

  it('refuses what it cannot answer, naming the parameter', async () => {
    const base = `/api/websites/${websiteId}`;
    const cases: Array<[string, number, string | null, string]> = [
      [`${base}/attribution`, 400, 'goal_id', 'goal_id is required'],
      [`${base}/attribution?goal_id=${newGoalId()}`, 404, 'goal_id', 'Goal not found'],
      [
        `${base}/attribution?goal_id=${goalId}&model=linear`,
        400,
        'model',
        'model must be one of: first_touch, last_touch',
      ],
      [
        `${base}/revenue/summary?goal_id=${goalId}&scope=visitor&lookback_days=91`,
        400,
        'lookback_days',
        'lookback_days must be an integer from 1 to 90',
      ],
      [
        `${base}/attribution?goal_id=${goalId}&lookback_days=3`,
        400,
        'lookback_days',
        'lookback_days applies to scope=visitor only',
      ],
      [
        `${base}/attribution?goal_id=${goalId}&timezone=Nowhere/Else`,
        400,
        'timezone',
        'invalid timezone',
      ],
    ];
    for (const [url, status, field, message] of cases) {
      const res = await get(url);
      expect({ url, status: res.status, body: res.body }).toEqual({
        url,
        status,
        body: {
          error: { code: status === 404 ? 'not_found' : 'validation_error', message, field },
        },
      });
    }
    const empty = await get(
      `${base}/attribution?goal_id=${goalId}&model=&start_date=2020-01-01&end_date=2020-01-02`,
    );
    expect(empty.body.data).toEqual({
      goal_id: goalId,
      model: 'last_touch',
      currency: 'EUR',
      rows: [],
      totals: { conversions: 0, revenue: 0 },
    });
  });
});
