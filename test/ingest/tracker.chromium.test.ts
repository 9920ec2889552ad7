import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Producer } from 'kafkajs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../shared/auth/api-keys.js';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newWebsiteId } from '../../shared/ids.js';
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

interface SessionRow {
  visitor_id: string;
  user_id: string | null;
  pageviews: number;
  events: number;
  entry_page: string | null;
  exit_page: string | null;
  utm_source: string | null;
  utm_medium: string | null;
}

/**
 * The tracker script in real headless Chromium, on pages served from another origin than
 * ingest, under each of its three paths (`/script.js`, Sparklytics' `/s.js`, Rybbit's
 * `/api/script.js`) with that tag's own attributes: automatic pageview, SPA navigation, a
 * custom event with props, identify; the events go through ingest, Kafka and the processor
 * into the database (events and sessions).
 */
describe('tracker script in Chromium, end to end into the database', () => {
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
  /** The same page server under another host name: an origin foreign to every website here. */
  let foreignPageUrl: string;
  const websiteId = newWebsiteId();
  let spark: Website;
  let ryb: Website;
  let collectKey: ReturnType<typeof generateApiKey>;

  beforeAll(async () => {
    deps = openTestDeps('tracker-chromium');
    topic = await createTestTopic(deps.kafka, 'tracker');
    dlqTopic = await createTestTopic(deps.kafka, 'tracker-dlq', 1);
    await websiteRepository.create(deps.db, {
      id: websiteId,
      name: 'Tracker page',
      domain: '127.0.0.1',
    });
    spark = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Sparklytics tag',
      domain: '127.0.0.1',
    });
    ryb = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Rybbit tag',
      domain: '127.0.0.1',
    });
    collectKey = generateApiKey();
    await apiKeyRepository.create(deps.db, {
      id: collectKey.id,
      name: 'rybbit tag',
      key_hash: collectKey.hash,
      key_prefix: collectKey.prefix,
      kind: 'collect',
      website_ids: [ryb.id],
    });
    kafkaProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await kafkaProducer.connect();
    processor = await startTestProcessor(deps, { name: 'tracker', topic, dlqTopic });
    ingest = await buildTopicIngest(deps, kafkaProducer, topic, { botRateHeuristic: false });
    ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });

    const page = (title: string, tag: string, body = '<h1>Hello</h1>') =>
      `<!doctype html><html><head><title>${title}</title>${tag}</head><body>${body}</body></html>`;
    // Clicks on these links are tracked, then cancelled by the page (the test stays on it).
    const link = (id: string, href: string, text: string) =>
      `<a id="${id}" href="${href}" onclick="event.preventDefault()">${text}</a>`;
    const pages: Record<string, string> = {
      // Goalpost's own tag.
      '': page(
        'Tracker test',
        `<script defer src="${ingestUrl}/script.js" data-website-id="${websiteId}"></script>`,
      ),
      // Sparklytics' tag with the host changed: /s.js posts to its own directory + /e.
      spark: page(
        'Spark',
        `<script defer src="${ingestUrl}/s.js" data-website-id="${spark.id}"
           data-track-links="outbound" data-track-forms="true" data-track-scroll-depth="50"
           data-exclude-hash="true"></script>`,
        `<div style="height:3000px">${link('ext', 'https://partner.example/pricing', 'Partner')}
         <form id="f" name="newsletter" action="/subscribe" onsubmit="event.preventDefault()">
         <button id="sub">Subscribe</button></form></div>`,
      ),
      // Rybbit's tag with the host changed: /api/script.js posts to /api/track; its collect key
      // lets it post from an origin the website does not list.
      ryb: page(
        'Ryb',
        `<script async src="${ingestUrl}/api/script.js" data-site-id="${ryb.numeric_id}"
           data-api-key="${collectKey.key}" data-debounce="50" data-web-vitals="true"
           data-mask-patterns='["/ryb/users/*"]' data-skip-patterns='["/ryb/private/**"]'></script>`,
        `<h1>Rybbit page</h1>${link('out', 'https://docs.partner.example/start', 'Docs')}`,
      ),
      // Attribute variants, observed at the sendBeacon call (see the last test).
      'opt-spark': page(
        'Opt',
        `<script defer src="${ingestUrl}/s.js" data-website-id="${spark.id}"
           data-api-host="${ingestUrl}/custom/" data-track-links="true"></script>`,
        link('in', '/opt-spark/about', 'About'),
      ),
      'opt-dnt': page(
        'Opt',
        `<script defer src="${ingestUrl}/s.js" data-website-id="${spark.id}"></script>`,
      ),
      'opt-off': page(
        'Opt',
        `<script defer src="${ingestUrl}/script.js" data-website-id="${websiteId}"
           data-disabled="true"></script>`,
      ),
      'opt-ryb': page(
        'Opt',
        `<script async src="${ingestUrl}/api/script.js" data-site-id="${ryb.numeric_id}"
           data-track-query="false" data-auto-track-pageview="false" data-track-spa="false"
           data-track-outbound="false"></script>`,
        link('out', 'https://docs.partner.example/start', 'Docs'),
      ),
    };
    pageServer = createServer((req, res) => {
      const face = /^\/(spark|ryb|opt-[a-z]+)\b/.exec(req.url ?? '')?.[1] ?? '';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(pages[face]);
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    const port = (pageServer.address() as AddressInfo).port;
    pageUrl = `http://127.0.0.1:${port}`;
    foreignPageUrl = `http://localhost:${port}`;

    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => pageServer?.close(r));
    await ingest?.close();
    await processor?.stop();
    await kafkaProducer?.disconnect();
    await deleteTestTopics(deps.kafka, [topic, dlqTopic]).catch(() => undefined);
    const sites = [websiteId, spark?.id, ryb?.id];
    await deps.db.query('test.cleanup', 'DELETE FROM events WHERE website_id = ANY($1)', [sites]);
    await deps.db.query('test.cleanup', 'DELETE FROM sessions WHERE website_id = ANY($1)', [sites]);
    await deps.db.query('test.cleanup', 'DELETE FROM api_keys WHERE id = $1', [collectKey?.id]);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [sites]);
    await deps.close();
  });

  const rows = async (site = websiteId) =>
    (
      await deps.db.query<Row>(
        'test.events',
        `SELECT type, event_name, path, hostname, utm_source, utm_medium, channel, properties,
                session_id, visitor_id, user_id, browser, os, device, screen_width, language,
                page_title, bot_score
           FROM events WHERE website_id = $1 ORDER BY event_time, received_at`,
        [site],
      )
    ).rows;
  /** Waits until `n` events of the site are in the database. */
  const atLeast = (what: string, n: number, site = websiteId) =>
    waitFor(what, async () => {
      const r = await rows(site);
      return r.length >= n ? r : undefined;
    });
  const sessionOf = async (site: string, sessionId: string) =>
    (
      await deps.db.query<SessionRow>(
        'test.sessions',
        `SELECT visitor_id, user_id, pageviews, events, entry_page, exit_page, utm_source,
                utm_medium
           FROM sessions WHERE website_id = $1 AND session_id = $2`,
        [site, sessionId],
      )
    ).rows[0];
  const byName = (all: Row[], name: string) => {
    const r = all.find((x) => x.event_name === name);
    if (!r) throw new Error(`no event ${name} in ${JSON.stringify(all.map((x) => x.event_name))}`);
    return r;
  };
  const newPage = async () => {
    const context = await browser.newContext({
      locale: 'en-US',
      viewport: { width: 1280, height: 720 },
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return { context, page, pageErrors };
  };

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
  it('works as a drop-in under Sparklytics’ /s.js with its attributes, and grants CORS to its JSON posts', async () => {
    const { context, page, pageErrors } = await newPage();
    await page.goto(`${pageUrl}/spark?utm_source=google&utm_medium=cpc`);
    await page.waitForFunction("typeof window.sparklytics === 'object'");
    await atLeast('the landing pageview', 1, spark.id);
    await page.evaluate("history.pushState({}, '', '/spark/next')");
    await atLeast('the SPA pageview', 2, spark.id);
    await page.evaluate("sparklytics.track('purchase', { amount: 49.99, currency: 'EUR' })");
    await page.click('#ext'); // data-track-links="outbound"
    await page.click('#sub'); // data-track-forms
    await page.evaluate('window.scrollTo(0, document.body.scrollHeight)'); // scroll depth 50
    await atLeast('purchase, link, form and scroll events', 6, spark.id);
    // A hash-only change is not a page with data-exclude-hash="true".
    await page.evaluate("location.hash = '#section'");
    await page.evaluate("sparklytics.identify('user-42'); sparklytics.track('after_identify')");
    // The real Sparklytics script posts application/json with credentials: a preflight, then a
    // POST whose answer the page can read only if both carried the CORS grant.
    const status = await page.evaluate(`fetch('${ingestUrl}/e', {
        method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ website_id: '${spark.id}', type: 'event', url: location.href,
          event_name: 'json_fetch', event_data: { via: 'fetch' }, language: 'en-US' }),
      }).then((r) => r.status)`);
    expect(status).toBe(202);
    // Its beacon: a JSON Blob, sent with credentials after a preflight.
    const queued = await page.evaluate(`navigator.sendBeacon('${ingestUrl}/e', new Blob([
        JSON.stringify({ website_id: '${spark.id}', type: 'event', url: location.href,
          event_name: 'json_beacon', language: 'en-US' })], { type: 'application/json' }))`);
    expect(queued).toBe(true);
    const all = await atLeast('every event', 10, spark.id);
    await context.close();

    expect(pageErrors).toEqual([]);
    expect(all.filter((r) => r.type === 'pageview').map((r) => r.path)).toEqual([
      '/spark',
      '/spark/next',
    ]);
    const [landing, next] = all as [Row, Row];
    expect(landing).toMatchObject({ utm_source: 'google', utm_medium: 'cpc', screen_width: 1280 });
    expect(next).toMatchObject({ utm_source: 'google', utm_medium: 'cpc', channel: 'paid_search' });
    expect(byName(all, 'purchase')).toMatchObject({
      path: '/spark/next',
      properties: { amount: 49.99, currency: 'EUR' },
      utm_source: 'google',
    });
    expect(byName(all, 'link_click').properties).toEqual({
      url: 'https://partner.example/pricing',
      text: 'Partner',
      outbound: true,
    });
    expect(byName(all, 'form_submit').properties).toEqual({
      form_id: 'f',
      form_name: 'newsletter',
      action: `${pageUrl}/subscribe`,
    });
    expect(byName(all, 'scroll_depth').properties).toEqual({ depth: 50 });
    expect(byName(all, 'json_fetch').properties).toEqual({ via: 'fetch' });
    expect(byName(all, 'json_beacon').path).toBe('/spark/next');
    const identified = byName(all, 'after_identify');
    expect(identified).toMatchObject({ user_id: 'user-42', visitor_id: 'user-42' });

    // Outbound links are captured by every face (issue 16), as their own type via /api/track.
    expect(all.find((r) => r.type === 'outbound')).toMatchObject({
      event_name: null,
      path: '/spark/next',
      properties: { url: 'https://partner.example/pricing', text: 'Partner', target: '_self' },
    });
    // One anonymous session until identify (the page's own JSON posts, without a visitor_id,
    // join it), its landing campaign kept for the session.
    const anon = all.filter((r) => r.user_id === null);
    expect(anon).toHaveLength(9);
    expect(new Set(anon.map((r) => r.session_id)).size).toBe(1);
    const session = await waitFor('the session row', async () => {
      const row = await sessionOf(spark.id, landing.session_id);
      return row && row.events >= 7 ? row : undefined;
    });
    expect(session).toMatchObject({
      pageviews: 2,
      events: 7,
      entry_page: '/spark',
      exit_page: '/spark/next',
      utm_source: 'google',
      utm_medium: 'cpc',
      user_id: null,
    });
  });

  it('works as a drop-in under Rybbit’s /api/script.js with its attributes and collect key', async () => {
    const { context, page, pageErrors } = await newPage();
    // localhost is not among the website's origins: the tag's collect key stands in for it.
    await page.goto(`${foreignPageUrl}/ryb/home?x=1&utm_source=newsletter&utm_medium=email`);
    await page.waitForFunction("typeof window.rybbit === 'object'");
    await atLeast('the landing pageview', 1, ryb.id);
    await page.evaluate("history.pushState({}, '', '/ryb/users/42')"); // masked, debounced
    await atLeast('the masked SPA pageview', 2, ryb.id);
    await page.evaluate("rybbit.event('signup', { plan: 'pro', n: 2 })");
    // Skipped even when asked for explicitly; then a page that is not skipped.
    await page.evaluate("history.pushState({}, '', '/ryb/private/a/b'); rybbit.pageview()");
    await page.evaluate("history.pushState({}, '', '/ryb/done')");
    await atLeast('the signup event and the last pageview', 4, ryb.id);
    const userId = await page.evaluate("rybbit.identify('u-9'); rybbit.getUserId()");
    expect(userId).toBe('u-9');
    await page.evaluate("rybbit.event('after_identify'); rybbit.clearUserId()");
    await page.click('#out'); // outbound, on by default
    // Without the key, this origin is refused: no CORS grant, so the page cannot even read it.
    const blocked = await page.evaluate(`fetch('${ingestUrl}/api/track', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ site_id: '${ryb.numeric_id}', type: 'pageview',
          hostname: 'localhost', pathname: '/ryb/no-key', event_name: '' }),
      }).then((r) => 'status ' + r.status, (e) => 'blocked ' + e.name)`);
    expect(blocked).toBe('blocked TypeError');
    await atLeast('identify and outbound events', 6, ryb.id);
    await page.goto('about:blank'); // page hidden: the web-vitals sample is sent
    const all = await atLeast('the performance sample', 7, ryb.id);
    await context.close();

    expect(pageErrors).toEqual([]);
    expect(all.filter((r) => r.type === 'pageview').map((r) => r.path)).toEqual([
      '/ryb/home',
      '/ryb/users/*',
      '/ryb/done',
    ]);
    expect(all.some((r) => r.path.startsWith('/ryb/private') || r.path === '/ryb/no-key')).toBe(
      false,
    );
    const landing = all[0]!;
    expect(landing).toMatchObject({
      hostname: 'localhost',
      utm_source: 'newsletter',
      utm_medium: 'email',
      channel: 'email',
      page_title: 'Ryb',
      screen_width: 1280,
      language: 'en-US',
      user_id: null,
    });
    expect(byName(all, 'signup')).toMatchObject({
      type: 'event',
      path: '/ryb/users/*',
      properties: { plan: 'pro', n: 2 },
      utm_source: 'newsletter',
    });
    expect(byName(all, 'after_identify')).toMatchObject({ user_id: 'u-9', visitor_id: 'u-9' });
    const outbound = all.find((r) => r.type === 'outbound');
    expect(outbound).toMatchObject({
      event_name: null,
      user_id: null,
      properties: { url: 'https://docs.partner.example/start', text: 'Docs', target: '_self' },
    });
    const perf = all.find((r) => r.type === 'performance')!;
    expect(perf).toMatchObject({ event_name: null, path: '/ryb/done' });
    expect(Object.keys(perf.properties!).sort()).toEqual(['cls', 'fcp', 'inp', 'lcp', 'ttfb']);
    expect(typeof perf.properties!.fcp).toBe('number');
    expect(typeof perf.properties!.ttfb).toBe('number');

    // The anonymous visitor's session: three pageviews (the sample is not one), the landing
    // campaign kept; after clearUserId the visitor is anonymous again, in the same session.
    const session = await waitFor('the session row', async () => {
      const row = await sessionOf(ryb.id, landing.session_id);
      return row && row.events >= 2 ? row : undefined;
    });
    expect(session).toMatchObject({
      pageviews: 3,
      events: 2,
      entry_page: '/ryb/home',
      exit_page: '/ryb/done',
      utm_source: 'newsletter',
      utm_medium: 'email',
    });
    expect(outbound!.session_id).toBe(landing.session_id);
  });
  it('honours the tags’ opt-out and routing attributes, and never throws into the page', async () => {
    interface Sent {
      url: string;
      body: Record<string, unknown>;
    }
    // sendBeacon is recorded instead of sent: what the tracker sends, and when, is then
    // observable synchronously (the tracker calls it in the same task as the page's call).
    const open = async (path: string, dnt = false) => {
      const p = await newPage();
      await p.page.addInitScript(`window.__sent = [];
        navigator.sendBeacon = function (url, data) { __sent.push([String(url), data]); return true; };
        ${dnt ? "Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' });" : ''}`);
      await p.page.goto(`${pageUrl}${path}`);
      await p.page.waitForFunction(
        "typeof window.rybbit === 'object' && document.readyState === 'complete'",
      );
      const sent = () =>
        p.page.evaluate<Sent[]>(
          'Promise.all(__sent.map(([url, b]) => b.text().then((t) => ({ url, body: JSON.parse(t) }))))',
        );
      return { ...p, sent };
    };

    // Sparklytics face: data-api-host (trailing slash), hash changes tracked by default,
    // data-track-links="true" also reports internal links.
    const a = await open('/opt-spark?q=1');
    await a.page.evaluate("location.hash = '#/tab'");
    await a.page.waitForFunction('__sent.length === 2');
    await a.page.click('#in');
    const aSent = await a.sent();
    expect(aSent.map((x) => x.url)).toEqual(Array(3).fill(`${ingestUrl}/custom/e`));
    expect(aSent.map((x) => x.body.url)).toEqual([
      `${pageUrl}/opt-spark?q=1`,
      `${pageUrl}/opt-spark?q=1#/tab`,
      `${pageUrl}/opt-spark?q=1#/tab`,
    ]);
    expect(aSent[2]!.body).toMatchObject({
      type: 'event',
      event_name: 'link_click',
      event_data: { url: `${pageUrl}/opt-spark/about`, text: 'About', outbound: false },
    });
    expect(aSent[0]!.body).toMatchObject({ website_id: spark.id, screen: '1280x720' });
    await a.context.close();

    // Do Not Track and data-disabled: nothing is sent, the APIs exist and never throw.
    for (const [path, dnt] of [
      ['/opt-dnt', true],
      ['/opt-off', false],
    ] as const) {
      const b = await open(path, dnt);
      const threw = await b.page.evaluate(`(() => {
        try {
          const circular = {}; circular.self = circular;
          sparklytics.track('x'); sparklytics.track(); sparklytics.track(42, circular);
          rybbit.event('y', circular); rybbit.trackOutbound(); rybbit.pageview();
          goalpost.identify({ toString() { throw new Error('no'); } }); sparklytics.reset();
          history.pushState({}, '', '/opt-dnt/next');
          return 'no';
        } catch (e) { return 'threw ' + e; }
      })()`);
      expect(threw).toBe('no');
      expect(await b.sent()).toEqual([]);
      expect(b.pageErrors).toEqual([]);
      await b.context.close();
    }

    // Rybbit face: no automatic pageview, no SPA or outbound tracking, no query string.
    const c = await open('/opt-ryb/home?secret=1');
    await c.page.evaluate("history.pushState({}, '', '/opt-ryb/next?secret=2')");
    await c.page.click('#out');
    expect(await c.sent()).toEqual([]);
    await c.page.evaluate("rybbit.pageview(); rybbit.event('e', { a: 1 })");
    const cSent = await c.sent();
    expect(cSent.map((x) => x.url)).toEqual(Array(2).fill(`${ingestUrl}/api/track`));
    expect(cSent[0]!.body).toMatchObject({
      site_id: String(ryb.numeric_id),
      type: 'pageview',
      pathname: '/opt-ryb/next',
      querystring: '',
      event_name: '',
      screenWidth: 1280,
      screenHeight: 720,
      language: 'en-US',
    });
    expect(cSent[1]!.body).toMatchObject({
      type: 'custom_event',
      event_name: 'e',
      properties: '{"a":1}',
    });
    expect(c.pageErrors).toEqual([]);
    await c.context.close();
  });
});
