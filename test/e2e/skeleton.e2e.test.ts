import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { buildApiApp } from '../../api/app.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newGoalId, newWebsiteId } from '../../shared/ids.js';
import { addDays, todayIn } from '../../api/stats/date-range.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import { buildTopicIngest } from '../ingest/ingest-harness.js';

/**
 * The walking skeleton, end to end over real sockets and the real stack:
 * HTTP → ingest → Kafka → processor (goal match) → TimescaleDB → API stats over HTTP.
 */
describe('walking skeleton: pageview goal from ingest to stats', () => {
  const BOOTSTRAP_KEY = `spk_selfhosted_${'ab'.repeat(16)}`;
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let kafkaProducer: Producer;
  let ingest: HttpApp;
  let api: HttpApp;
  let ingestUrl: string;
  let apiUrl: string;
  const websiteId = newWebsiteId();
  const goalId = newGoalId();

  beforeAll(async () => {
    deps = openTestDeps('skeleton');
    topic = await createTestTopic(deps.kafka, 'skeleton');
    dlqTopic = await createTestTopic(deps.kafka, 'skeleton-dlq', 1);
    await websiteRepository.create(deps.db, {
      id: websiteId,
      name: 'Shop',
      domain: 'shop.example',
    });
    await goalRepository.create(deps.db, {
      id: goalId,
      website_id: websiteId,
      name: 'Checkout complete',
      description: null,
      goal_type: 'pageview',
      match_operator: 'equals',
      match_value: '/checkout/success',
      case_sensitive: true,
      property_filters: [],
      value_mode: 'none',
      fixed_value: null,
      value_property_key: null,
      currency: 'USD',
    });

    kafkaProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await kafkaProducer.connect();
    processor = await startTestProcessor(deps, { name: 'skeleton', topic, dlqTopic });

    ingest = await buildTopicIngest(deps, kafkaProducer, topic);
    api = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: BOOTSTRAP_KEY,
    });
    ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });
    apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await ingest?.close();
    await api?.close();
    await processor?.stop();
    await kafkaProducer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [websiteId]);
    await deps.close();
  });

  // A browser's headers: Node's own user agent is (rightly) scored as a bot, and the website's
  // default bot policy leaves bots out of the stats.
  const BROWSER = {
    'user-agent':
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    'accept-language': 'en-US,en;q=0.9',
  };

  const pageview = async (visitor: string, url: string) => {
    const res = await fetch(`${ingestUrl}/api/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...BROWSER },
      body: JSON.stringify({ website_id: websiteId, type: 'pageview', url, visitor_id: visitor }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ ok: true });
  };

  it('counts conversions, converting sessions and sessions exactly', async () => {
    // Three sessions (skeleton: one per visitor); two convert, one of them twice.
    await Promise.all([
      pageview('alice', 'https://shop.example/'),
      pageview('alice', 'https://shop.example/checkout/success'),
      pageview('bob', 'https://shop.example/pricing'),
      pageview('bob', 'https://shop.example/checkout/success/'), // trailing slash: no match
      pageview('carol', 'https://shop.example/checkout/success?order=1'),
      pageview('carol', '/checkout/success#done'),
    ]);

    await waitFor('6 events in the database', async () => {
      const { rows } = await deps.db.query<{ n: number }>(
        'test.count',
        'SELECT count(*)::int AS n FROM events WHERE website_id = $1',
        [websiteId],
      );
      return rows[0]!.n === 6 ? true : undefined;
    });

    // Yesterday..today, so a run that crosses midnight UTC still sees every event.
    const today = todayIn('UTC');
    const res = await fetch(
      `${apiUrl}/api/websites/${websiteId}/goals/${goalId}/stats?start_date=${addDays(today, -1)}&end_date=${today}`,
      { headers: { authorization: `Bearer ${BOOTSTRAP_KEY}` } },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Record<string, unknown> };
    expect(body.data).toMatchObject({
      goal_id: goalId,
      conversions: 3,
      converting_sessions: 2,
      total_sessions: 3,
      conversion_rate: 0.6667,
    });
  });

  it('refuses stats without an API key', async () => {
    const res = await fetch(`${apiUrl}/api/websites/${websiteId}/goals/${goalId}/stats`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: { code: 'unauthorized', message: expect.any(String) as string, field: null },
    });
  });

  it('refuses an unknown website on collect with 400 unknown_website', async () => {
    const res = await fetch(`${ingestUrl}/api/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ website_id: newWebsiteId(), type: 'pageview', url: '/' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_website');
  });
});
