import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Consumer, Producer } from 'kafkajs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { WebsiteLookup } from '../../ingest/website-lookup.js';
import { runEventsConsumer } from '../../processor/events.consumer.js';
import { websiteRepository } from '../../shared/db/website.repository.js';
import { GoalCache } from '../../shared/goals/goal-cache.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newWebsiteId } from '../../shared/ids.js';
import { BatchingProducer } from '../../shared/kafka/batching-producer.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { uniqueSuffix } from '../helpers/test-env.js';

/** Flags that keep Chromium quiet on a closed network (no background fetches). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Row {
  type: string;
  event_name: string | null;
  path: string;
  hostname: string;
  utm_source: string | null;
  utm_medium: string | null;
  channel: string;
  properties: Record<string, unknown> | null;
  session_id: string;
  visitor_id: string;
  user_id: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  screen_width: number | null;
  language: string | null;
  page_title: string | null;
  bot_score: number;
}

/**
 * The tracker script in real headless Chromium, on a page served from another origin (port)
 * than ingest: automatic pageview, SPA navigation, a custom event with props, identify; the
 * events go through ingest, Kafka and the processor into the database.
 */
describe('tracker script in Chromium, end to end into the database', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let consumer: Consumer;
  let kafkaProducer: Producer;
  let dlqProducer: Producer;
  let ingest: HttpApp;
  let pageServer: Server;
  let browser: Browser;
  let ingestUrl: string;
  let pageUrl: string;
  const websiteId = newWebsiteId();

  beforeAll(async () => {
    deps = openTestDeps('tracker-chromium');
    topic = await createTestTopic(deps.kafka, 'tracker');
    dlqTopic = await createTestTopic(deps.kafka, 'tracker-dlq', 1);
    await websiteRepository.create(deps.db, {
      id: websiteId,
      name: 'Tracker page',
      domain: '127.0.0.1',
    });
    kafkaProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
    dlqProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
    consumer = deps.kafka.consumer({ groupId: `test-tracker-${uniqueSuffix()}` });
    await Promise.all([kafkaProducer.connect(), dlqProducer.connect(), consumer.connect()]);
    await runEventsConsumer({
      consumer,
      producer: dlqProducer,
      db: deps.db,
      goals: new GoalCache({ db: deps.db, redis: deps.redis, logger: deps.logger }, 200),
      logger: deps.logger,
      topic,
      dlqTopic,
      subBatchSize: 500,
      partitionsConcurrently: 2,
    });
    ingest = await buildIngestApp({
      producer: new BatchingProducer(kafkaProducer, {
        topic,
        lingerMs: 2,
        maxBatchMessages: 500,
        timeoutMs: 5000,
      }),
      websites: new WebsiteLookup(deps.db),
      redis: deps.redis,
      logger: deps.logger,
      isReady: () => true,
      options: { redisKeyPrefix: `test:${uniqueSuffix()}:`, botRateHeuristic: false },
    });
    ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });

    const html = `<!doctype html><html><head><title>Tracker test</title>
<script defer src="${ingestUrl}/script.js" data-website-id="${websiteId}"></script>
</head><body><h1>Hello</h1></body></html>`;
    pageServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => pageServer?.close(r));
    await ingest?.close();
    await consumer?.disconnect();
    await kafkaProducer?.disconnect();
    await dlqProducer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await deps.db.query('test.cleanup', 'DELETE FROM events WHERE website_id = $1', [websiteId]);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [websiteId]);
    await deps.close();
  });

  const rows = async () =>
    (
      await deps.db.query<Row>(
        'test.events',
        `SELECT type, event_name, path, hostname, utm_source, utm_medium, channel, properties,
                session_id, visitor_id, user_id, browser, os, device, screen_width, language,
                page_title, bot_score
           FROM events WHERE website_id = $1 ORDER BY event_time, received_at`,
        [websiteId],
      )
    ).rows;

  it('records the pageview, an SPA navigation, a custom event with props and identify', async () => {
    const context = await browser.newContext({
      locale: 'en-US',
      viewport: { width: 1280, height: 720 },
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${pageUrl}/landing?utm_source=newsletter&utm_medium=email`);
    await page.waitForFunction("typeof window.goalpost === 'object'");
    await waitFor('the landing pageview', async () =>
      (await rows()).length >= 1 ? true : undefined,
    );

    await page.evaluate("history.pushState({}, '', '/pricing')");
    await waitFor('the SPA pageview', async () => ((await rows()).length >= 2 ? true : undefined));
    await page.evaluate("window.goalpost.track('signup', { plan: 'pro', seats: 3 })");
    await waitFor('the custom event', async () => ((await rows()).length >= 3 ? true : undefined));
    // Page code (the test has no DOM types): identify, then an event as that user.
    await page.evaluate("sparklytics.identify('user-1'); sparklytics.track('after_identify')");
    const all = await waitFor('four events in the database', async () => {
      const r = await rows();
      return r.length >= 4 ? r : undefined;
    });
    await context.close();

    expect(pageErrors).toEqual([]);
    expect(all).toHaveLength(4);
    const [landing, pricing, signup, identified] = all as [Row, Row, Row, Row];
    const common = {
      hostname: '127.0.0.1',
      utm_source: 'newsletter', // the landing campaign is repeated on SPA pages
      utm_medium: 'email',
      channel: 'email',
      browser: expect.stringContaining('Chrome') as string,
      os: 'Linux',
      device: 'desktop',
      language: 'en-US',
    };
    expect(landing).toMatchObject({
      ...common,
      type: 'pageview',
      path: '/landing',
      screen_width: 1280,
      page_title: 'Tracker test',
      user_id: null,
    });
    expect(pricing).toMatchObject({ ...common, type: 'pageview', path: '/pricing', user_id: null });
    expect(signup).toMatchObject({
      ...common,
      type: 'event',
      event_name: 'signup',
      path: '/pricing',
      properties: { plan: 'pro', seats: 3 },
      user_id: null,
    });
    expect(identified).toMatchObject({
      type: 'event',
      event_name: 'after_identify',
      user_id: 'user-1',
      visitor_id: 'user-1',
    });
    // One anonymous visitor and one session until identify; identify starts a new identity.
    expect(new Set([landing, pricing, signup].map((r) => r.session_id)).size).toBe(1);
    expect(new Set([landing, pricing, signup].map((r) => r.visitor_id)).size).toBe(1);
    expect(identified.session_id).not.toBe(landing.session_id);
    // Headless Chromium says so in its UA: a weak bot signal, kept and scored.
    expect(landing.bot_score).toBeGreaterThanOrEqual(50);
  });
});
