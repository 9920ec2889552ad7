import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { encodeEvent, type EventMessage } from '../../shared/events/event-message.js';
import { liveStreamKey, recentCounts, type LiveConversion } from '../../shared/live/live-feed.js';
import {
  cleanupSites,
  countEvents,
  createGoals,
  createSites,
  generate,
  type GoalKey,
} from './pipeline.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';

/**
 * Sessions are exact under out-of-order arrival and redelivery (entry/exit/landing by event
 * time, counts only from newly stored events), and every new conversion is published once to
 * the live stream and the per-minute counters.
 */
describe('processor: sessions and live feed', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let producer: Producer;
  let websites: string[] = [];
  let goals: Map<string, Record<GoalKey, string>>;

  beforeAll(async () => {
    deps = openTestDeps('processor-sessions');
    topic = await createTestTopic(deps.kafka, 'sessions', 1);
    dlqTopic = await createTestTopic(deps.kafka, 'sessions-dlq', 1);
    websites = await createSites(deps.db, 1);
    goals = await createGoals(deps.db, websites);
    producer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    processor = await startTestProcessor(deps, {
      name: 'sessions',
      topic,
      dlqTopic,
      goalRecheckMs: 100,
      live: true,
      // Tiny sub-batches: the session is updated across many transactions.
      subBatchSize: 2,
      partitionsConcurrently: 1,
    });
  });

  afterAll(async () => {
    await processor?.stop();
    await producer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    if (websites[0]) await deps.redis.del(liveStreamKey(websites[0]));
    await cleanupSites(deps.db, websites);
    await deps.close();
  });

  it('builds the session by event time, whatever the arrival order and redeliveries', async () => {
    const w = websites[0]!;
    const [template] = generate([w], 1, 5, Date.now()).events;
    const t0 = Date.now() - 10 * 60_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    const ev = (s: number, patch: Partial<EventMessage>): EventMessage => ({
      ...template!,
      event_id: randomUUID(),
      event_time: at(s),
      received_at: at(s),
      session_id: 'sess-1',
      user_id: null,
      properties: null,
      event_name: null,
      utm_source: null,
      country: 'DE',
      ...patch,
    });
    const events = [
      ev(-5, { type: 'performance', path: '/perf', properties: { lcp: 1 } }),
      ev(0, {
        type: 'event',
        event_name: 'hello',
        path: '/landing',
        utm_source: 'news',
        country: 'FR',
      }),
      ev(10, { type: 'pageview', path: '/first', utm_source: 'ads', country: 'IT' }),
      ev(20, { type: 'pageview', path: '/checkout/success', user_id: 'u-1' }),
      ev(30, { type: 'pageview', path: '/blog/a', user_id: 'u-2' }),
      ev(40, { type: 'pageview', path: '/last' }),
    ];
    // Reversed, interleaved, two events delivered twice.
    const order = [
      events[5]!,
      events[3]!,
      events[0]!,
      events[4]!,
      events[3]!,
      events[1]!,
      events[2]!,
      events[5]!,
    ];
    await producer.send({
      topic,
      acks: -1,
      messages: order.map((e) => ({ key: 'k', value: encodeEvent(e) })),
    });
    await waitFor('6 events stored', async () =>
      (await countEvents(deps.db, websites)) === 6 ? true : undefined,
    );
    const { rows } = await deps.db.query(
      'test.session',
      `SELECT visitor_id, user_id, started_at, ended_at, duration, entry_page, exit_page, pageviews,
              events, utm_source, country, is_bot
         FROM sessions WHERE website_id = $1 AND session_id = 'sess-1'`,
      [w],
    );
    expect(rows).toEqual([
      {
        visitor_id: template!.visitor_id,
        user_id: 'u-2',
        started_at: new Date(at(0)),
        ended_at: new Date(at(40)),
        duration: 40,
        entry_page: '/first',
        exit_page: '/last',
        pageviews: 4,
        events: 1,
        // Landing attributes: the first pageview's, not the earlier custom event's.
        utm_source: 'ads',
        country: 'IT',
        is_bot: false,
      },
    ]);
  });

  it('publishes each new conversion once to the live stream and the minute counters', async () => {
    const w = websites[0]!;
    const entries = await deps.redis.xrange(liveStreamKey(w), '-', '+');
    const published = entries.map(([, fields]) => JSON.parse(fields[1]!) as LiveConversion);
    // From the session above: one checkout (no value) and one blog conversion (2.50 USD),
    // although the checkout pageview was delivered twice.
    expect(
      published
        .map((c) => ({
          goal_id: c.goal_id,
          value: c.value,
          currency: c.currency,
          page: c.page,
          country: c.country,
        }))
        .sort((a, b) => a.page!.localeCompare(b.page!)),
    ).toEqual([
      {
        goal_id: goals.get(w)!.blog,
        value: '2.50',
        currency: 'USD',
        page: '/blog/a',
        country: 'DE',
      },
      {
        goal_id: goals.get(w)!.checkout,
        value: null,
        currency: null,
        page: '/checkout/success',
        country: 'DE',
      },
    ]);
    const counts = await recentCounts(deps.redis, w, 30);
    expect(Object.fromEntries(counts)).toEqual({
      [goals.get(w)!.blog]: 1,
      [goals.get(w)!.checkout]: 1,
    });
  });
});
