import type { ChildProcess } from 'node:child_process';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import { EVENT_LIMITS } from '../../shared/events/input-limits.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newGoalId, newWebsiteId } from '../../shared/ids.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { uniqueSuffix } from '../helpers/test-env.js';
import { killHard, spawnProcessor, stopGracefully } from '../processor/pipeline.js';
import { buildTopicIngest } from '../ingest/ingest-harness.js';

/**
 * Issue 12, liveness on the real stack: hostile goals stored straight into the goals table (as
 * if saved before the current rules existed: the globs and regexes that took seconds to minutes
 * per event on the backtracking matcher) and events with paths and names of the maximum
 * accepted length must not stop the processor. Another website's conversions keep arriving.
 * The cap is generous (not a timing target): with the old matcher each hostile event blocked
 * the event loop for hours. The processor runs as its own process (as in production), so a
 * stalled one fails this test instead of freezing it.
 */
describe('hostile goals do not stall the processor', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: ChildProcess | undefined;
  let kafkaProducer: Producer;
  let ingest: HttpApp;
  let ingestUrl: string;
  const hostile = newWebsiteId();
  const victim = newWebsiteId();
  const victimGoal = newGoalId();

  const HOSTILE_GOALS: Array<[type: 'pageview' | 'event', op: string, value: string, cs: boolean]> =
    [
      ['pageview', 'glob', '/**/**/**/**/**/x', true],
      ['pageview', 'glob', '**a**a**a**a**a**b', false],
      ['pageview', 'regex', '^(/a|/a)*/x$', true],
      ['pageview', 'regex', '(.*/){60}x', true],
      ['event', 'regex', '.*.*.*.*.*=', true],
      ['event', 'regex', '^(\\w+\\s?)*$', false],
      ['event', 'regex', '(a+)+$', true],
    ];

  beforeAll(async () => {
    deps = openTestDeps('liveness');
    topic = await createTestTopic(deps.kafka, 'liveness');
    dlqTopic = await createTestTopic(deps.kafka, 'liveness-dlq', 1);
    for (const [id, domain] of [
      [hostile, 'hostile.example'],
      [victim, 'victim.example'],
    ] as const) {
      await websiteRepository.create(deps.db, { id, name: domain, domain });
    }
    for (const [i, [type, op, value, cs]] of HOSTILE_GOALS.entries()) {
      // Straight into the table, bypassing the API's rules, as an old store would hold them.
      await deps.db.query(
        'test.insert_hostile_goal',
        `INSERT INTO goals (id, website_id, name, goal_type, match_operator, match_value,
           case_sensitive, pattern_engine)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)`,
        [newGoalId(), hostile, `hostile ${i}`, type, op, value, cs],
      );
    }
    await goalRepository.create(deps.db, {
      id: victimGoal,
      website_id: victim,
      name: 'Thanks',
      description: null,
      goal_type: 'pageview',
      match_operator: 'equals',
      match_value: '/thanks',
      case_sensitive: true,
      property_filters: [],
      value_mode: 'none',
      fixed_value: null,
      value_property_key: null,
      currency: 'USD',
    });

    kafkaProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await kafkaProducer.connect();
    const suffix = uniqueSuffix();
    processor = spawnProcessor({
      KAFKA_EVENTS_TOPIC: topic,
      KAFKA_DLQ_TOPIC: dlqTopic,
      KAFKA_CONSUMER_GROUP: `test-liveness-${suffix}`,
      BULLMQ_PREFIX: `test-liveness-${suffix}`,
    });
    ingest = await buildTopicIngest(deps, kafkaProducer, topic);
    ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await ingest?.close();
    if (processor) await stopGracefully(processor).catch(() => killHard(processor!));
    await kafkaProducer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await deps.db.query('test.cleanup_events', 'DELETE FROM events WHERE website_id = ANY($1)', [
      [hostile, victim],
    ]);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [
      [hostile, victim],
    ]);
    await deps.close();
  });

  const BROWSER = {
    'content-type': 'application/json',
    'user-agent':
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  };
  const post = async (path: string, body: object) => {
    const res = await fetch(`${ingestUrl}${path}`, {
      method: 'POST',
      headers: BROWSER,
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
  };

  it(
    'another website converts while max-length hostile events are matched',
    { timeout: 85_000 },
    async () => {
      // Paths and names of exactly the maximum accepted length, shaped to be worst cases.
      const longPath = '/a'.repeat(EVENT_LIMITS.path / 2);
      const longName = 'a'.repeat(EVENT_LIMITS.eventName - 1) + '!';
      expect(longPath).toHaveLength(EVENT_LIMITS.path);
      const hostileSends: Array<Promise<void>> = [];
      for (let i = 0; i < 10; i += 1) {
        hostileSends.push(
          post('/api/collect', {
            website_id: hostile,
            type: 'pageview',
            url: `https://hostile.example${longPath}`,
            visitor_id: `h${i}`,
          }),
          post('/api/track', {
            site_id: hostile,
            type: 'custom_event',
            event_name: longName,
            hostname: 'hostile.example',
            pathname: '/',
          }),
        );
      }
      await Promise.all(hostileSends);
      for (let i = 0; i < 5; i += 1) {
        await post('/api/collect', {
          website_id: victim,
          type: 'pageview',
          url: 'https://victim.example/thanks',
          visitor_id: `v${i}`,
        });
      }
      await waitFor(
        "the victim website's 5 conversions",
        async () => {
          const { rows } = await deps.db.query<{ n: number }>(
            'test.count_conversions',
            'SELECT count(*)::int AS n FROM conversions WHERE goal_id = $1',
            [victimGoal],
          );
          return rows[0]!.n === 5 ? true : undefined;
        },
        { timeoutMs: 60_000 },
      );
      // The hostile events were processed too (stored, none matched), not skipped.
      const { rows } = await deps.db.query<{ n: number }>(
        'test.count_hostile',
        'SELECT count(*)::int AS n FROM events WHERE website_id = $1',
        [hostile],
      );
      expect(rows[0]!.n).toBe(20);
    },
  );
});
