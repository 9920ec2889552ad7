import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Producer } from 'kafkajs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { WebsiteLookup } from '../../ingest/lookups/website.lookup.js';
import { BatchingProducer } from '../../ingest/kafka/batching.producer.js';
import { goalRepository } from '../../shared/db/goal.repository.js';
import { websiteRepository, type Website } from '../../shared/db/website.repository.js';
import type { GoalDefinition } from '../../shared/goals/goal-definition.js';
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
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import { loadedOriginIndex } from './ingest-harness.js';

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
  properties: Record<string, unknown> | null;
}

/**
 * Goalpost's tracker captures, in real headless Chromium through ingest, Kafka and the
 * processor (issue 16): an outbound link, a file link, a button, a copy and a form submission
 * each arrive as their own event type and convert a goal of that type; the link and the form
 * still navigate; captures a tag turns off (data-track-…="false") send nothing.
 */
describe('tracker autocapture in Chromium', () => {
  let deps: TestDeps;
  let topic: string;
  let dlqTopic: string;
  let processor: TestProcessor | undefined;
  let kafkaProducer: Producer;
  let ingest: HttpApp;
  let pageServer: Server;
  let browser: Browser;
  let ingestUrl: string;
  let pageUrl: string;
  let site: Website;
  let quiet: Website;
  const goalIds: Record<string, string> = {};

  beforeAll(async () => {
    deps = openTestDeps('autocapture-chromium');
    topic = await createTestTopic(deps.kafka, 'autocapture', 2);
    dlqTopic = await createTestTopic(deps.kafka, 'autocapture-dlq', 1);
    const everything = {
      trackButtonClicks: true,
      trackCopy: true,
      trackFormInteractions: true,
    };
    site = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Autocapture',
      domain: '127.0.0.1',
      tracking: everything,
    });
    quiet = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Autocapture off',
      domain: '127.0.0.1',
      tracking: everything,
    });
    const goal = (
      goal_type: GoalDefinition['goal_type'],
      match_operator: GoalDefinition['match_operator'],
      match_value: string,
    ) =>
      goalRepository.create(deps.db, {
        id: newGoalId(),
        website_id: site.id,
        name: goal_type,
        description: null,
        goal_type,
        match_operator,
        match_value,
        case_sensitive: true,
        property_filters: [],
        value_mode: 'none',
        fixed_value: null,
        value_property_key: null,
        currency: 'USD',
      });
    for (const [type, op, value] of [
      ['outbound', 'any', ''],
      ['file_download', 'glob', '**/report.pdf'],
      ['button_click', 'glob', 'Buy*'],
      ['form_submit', 'equals', 'signup'],
      ['copy', 'starts_with', 'COUPON'],
    ] as const) {
      goalIds[type] = (await goal(type, op, value)).id;
    }
    kafkaProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await kafkaProducer.connect();
    processor = await startTestProcessor(deps, { name: 'autocapture', topic, dlqTopic });
    ingest = await buildIngestApp({
      producer: new BatchingProducer(kafkaProducer, {
        topic,
        lingerMs: 2,
        maxBatchMessages: 500,
        timeoutMs: 5000,
      }),
      websites: new WebsiteLookup(deps.db),
      origins: await loadedOriginIndex(deps),
      redis: deps.redis,
      logger: deps.logger,
      isReady: () => true,
      options: { redisKeyPrefix: `test:${uniqueSuffix()}:`, botRateHeuristic: false },
    });
    ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });
    pageServer = createServer((req, res) => {
      const url = req.url ?? '/';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      if (url.startsWith('/page')) {
        res.end(`<!doctype html><html><head><title>Auto</title>
          <script src="${ingestUrl}/script.js" data-website-id="${site.id}"></script></head><body>
          <a id="out" href="http://localhost:${port()}/elsewhere">Elsewhere</a>
          <a id="file" href="/files/report.pdf">Report</a>
          <button id="buy" type="button">Buy now</button>
          <p id="coupon">COUPON-2026</p>
          <form id="signup" name="signup" action="/thanks" method="post">
            <input name="email" value="a@b.example"><button id="send">Send</button></form>
          </body></html>`);
      } else if (url.startsWith('/quiet')) {
        res.end(`<!doctype html><html><head><title>Quiet</title>
          <script src="${ingestUrl}/api/script.js" data-site-id="${quiet.numeric_id}"
            data-track-outbound="false" data-track-copy="false"></script></head><body>
          <a id="out" href="http://localhost:${port()}/elsewhere" onclick="event.preventDefault()">Elsewhere</a>
          <p id="coupon">COUPON-2026</p></body></html>`);
      } else {
        res.end('<!doctype html><html><body>landed</body></html>');
      }
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${port()}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  }, 60_000);

  const port = () => (pageServer.address() as AddressInfo).port;

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => pageServer?.close(r));
    await ingest?.close();
    await processor?.stop();
    await kafkaProducer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    const sites = [site?.id, quiet?.id];
    for (const t of ['events', 'sessions', 'conversions']) {
      await deps.db.query('test.cleanup', `DELETE FROM ${t} WHERE website_id = ANY($1)`, [sites]);
    }
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [sites]);
    await deps.close();
  });

  const rows = async (websiteId: string) =>
    (
      await deps.db.query<Row>(
        'test.events',
        `SELECT type, event_name, properties FROM events WHERE website_id = $1
          ORDER BY event_time, received_at`,
        [websiteId],
      )
    ).rows;

  /** Opens `path` and waits until the tracker has its website's settings. */
  async function open(path: string) {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const config = page.waitForResponse((r) => r.url().includes('/api/site/tracking-config/'));
    await page.goto(`${pageUrl}${path}`);
    await config;
    return { context, page, pageErrors };
  }

  it('each capture arrives as its type and converts its goal; links and forms still work', async () => {
    const { context, page, pageErrors } = await open('/page');
    const reopen = async () => {
      const config = page.waitForResponse((r) => r.url().includes('/api/site/tracking-config/'));
      await page.goto(`${pageUrl}/page`);
      await config;
    };
    await page.click('#buy');
    await page.evaluate(`(() => {
      const r = document.createRange();
      r.selectNodeContents(document.getElementById('coupon'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    })()`);
    await page.keyboard.press('Control+C');
    await Promise.all([page.waitForURL(/\/files\/report\.pdf$/), page.click('#file')]);
    await reopen();
    await Promise.all([page.waitForURL(/\/thanks$/), page.click('#send')]);
    await reopen();
    await Promise.all([page.waitForURL(/localhost:\d+\/elsewhere$/), page.click('#out')]);
    const want = ['button_click', 'copy', 'file_download', 'form_submit', 'outbound'];
    const all = await waitFor('every capture stored', async () => {
      const r = await rows(site.id);
      return want.every((t) => r.some((x) => x.type === t)) ? r : undefined;
    });
    await context.close();
    expect(pageErrors).toEqual([]);
    const of = (t: string) => all.find((r) => r.type === t)!;
    expect(of('button_click')).toMatchObject({ event_name: null, properties: { text: 'Buy now' } });
    expect(of('copy').properties).toMatchObject({ text: 'COUPON-2026', sourceElement: 'p' });
    expect(of('file_download').properties).toMatchObject({
      url: `${pageUrl}/files/report.pdf`,
      text: 'Report',
    });
    expect(of('form_submit').properties).toMatchObject({
      formId: 'signup',
      formName: 'signup',
      formAction: `${pageUrl}/thanks`,
      method: 'POST',
      fieldCount: 2,
    });
    expect(of('outbound').properties).toMatchObject({
      url: `http://localhost:${port()}/elsewhere`,
      text: 'Elsewhere',
    });
    // The same-host file link is a download, not an outbound click.
    expect(all.filter((r) => r.type === 'outbound')).toHaveLength(1);
    for (const [type, id] of Object.entries(goalIds)) {
      await waitFor(`a conversion of the ${type} goal`, async () => {
        const { rows: c } = await deps.db.query<{ n: number }>(
          'test.conversions',
          'SELECT count(*)::int AS n FROM conversions WHERE goal_id = $1',
          [id],
        );
        return c[0]!.n >= 1 ? true : undefined;
      });
    }
  });

  it('captures a tag turns off send nothing, though the website has them on', async () => {
    const { context, page, pageErrors } = await open('/quiet');
    await page.click('#out');
    await page.evaluate(`(() => {
      const r = document.createRange();
      r.selectNodeContents(document.getElementById('coupon'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    })()`);
    await page.keyboard.press('Control+C');
    // A custom event after them: once it is stored, anything sent before it is too.
    await page.evaluate("rybbit.event('sentinel')");
    const all = await waitFor('the sentinel', async () => {
      const r = await rows(quiet.id);
      return r.some((x) => x.event_name === 'sentinel') ? r : undefined;
    });
    await context.close();
    expect(pageErrors).toEqual([]);
    expect(all.map((r) => r.type).sort()).toEqual(['event', 'pageview']);
  });
});
