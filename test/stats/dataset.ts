import { createHash } from 'node:crypto';
import type { NewGoal } from '../../shared/db/repositories/goal.repository.js';
import type { EventMessage } from '../../shared/events/event-message.js';
import { newGoalId } from '../../shared/ids.js';
import { rng } from '../helpers/random.js';

/**
 * A deterministic analytics dataset for the statistics oracle, and the oracle itself: plain
 * TypeScript over the generated events, sharing no code with the SQL it checks (not even the
 * time-zone arithmetic).
 */

const uuidOf = (s: string) => {
  const h = createHash('sha1').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export interface SiteSpec {
  websiteId: string;
  timezone: string;
  botPolicy: 'off' | 'balanced' | 'strict';
  visitors: number;
  seed: number;
}

export interface GoalSpec {
  key: 'checkout' | 'purchase' | 'pricing';
  goal_type: 'pageview' | 'event';
  match_operator: 'equals' | 'starts_with';
  match_value: string;
  value_mode: 'none' | 'fixed' | 'event_property';
  fixed_value: string | null;
  value_property_key: string | null;
  currency: string;
}

export const GOALS: GoalSpec[] = [
  {
    key: 'checkout',
    goal_type: 'pageview',
    match_operator: 'equals',
    match_value: '/checkout/success',
    value_mode: 'fixed',
    fixed_value: '10.50',
    value_property_key: null,
    currency: 'USD',
  },
  {
    key: 'purchase',
    goal_type: 'event',
    match_operator: 'equals',
    match_value: 'purchase',
    value_mode: 'event_property',
    fixed_value: null,
    value_property_key: 'amount',
    currency: 'EUR',
  },
  {
    key: 'pricing',
    goal_type: 'pageview',
    match_operator: 'starts_with',
    match_value: '/pricing',
    value_mode: 'none',
    fixed_value: null,
    value_property_key: null,
    currency: 'USD',
  },
];

/** The goal row of `g` for website `websiteId` (what the tests store before ingesting). */
export function newGoalOf(websiteId: string, g: GoalSpec): NewGoal {
  return {
    id: newGoalId(),
    website_id: websiteId,
    name: g.key,
    description: null,
    goal_type: g.goal_type,
    match_operator: g.match_operator,
    match_value: g.match_value,
    case_sensitive: true,
    property_filters: [],
    value_mode: g.value_mode,
    fixed_value: g.fixed_value,
    value_property_key: g.value_property_key,
    currency: g.currency,
  };
}

const PATHS = ['/', '/pricing', '/pricing/pro', '/blog/post-1', '/checkout', '/checkout/success'];
const COUNTRIES = [
  ['US', 'California', 'San Francisco'],
  ['DE', 'Berlin', 'Berlin'],
  ['IN', 'Karnataka', 'Bengaluru'],
  ['GB', 'England', 'London'],
] as const;
const BROWSERS = [
  ['Chrome', 'Windows', 'desktop'],
  ['Safari', 'iOS', 'mobile'],
  ['Firefox', 'macOS', 'desktop'],
  ['Chrome', 'Android', 'tablet'],
] as const;
const SOURCES = [
  { referrer_domain: 'google.com', channel: 'organic', utm: null },
  { referrer_domain: null, channel: 'direct', utm: null },
  { referrer_domain: 'news.ycombinator.com', channel: 'referral', utm: null },
  {
    referrer_domain: 'google.com',
    channel: 'paid',
    utm: { s: 'google', m: 'cpc', c: 'spring' },
  },
  {
    referrer_domain: 'mail.example',
    channel: 'email',
    utm: { s: 'newsletter', m: 'email', c: 'march' },
  },
] as const;

/** Generated events run from START (inclusive) for DAYS days, UTC. */
export const START = Date.UTC(2026, 1, 18);
export const DAYS = 32;

/**
 * Visitors with 1–5 sessions each; sessions of 2–14 events, consecutive events 5 s – 29 min
 * apart (ingest's 30-minute session rule), some starting just before local midnight so they
 * span two days; landing attributes (referrer, UTMs) only on the first event, as a real
 * tracker sends them; conversions several per session; bots per visitor.
 */
export function generate(site: SiteSpec): EventMessage[] {
  const r = rng(site.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: EventMessage[] = [];
  for (let v = 0; v < site.visitors; v++) {
    const visitor = `v${site.seed}-${v}`;
    const [country, region, city] = pick(COUNTRIES);
    const [browser, os, device] = pick(BROWSERS);
    const language = pick(['en-US', 'de-DE', 'en-GB']);
    const isBot = r() < 0.1;
    const userId = r() < 0.3 ? `user-${visitor}` : null;
    const sessions = 1 + Math.floor(r() * 5);
    for (let si = 0; si < sessions; si++) {
      const sessionId = `s-${visitor}-${si}`;
      // Whole seconds plus a unique millisecond tail: no two events share a time.
      let t = START + Math.floor(r() * (DAYS - 1) * 86_400) * 1000 + ((v * 7 + si) % 1000);
      if (r() < 0.1) {
        // Start 20 minutes before a UTC hour, often near local midnight somewhere.
        t = t - (t % 3_600_000) + 40 * 60_000 + (t % 1000);
      }
      const src = pick(SOURCES);
      const host = r() < 0.2 ? 'Blog.Example' : 'shop.example';
      const n = 2 + Math.floor(r() * 13);
      for (let e = 0; e < n; e++) {
        if (e > 0) t += (5 + Math.floor(r() * (29 * 60 - 5))) * 1000;
        const first = e === 0;
        const isEvent = !first && r() < 0.3;
        const path = first ? pick(PATHS.slice(0, 4)) : pick(PATHS);
        let name: string | null = null;
        let props: Record<string, unknown> | null = null;
        if (isEvent) {
          name = r() < 0.6 ? 'purchase' : 'signup';
          if (name === 'purchase') {
            const cents = 100 + Math.floor(r() * 20_000);
            const k = r();
            props =
              k < 0.4
                ? { amount: (cents / 100).toFixed(2) }
                : k < 0.8
                  ? { amount: cents / 100 }
                  : { plan: 'pro' };
          }
        }
        const iso = new Date(t).toISOString();
        out.push({
          v: 1,
          event_id: uuidOf(`${sessionId}-${e}`),
          event_time: iso,
          received_at: iso,
          website_id: site.websiteId,
          session_id: sessionId,
          visitor_id: visitor,
          user_id: userId,
          type: isEvent ? 'event' : 'pageview',
          event_name: name,
          hostname: e > 0 && r() < 0.15 ? 'blog.example' : host,
          path,
          querystring: null,
          page_title: null,
          referrer: first && src.referrer_domain ? `https://${src.referrer_domain}/` : null,
          referrer_domain: first ? src.referrer_domain : null,
          channel: first ? src.channel : null,
          utm_source: first && src.utm ? src.utm.s : null,
          utm_medium: first && src.utm ? src.utm.m : null,
          utm_campaign: first && src.utm ? src.utm.c : null,
          utm_term: null,
          utm_content: null,
          properties: props,
          browser,
          os,
          device,
          screen_width: 1280,
          language,
          country,
          region,
          city,
          bot_score: isBot ? 95 : 0,
          is_bot: isBot,
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Oracle
// ---------------------------------------------------------------------------------------------

/** Wall-clock fields of `t` in `tz`, via Intl.DateTimeFormat parts. */
export function wall(t: number, tz: string) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(t));
  const g = (k: string) => Number(parts.find((p) => p.type === k)!.value);
  return {
    y: g('year'),
    mo: g('month'),
    d: g('day'),
    h: g('hour'),
    mi: g('minute'),
    s: g('second'),
  };
}

export function localDate(t: number, tz: string): string {
  const w = wall(t, tz);
  return `${w.y}-${String(w.mo).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** The instant local `date` 00:00 begins in `tz` (fixed-point on the offset). */
export function localMidnight(date: string, tz: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const target = Date.UTC(y, m - 1, d);
  let t = target;
  for (let i = 0; i < 4; i++) {
    const w = wall(t, tz);
    const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
    t = target - (asUtc - t);
  }
  return t;
}

export function plusDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export interface OracleFilter {
  /** Session attribute of the landing event, or an event-level predicate. */
  test(s: Session): boolean;
}

export interface Session {
  id: string;
  events: EventMessage[];
  landing: EventMessage;
  isBot: boolean;
}

export function sessionsOf(events: readonly EventMessage[]): Map<string, Session> {
  const by = new Map<string, EventMessage[]>();
  for (const e of events) {
    const list = by.get(e.session_id) ?? [];
    list.push(e);
    by.set(e.session_id, list);
  }
  const out = new Map<string, Session>();
  for (const [id, list] of by) {
    list.sort((a, b) => Date.parse(a.event_time) - Date.parse(b.event_time));
    out.set(id, { id, events: list, landing: list[0]!, isBot: list.some((e) => e.is_bot) });
  }
  return out;
}

/** Whether `e` converts on goal `g`, and its value in cents (null: counts without a value). */
export function converts(g: GoalSpec, e: EventMessage): { cents: number | null } | null {
  if (g.goal_type === 'pageview') {
    if (e.type !== 'pageview' || e.path === null) return null;
    const ok =
      g.match_operator === 'equals' ? e.path === g.match_value : e.path.startsWith(g.match_value);
    if (!ok) return null;
  } else if (e.type !== 'event' || e.event_name !== g.match_value) {
    return null;
  }
  if (g.value_mode === 'fixed') return { cents: Math.round(Number(g.fixed_value) * 100) };
  if (g.value_mode === 'event_property') {
    const a = e.properties?.amount;
    if (typeof a === 'number') return { cents: Math.round(a * 100) };
    if (typeof a === 'string') return { cents: Math.round(Number(a) * 100) };
    return { cents: null };
  }
  return { cents: null };
}

export interface PeriodFigures {
  total_sessions: number;
  conversions: number;
  converting_sessions: number;
  cents: number;
  valued: number;
  convertingIds: Set<string>;
}

/** Figures over [lo, hi) for sessions passing `keep`. */
export function figures(
  sessions: Map<string, Session>,
  g: GoalSpec,
  lo: number,
  hi: number,
  keep: (s: Session) => boolean,
): PeriodFigures {
  const f: PeriodFigures = {
    total_sessions: 0,
    conversions: 0,
    converting_sessions: 0,
    cents: 0,
    valued: 0,
    convertingIds: new Set(),
  };
  for (const s of sessions.values()) {
    if (!keep(s)) continue;
    let any = false;
    for (const e of s.events) {
      const t = Date.parse(e.event_time);
      if (t < lo || t >= hi) continue;
      any = true;
      const c = converts(g, e);
      if (!c) continue;
      f.conversions++;
      f.convertingIds.add(s.id);
      if (c.cents !== null) {
        f.cents += c.cents;
        f.valued++;
      }
    }
    if (any) f.total_sessions++;
  }
  f.converting_sessions = f.convertingIds.size;
  return f;
}
