import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Producer } from 'kafkajs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newWebsiteId } from '../../shared/ids.js';
import { bearer, openApiFixture, type ApiFixture } from '../api/api-fixture.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import { buildTopicIngest } from './ingest-harness.js';
import { launchChromium } from '../helpers/chromium.js';

interface Row {
  type: string;
  event_name: string | null;
  properties: Record<string, unknown> | null;
}

/**
 * Goalpost's tracker captures, in real headless Chromium through ingest, Kafka and the
 * processor (issue 16): an outbound link, a file link, a button, a copy and a form submission
 * each arrive as their own event type and convert the goals of that type created through the
 * API in each dialect (Sparklytics and Rybbit bodies); the link and the form still navigate.
 * The Sparklytics (`/s.js`) and Rybbit (`/api/script.js`) faces of the script capture too, and
 * captures a tag turns off (data-track-…="false") send nothing.
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
  let sparkFace: Website;
  let rybbitFace: Website;
  let api: ApiFixture;
  /** Goal ids by capture type, one goal per dialect. */
  const goalIds: Record<string, { sparklytics: string; rybbit: string }> = {};

  beforeAll(async () => {
    deps = openTestDeps('autocapture-chromium');
    topic = await createTestTopic(deps.kafka, 'autocapture', 2);
    dlqTopic = await createTestTopic(deps.kafka, 'autocapture-dlq', 1);
    const everything = {
      trackButtonClicks: true,
      trackCopy: true,
      trackFormInteractions: true,
    };
    const website = (name: string) =>
      websiteRepository.create(deps.db, {
        id: newWebsiteId(),
        name,
        domain: '127.0.0.1',
        tracking: everything,
      });
    site = await website('Autocapture');
    quiet = await website('Autocapture off');
    sparkFace = await website('Autocapture, Sparklytics face');
    rybbitFace = await website('Autocapture, Rybbit face');
    api = await openApiFixture('autocapture-chromium');
    const auth = bearer(api.bootstrapKey);
    // The same goals in both dialects, as users of each would write them.
    for (const [type, operator, value, pattern] of [
      ['outbound', 'any', '', undefined],
      ['file_download', 'glob', '**/report.pdf', '**/report.pdf'],
      ['button_click', 'glob', 'Buy*', 'Buy*'],
      ['form_submit', 'equals', 'signup', 'signup'],
      ['copy', 'starts_with', 'COUPON', 'COUPON*'],
    ] as const) {
      const sp = await api.app.inject({
        method: 'POST',
        url: `/api/websites/${site.id}/goals`,
        headers: auth,
        payload: {
          name: `${type} (Sparklytics)`,
          goal_type: type,
          match_operator: operator,
          match_value: value,
        },
      });
      expect(sp.statusCode, sp.body).toBe(201);
      const ry = await api.app.inject({
        method: 'POST',
        url: `/api/sites/${site.numeric_id}/goals`,
        headers: auth,
        payload: { goalType: type, config: pattern === undefined ? {} : { valuePattern: pattern } },
      });
      expect(ry.statusCode, ry.body).toBe(201);
      const rybbit = await goalRepository.findByRef(deps.db, site.id, {
        numericId: ry.json<{ goalId: number }>().goalId,
      });
      goalIds[type] = {
        sparklytics: sp.json<{ data: { id: string } }>().data.id,
        rybbit: rybbit!.id,
      };
    }
    kafkaProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await kafkaProducer.connect();
    processor = await startTestProcessor(deps, { name: 'autocapture', topic, dlqTopic });
    ingest = await buildTopicIngest(deps, kafkaProducer, topic, { botRateHeuristic: false });
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
      } else if (url.startsWith('/face-')) {
        const tag = url.startsWith('/face-s')
          ? `<script src="${ingestUrl}/s.js" data-website-id="${sparkFace.id}"></script>`
          : `<script src="${ingestUrl}/api/script.js" data-site-id="${rybbitFace.numeric_id}"></script>`;
        res.end(`<!doctype html><html><head><title>Face</title>${tag}</head><body>
          <a id="out" href="http://localhost:${port()}/elsewhere">Elsewhere</a>
          <button id="buy" type="button">Buy now</button></body></html>`);
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
    browser = await launchChromium();
  }, 60_000);

  const port = () => (pageServer.address() as AddressInfo).port;

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => pageServer?.close(r));
    await ingest?.close();
    await processor?.stop();
    await kafkaProducer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    await api?.close();
    const sites = [site?.id, quiet?.id, sparkFace?.id, rybbitFace?.id];
    for (const t of ['events', 'sessions', 'conversions']) {
      await deps.db.query('test.cleanup', `DELETE FROM ${t} WHERE website_id = ANY($1)`, [sites]);
    }
    await deps.db.query('test.cleanup', 'DELETE FROM goals WHERE website_id = ANY($1)', [sites]);
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

  /** Selects the page's `#coupon` text and copies it with the keyboard, as a visitor would. */
  async function copyCoupon(page: Page) {
    await page.evaluate(`(() => {
      const r = document.createRange();
      r.selectNodeContents(document.getElementById('coupon'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    })()`);
    await page.keyboard.press('Control+C');
  }

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
    await copyCoupon(page);
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
    for (const [type, ids] of Object.entries(goalIds)) {
      for (const [dialect, id] of Object.entries(ids)) {
        await waitFor(`a conversion of the ${type} goal created in ${dialect}`, async () => {
          const { rows: c } = await deps.db.query<{ n: number }>(
            'test.conversions',
            'SELECT count(*)::int AS n FROM conversions WHERE goal_id = $1',
            [id],
          );
          return c[0]!.n >= 1 ? true : undefined;
        });
      }
    }
  });

  it.each([
    ['Sparklytics (/s.js)', '/face-s', () => sparkFace],
    ['Rybbit (/api/script.js)', '/face-r', () => rybbitFace],
  ] as const)('the %s face captures too', async (_face, path, website) => {
    const { context, page, pageErrors } = await open(path);
    await page.click('#buy');
    await Promise.all([page.waitForURL(/localhost:\d+\/elsewhere$/), page.click('#out')]);
    const all = await waitFor('both captures stored', async () => {
      const r = await rows(website().id);
      return ['button_click', 'outbound'].every((t) => r.some((x) => x.type === t)) ? r : undefined;
    });
    await context.close();
    expect(pageErrors).toEqual([]);
    expect(all.find((r) => r.type === 'button_click')!.properties).toMatchObject({
      text: 'Buy now',
    });
    expect(all.find((r) => r.type === 'outbound')!.properties).toMatchObject({
      url: `http://localhost:${port()}/elsewhere`,
    });
  });

  it('captures a tag turns off send nothing, though the website has them on', async () => {
    const { context, page, pageErrors } = await open('/quiet');
    await page.click('#out');
    await copyCoupon(page);
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
