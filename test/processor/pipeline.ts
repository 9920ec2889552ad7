import type { ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import type { Db } from '../../shared/db/pool.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import {
  encodeEvent,
  type EventEncoding,
  type EventMessage,
} from '../../shared/events/event-message.js';
import type { NewGoal } from '../../shared/db/repositories/goal.repository.js';
import { newGoalId, newWebsiteId } from '../../shared/ids.js';
import { serviceLogPath, spawnService } from '../helpers/services.js';
import { rng } from '../helpers/random.js';
import { waitFor } from '../helpers/deps.js';

/**
 * Test fixtures for the processor suites: a deterministic event generator with an oracle
 * computed here in plain TypeScript (string comparisons and integer cents; independent of
 * shared/matching and of SQL), goals that the oracle mirrors, and the processor as a child
 * process.
 */

export type GoalKey = 'checkout' | 'purchase' | 'blog';

/** The goals of every test website; the oracle below implements the same rules by hand. */
export function goalSpecs(websiteId: string): Record<GoalKey, NewGoal> {
  const base = {
    website_id: websiteId,
    description: null,
    case_sensitive: true,
    property_filters: [],
    fixed_value: null,
    value_property_key: null,
    currency: 'USD',
  };
  return {
    checkout: {
      ...base,
      id: newGoalId(),
      name: `Checkout ${randomUUID()}`,
      goal_type: 'pageview',
      match_operator: 'equals',
      match_value: '/checkout/success',
      value_mode: 'none',
    },
    purchase: {
      ...base,
      id: newGoalId(),
      name: `Purchase ${randomUUID()}`,
      goal_type: 'event',
      match_operator: 'equals',
      match_value: 'purchase',
      value_mode: 'event_property',
      value_property_key: 'amount',
      currency: 'EUR',
    },
    blog: {
      ...base,
      id: newGoalId(),
      name: `Blog ${randomUUID()}`,
      goal_type: 'pageview',
      match_operator: 'starts_with',
      match_value: '/blog/',
      value_mode: 'fixed',
      fixed_value: '2.50',
    },
  };
}

export interface GoalOracle {
  conversions: number;
  /** Conversions with a non-null value. */
  valued: number;
  /** Sum of values in cents. */
  cents: number;
}

export interface Dataset {
  websites: string[];
  events: EventMessage[];
  /** website → goal key → expected figures. */
  oracle: Map<string, Record<GoalKey, GoalOracle>>;
  /** `${website}|${session}` → expected pageviews. */
  sessionPageviews: Map<string, number>;
  /** website → goal key → expected conversions flagged as bots (every ninth session is one, not the first). */
  botConversions: Map<string, Record<GoalKey, number>>;
}

/**
 * What every generated test event is unless it says otherwise: a desktop Firefox visit from DE
 * to shop.example, direct, with no campaign, referrer, title or properties, not a bot.
 */
export const EVENT_DEFAULTS = {
  v: 1,
  user_id: null,
  hostname: 'shop.example',
  querystring: null,
  page_title: null,
  referrer: null,
  referrer_domain: null,
  channel: 'direct',
  utm_source: null,
  utm_medium: null,
  utm_campaign: null,
  utm_term: null,
  utm_content: null,
  properties: null,
  browser: 'Firefox',
  os: 'Linux',
  device: 'desktop',
  screen_width: 1280,
  language: 'en',
  country: 'DE',
  region: null,
  city: null,
  bot_score: 0,
  is_bot: false,
} as const satisfies Partial<EventMessage>;

const PATHS = ['/', '/pricing', '/checkout/success', '/blog/a', '/blog/b/c', '/blogroll', '/docs'];

/** Generates `n` events over `websites` with the oracle, deterministically from `seed`. */
export function generate(websites: string[], n: number, seed: number, baseTime: number): Dataset {
  const r = rng(seed);
  const events: EventMessage[] = [];
  const oracle = new Map<string, Record<GoalKey, GoalOracle>>();
  const empty = (): GoalOracle => ({ conversions: 0, valued: 0, cents: 0 });
  for (const w of websites) oracle.set(w, { checkout: empty(), purchase: empty(), blog: empty() });
  const sessionPageviews = new Map<string, number>();
  const botConversions = new Map<string, Record<GoalKey, number>>(
    websites.map((w) => [w, { checkout: 0, purchase: 0, blog: 0 }]),
  );
  for (let i = 0; i < n; i++) {
    const website = websites[Math.floor(r() * websites.length)]!;
    const sessionNo = Math.floor(r() * n * 0.1);
    const session = `s${sessionNo}`;
    const isBot = sessionNo % 9 === 4;
    const kind = r();
    const type = kind < 0.6 ? 'pageview' : kind < 0.95 ? 'event' : 'performance';
    const path = PATHS[Math.floor(r() * PATHS.length)]!;
    let eventName: string | null = null;
    let properties: Record<string, unknown> | null = null;
    let cents: number | null = null;
    if (type === 'event') {
      eventName = r() < 0.5 ? 'purchase' : r() < 0.5 ? 'Purchase' : 'signup';
      const amountKind = r();
      const c = Math.floor(r() * 100_000);
      if (amountKind < 0.4) {
        properties = { amount: c / 100 };
        cents = c;
      } else if (amountKind < 0.8) {
        properties = { amount: (c / 100).toFixed(2) };
        cents = c;
      } else if (amountKind < 0.9) {
        properties = { amount: 'n/a' };
      } else {
        properties = { other: 1 };
      }
    } else if (type === 'performance') {
      properties = { lcp: 1200 };
    }
    const time = new Date(baseTime + Math.floor(r() * 36 * 3_600_000)).toISOString();
    events.push({
      ...EVENT_DEFAULTS,
      event_id: randomUUID(),
      event_time: time,
      received_at: time,
      website_id: website,
      session_id: session,
      visitor_id: `v-${session}`,
      type,
      event_name: eventName,
      path,
      properties,
      bot_score: isBot ? 100 : 0,
      is_bot: isBot,
    });
    const o = oracle.get(website)!;
    const bots = botConversions.get(website)!;
    if (type === 'pageview') {
      const key = `${website}|${session}`;
      sessionPageviews.set(key, (sessionPageviews.get(key) ?? 0) + 1);
      if (path === '/checkout/success') {
        o.checkout.conversions++;
        if (isBot) bots.checkout++;
      }
      if (path.startsWith('/blog/')) {
        o.blog.conversions++;
        o.blog.valued++;
        o.blog.cents += 250;
        if (isBot) bots.blog++;
      }
    } else if (type === 'event' && eventName === 'purchase') {
      o.purchase.conversions++;
      if (isBot) bots.purchase++;
      if (cents !== null) {
        o.purchase.valued++;
        o.purchase.cents += cents;
      }
    }
  }
  return { websites, events, oracle, sessionPageviews, botConversions };
}

export async function createSites(db: Db, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = newWebsiteId();
    await websiteRepository.create(db, { id, name: `test ${id}`, domain: 'shop.example' });
    ids.push(id);
  }
  return ids;
}

/** Creates the three goals on each website; returns website → key → goal id. */
export async function createGoals(
  db: Db,
  websites: string[],
): Promise<Map<string, Record<GoalKey, string>>> {
  const out = new Map<string, Record<GoalKey, string>>();
  for (const w of websites) {
    const specs = goalSpecs(w);
    for (const g of Object.values(specs)) await goalRepository.create(db, g);
    out.set(w, { checkout: specs.checkout.id, purchase: specs.purchase.id, blog: specs.blog.id });
  }
  return out;
}

export async function cleanupSites(db: Db, websites: string[]): Promise<void> {
  for (const table of ['events', 'conversions', 'sessions']) {
    await db.query('test.cleanup', `DELETE FROM ${table} WHERE website_id = ANY($1)`, [websites]);
  }
  await db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [websites]);
}

/**
 * Produces events straight to the topic, keyed like ingest does (website:session), in ingest's
 * default encoding, or in one given, or `mixed`: JSON and binary alternately (a topic written
 * by ingest versions on both sides of the switch).
 */
export async function produceEvents(
  kafka: Kafka,
  topic: string,
  events: EventMessage[],
  encoding: EventEncoding | 'mixed' = 'binary',
) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: events.slice(i, i + 1000).map((e, k) => ({
          key: `${e.website_id}:${e.session_id}`,
          value: encodeEvent(
            e,
            encoding === 'mixed' ? ((i + k) % 2 === 0 ? 'json' : 'binary') : encoding,
          ),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface GoalActual {
  conversions: number;
  valued: number;
  cents: number;
}

/** Conversions, valued conversions and value sum in cents per goal id, from the database. */
export async function actualByGoal(db: Db, goalIds: string[]): Promise<Map<string, GoalActual>> {
  const { rows } = await db.query<{ goal_id: string; n: number; valued: number; cents: string }>(
    'test.actual_by_goal',
    `SELECT goal_id, count(*)::int AS n, count(value)::int AS valued,
            coalesce(sum(value * 100), 0)::text AS cents
       FROM conversions WHERE goal_id = ANY($1) GROUP BY goal_id`,
    [goalIds],
  );
  const out = new Map<string, GoalActual>(
    goalIds.map((g) => [g, { conversions: 0, valued: 0, cents: 0 }]),
  );
  for (const r of rows) {
    out.set(r.goal_id, { conversions: r.n, valued: r.valued, cents: Number(r.cents) });
  }
  return out;
}

export async function countEvents(db: Db, websites: string[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'test.count_events',
    'SELECT count(*)::int AS n FROM events WHERE website_id = ANY($1)',
    [websites],
  );
  return rows[0]!.n;
}

/** Produces `events` to the topic and waits until the processor has stored all of them. */
export async function produceAndStore(
  deps: { kafka: Kafka; db: Db },
  topic: string,
  events: EventMessage[],
): Promise<void> {
  const websites = [...new Set(events.map((e) => e.website_id))];
  const before = await countEvents(deps.db, websites);
  await produceEvents(deps.kafka, topic, events);
  await waitFor(
    `${events.length} events stored`,
    async () =>
      (await countEvents(deps.db, websites)) === before + events.length ? true : undefined,
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/** {@link countEvents}, or -1 while the database is down or recovering. */
export async function storedOrDown(db: Db, websites: string[]): Promise<number> {
  try {
    return await countEvents(db, websites);
  } catch {
    return -1;
  }
}

/** Asserts that every goal's conversions, valued conversions and value sum equal `oracle`. */
export async function expectGoalOracle(
  db: Db,
  goals: Map<string, Record<GoalKey, string>>,
  oracle: Map<string, Record<GoalKey, GoalOracle>>,
): Promise<void> {
  const websites = [...goals.keys()];
  const actual = await actualByGoal(
    db,
    websites.flatMap((w) => Object.values(goals.get(w)!)),
  );
  for (const w of websites) {
    for (const key of ['checkout', 'purchase', 'blog'] as const) {
      expect({ website: w, goal: key, ...actual.get(goals.get(w)![key])! }).toEqual({
        website: w,
        goal: key,
        ...oracle.get(w)![key],
      });
    }
  }
}

/**
 * Asserts that every goal's conversions, valued conversions and value sum, and every session's
 * pageviews, equal the dataset's oracle.
 */
export async function expectOracle(
  db: Db,
  goals: Map<string, Record<GoalKey, string>>,
  data: Dataset,
): Promise<void> {
  const websites = [...goals.keys()];
  await expectGoalOracle(db, goals, data.oracle);
  const { rows } = await db.query<{ k: string; pageviews: number }>(
    'test.sessions',
    `SELECT website_id || '|' || session_id AS k, pageviews FROM sessions
      WHERE website_id = ANY($1) AND pageviews > 0`,
    [websites],
  );
  expect(new Map(rows.map((x) => [x.k, x.pageviews]))).toEqual(data.sessionPageviews);
}

/** Each partition of `topic` with `group`'s committed offset and the partition's end. */
export async function committedOffsets(
  kafka: Kafka,
  group: string,
  topic: string,
): Promise<Array<{ partition: number; committed: string; high: string }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.map((p) => ({
      partition: p.partition,
      committed: committed!.partitions.find((x) => x.partition === p.partition)!.offset,
      high: p.high,
    }));
  } finally {
    await admin.disconnect();
  }
}

/** Asserts that `group` committed every offset of `topic` (up to each partition's end). */
export async function expectAllCommitted(kafka: Kafka, group: string, topic: string) {
  for (const p of await committedOffsets(kafka, group, topic)) {
    expect({ partition: p.partition, committed: p.committed }).toEqual({
      partition: p.partition,
      committed: p.high,
    });
  }
}

export const processorLogPath = (group: string) => serviceLogPath('processor', group);

/** The processor service as a child process, named after its consumer group. */
export function spawnProcessor(env: Record<string, string>): ChildProcess {
  return spawnService('processor', env.KAFKA_CONSUMER_GROUP ?? 'default', {
    GOAL_CACHE_RECHECK_MS: '200',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    ...env,
  });
}

export { killHard, stopGracefully } from '../helpers/services.js';
