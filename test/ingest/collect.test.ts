import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import { defaultGeoDatabasePaths, GeoLookup } from '../../ingest/enrichment/geo.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { startMetricsServer } from '../../shared/http/metrics-server.js';
import { newWebsiteId } from '../../shared/ids.js';
import { BatchingProducer } from '../../ingest/kafka/batching.producer.js';
import { createRedis } from '../../shared/redis/redis.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { openIngestHarness, type IngestHarness } from './ingest-harness.js';
import { sparklyticsBodies } from './tracker-fixtures.js';
import { DEFAULT_TRACKING_SETTINGS } from '../../shared/goals/tracking-settings.js';

const CHROME_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const LONDON_IP = '81.2.69.142';

/**
 * Both payload formats through the real ingest app into a real Kafka topic: enrichment,
 * identity, sessions, event_id idempotency, limits and every refusal a client can provoke.
 */
describe('ingest collect routes', () => {
  let deps: TestDeps;
  let h: IngestHarness;
  let app: HttpApp;
  let site: Website;
  let other: Website;

  beforeAll(async () => {
    deps = openTestDeps('ingest-collect');
    site = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Shop',
      domain: 'shop.example',
      allowed_origins: ['https://partner.example'],
    });
    other = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Blog',
      domain: 'blog.example',
      bot_policy: 'strict',
    });
    h = await openIngestHarness(deps, 'ingest-collect', {
      geo: GeoLookup.open(defaultGeoDatabasePaths()),
      // Requests come from 127.0.0.1 (inject): trust it as a proxy so X-Forwarded-For counts.
      options: { trustedProxies: ['127.0.0.1'] },
    });
    app = h.app;
  });

  afterAll(async () => {
    await h?.close();
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [
      [site.id, other.id],
    ]);
    await deps.close();
  });

  const headers = (extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    'user-agent': CHROME_UA,
    'accept-language': 'de-DE,de;q=0.9',
    'x-forwarded-for': LONDON_IP,
    ...extra,
  });
  const post = (url: string, payload: unknown, extra: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, headers: headers(extra), payload: JSON.stringify(payload) });
  /** Waits until the event with this event_id was produced, and returns it. */
  const producedById = (eventId: string) =>
    waitFor(`event ${eventId} in Kafka`, async () =>
      h.produced.find((p) => p.ev.event_id === eventId),
    );
  /** Sends a valid marker event and waits for it: everything produced before it is in `produced`. */
  const sentinel = async () => {
    const id = randomUUID();
    const res = await post('/api/collect', {
      website_id: site.id,
      type: 'pageview',
      url: '/sentinel',
      event_id: id,
    });
    expect(res.statusCode).toBe(202);
    await producedById(id);
  };

  it('enriches a Sparklytics pageview: URL, UTMs, referrer, channel, UA, language, geo', async () => {
    const id = randomUUID();
    const res = await post('/api/collect', {
      website_id: site.id,
      type: 'pageview',
      url: 'https://Shop.example/pricing/?utm_source=newsletter&utm_medium=email&x=1#top',
      referrer: 'https://www.google.com/search?q=shop',
      screen: '1280x720',
      event_id: id,
      some_future_field: { nested: true },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ ok: true });
    const { ev, key, raw } = await producedById(id);
    expect(ev).toMatchObject({
      website_id: site.id,
      type: 'pageview',
      event_name: null,
      hostname: 'shop.example',
      path: '/pricing/',
      querystring: '?utm_source=newsletter&utm_medium=email&x=1',
      referrer: 'https://www.google.com/search?q=shop',
      referrer_domain: 'google.com',
      channel: 'email', // the campaign's medium beats the search referrer
      utm_source: 'newsletter',
      utm_medium: 'email',
      browser: 'Chrome',
      os: 'Windows',
      device: 'desktop',
      screen_width: 1280,
      language: 'de-DE',
      country: 'GB',
      user_id: null,
      bot_score: 0,
      is_bot: false,
    });
    expect(ev.city).toBeTruthy();
    expect(ev.visitor_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(key).toBe(`${site.id}:${ev.visitor_id}`);
    // The client IP never reaches Kafka.
    expect(raw).not.toContain(LONDON_IP);
  });

  it('accepts the exact bodies of the Sparklytics script (issue 7 fixtures)', async () => {
    // With identify(), the script adds visitor_id to what it sends next.
    const bodies = sparklyticsBodies(site.id);
    bodies[2]!.visitor_id = 'user-42';
    const ids: string[] = [];
    for (const b of bodies) {
      const id = randomUUID();
      ids.push(id);
      const res = await post('/e', { ...b, event_id: id });
      expect(res.statusCode).toBe(202);
    }
    const [pv, purchase, next] = await Promise.all(ids.map(producedById));
    expect(pv!.ev).toMatchObject({
      path: '/spark',
      utm_source: 'google',
      language: 'en-US',
      channel: 'organic_search',
    });
    expect(purchase!.ev).toMatchObject({
      type: 'event',
      event_name: 'purchase',
      properties: { amount: 49.99 },
    });
    expect(pv!.ev.session_id).toBe(purchase!.ev.session_id);
    expect(next!.ev).toMatchObject({
      path: '/spark/next',
      utm_source: 'google',
      user_id: 'user-42',
      visitor_id: 'user-42',
    });
  });

  it('accepts the exact bodies of the Rybbit script: pageview, custom_event, outbound, performance', async () => {
    const base = {
      site_id: String(site.numeric_id),
      hostname: 'shop.example',
      pathname: '/ryb/home',
      querystring: '?x=1&gclid=abc',
      screenWidth: 390,
      screenHeight: 844,
      language: 'en-US',
      page_title: 'Ryb',
      referrer: '',
    };
    const cases = [
      { ...base, type: 'pageview', event_name: '' },
      {
        ...base,
        type: 'custom_event',
        event_name: 'signup',
        properties: '{"plan":"pro","n":2}',
        user_id: 'u-7',
      },
      {
        ...base,
        type: 'outbound',
        properties: '{"url":"https://x.example/","text":"X","target":"_blank"}',
      },
      { ...base, type: 'performance', lcp: 1234.5, cls: 0.01, inp: null, fcp: 800, ttfb: 120 },
    ];
    const ids: string[] = [];
    for (const c of cases) {
      const id = randomUUID();
      ids.push(id);
      const res = await post('/api/track', { ...c, event_id: id }, { 'user-agent': IPHONE_UA });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ success: true });
    }
    const [pv, signup, outbound, perf] = await Promise.all(ids.map(producedById));
    expect(pv!.ev).toMatchObject({
      website_id: site.id,
      type: 'pageview',
      event_name: null,
      hostname: 'shop.example',
      path: '/ryb/home',
      page_title: 'Ryb',
      referrer: null,
      channel: 'paid_search',
      browser: 'Mobile Safari',
      os: 'iOS',
      device: 'mobile',
      screen_width: 390,
    });
    expect(signup!.ev).toMatchObject({
      type: 'event',
      event_name: 'signup',
      properties: { plan: 'pro', n: 2 },
      user_id: 'u-7',
    });
    expect(outbound!.ev).toMatchObject({
      type: 'outbound',
      event_name: null,
      properties: { url: 'https://x.example/', text: 'X', target: '_blank' },
    });
    expect(perf!.ev).toMatchObject({
      type: 'performance',
      event_name: null,
      properties: { lcp: 1234.5, cls: 0.01, inp: null, fcp: 800, ttfb: 120 },
    });
  });

  it('accepts the Rybbit autocapture events, each stored with its own type and properties', async () => {
    const base = {
      site_id: String(site.numeric_id),
      hostname: 'shop.example',
      pathname: '/ryb/form',
      event_name: '',
    };
    const cases: Array<[string, Record<string, unknown>]> = [
      ['button_click', { text: 'Buy now', 'data-plan': 'pro' }],
      ['copy', { text: 'COUPON-1', sourceElement: 'p' }],
      [
        'form_submit',
        {
          formId: 'signup',
          formName: '',
          formAction: 'https://shop.example/signup',
          method: 'POST',
          fieldCount: 3,
        },
      ],
      ['input_change', { element: 'input', inputType: 'email', inputName: 'email' }],
      ['file_download', { url: 'https://shop.example/a.pdf', text: 'PDF' }],
      ['outbound', { url: 'mailto:a@b.example', text: 'mail', target: '' }],
    ];
    for (const [type, props] of cases) {
      const id = randomUUID();
      const res = await post('/api/track', {
        ...base,
        type,
        properties: JSON.stringify(props),
        event_id: id,
      });
      expect(res.statusCode, type).toBe(200);
      const got = await producedById(id);
      expect(got.ev, type).toMatchObject({ type, event_name: null, properties: props });
    }
  });

  it.each<[string, string, Record<string, unknown> | null, string]>([
    ['copy without sourceElement', 'copy', { text: 'x' }, 'properties.sourceElement'],
    ['copy with a numeric sourceElement', 'copy', { sourceElement: 1 }, 'properties.sourceElement'],
    ['copy without properties', 'copy', null, 'properties.sourceElement'],
    [
      'form_submit without formId',
      'form_submit',
      { formName: '', formAction: 'https://a.example/', method: 'GET', fieldCount: 1 },
      'properties.formId',
    ],
    [
      'form_submit without formName',
      'form_submit',
      { formId: '', formAction: 'https://a.example/', method: 'GET' },
      'properties.formName',
    ],
    [
      'form_submit without formAction',
      'form_submit',
      { formId: '', formName: '', method: 'GET' },
      'properties.formAction',
    ],
    [
      'form_submit without method',
      'form_submit',
      { formId: '', formName: '', formAction: '' },
      'properties.method',
    ],
    [
      'form_submit with a negative fieldCount',
      'form_submit',
      { formId: '', formName: '', formAction: '', method: 'GET', fieldCount: -1 },
      'properties.fieldCount',
    ],
    ['outbound without url', 'outbound', { text: 'x' }, 'properties.url'],
    ['outbound with a relative url', 'outbound', { url: '/pricing' }, 'properties.url'],
    ['file_download with a relative url', 'file_download', { url: 'a.pdf' }, 'properties.url'],
  ])('refuses %s with 400 Invalid payload', async (_what, type, props, field) => {
    const res = await post('/api/track', {
      site_id: site.id,
      type,
      hostname: 'shop.example',
      pathname: '/',
      event_name: '',
      ...(props === null ? {} : { properties: JSON.stringify(props) }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      success: false,
      error: 'Invalid payload',
      details: { code: 'invalid_payload', field },
    });
  });

  it('serves tracking-config from the website settings, defaults first', async () => {
    const get = (id: string | number) =>
      app.inject({ method: 'GET', url: `/api/site/tracking-config/${id}` });
    const res = await get(site.numeric_id);
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.json()).toMatchObject({
      trackOutbound: true,
      trackFileDownloads: true,
      trackButtonClicks: false,
      trackCopy: false,
      trackFormInteractions: false,
    });
    expect(res.json<{ fileExtensions: string[] }>().fileExtensions).toContain('pdf');
    const custom = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Tracked',
      domain: 'tracked.example',
      tracking: { trackOutbound: false, trackCopy: true, fileExtensions: ['epub'] },
    });
    try {
      expect((await get(custom.id)).json()).toEqual({
        trackOutbound: false,
        trackFileDownloads: true,
        trackButtonClicks: false,
        trackCopy: true,
        trackFormInteractions: false,
        fileExtensions: ['epub'],
      });
    } finally {
      await websiteRepository.delete(deps.db, custom.id);
    }
    for (const bad of ['999999999999', 'site_zzzzzzzzzz', 'nope']) {
      const r = await get(bad);
      expect(r.statusCode, bad).toBe(404);
      expect(r.json()).toEqual({ error: 'Site not found' });
    }
  });

  it('accepts a site_… id on /api/track and a numeric site_id as a number', async () => {
    for (const siteId of [site.id, site.numeric_id]) {
      const res = await post('/api/track', {
        site_id: siteId,
        type: 'pageview',
        hostname: 'shop.example',
        pathname: '/n',
      });
      expect(res.statusCode).toBe(200);
    }
  });

  it('accepts a batch naming two websites, and JSON sent as text/plain', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const res = await app.inject({
      method: 'POST',
      url: '/api/collect',
      headers: headers({ 'content-type': 'text/plain;charset=UTF-8' }),
      payload: JSON.stringify([
        { website_id: site.id, type: 'pageview', url: '/a', event_id: a },
        {
          website_id: other.id,
          type: 'event',
          event_name: 'x',
          url: 'https://blog.example/',
          event_id: b,
        },
      ]),
    });
    expect(res.statusCode).toBe(202);
    const [ea, eb] = await Promise.all([producedById(a), producedById(b)]);
    expect(ea.ev.website_id).toBe(site.id);
    expect(eb.ev.website_id).toBe(other.id);
  });

  it('assigns sessions in event time: 30 minutes of inactivity, out-of-order and late events', async () => {
    // Late events take the id of their 30-minute bucket (see session.store.ts): t0 sits 5 minutes
    // into a bucket, so the two late events below (t0 − 120 and t0 − 119 minutes) share one.
    const bucket = 30 * 60_000;
    const t0 = Math.floor((Date.now() - 3 * 3_600_000) / bucket) * bucket + 5 * 60_000;
    const visitor = `v-${randomUUID()}`;
    const at = async (offsetMin: number) => {
      const id = randomUUID();
      const res = await post('/api/collect', {
        website_id: site.id,
        type: 'pageview',
        url: `/s${offsetMin}`,
        visitor_id: visitor,
        event_id: id,
        timestamp: new Date(t0 + offsetMin * 60_000).toISOString(),
      });
      expect(res.statusCode).toBe(202);
      return (await producedById(id)).ev;
    };
    const first = await at(0);
    const tenMin = await at(10);
    const reordered = await at(-5); // before the session's first event, within 30 min
    const afterGap = await at(45); // 35 min after the last event: a new session
    const late = await at(-120); // long before anything we track
    const lateAgain = await at(-119);
    expect(tenMin.session_id).toBe(first.session_id);
    expect(reordered.session_id).toBe(first.session_id);
    expect(afterGap.session_id).not.toBe(first.session_id);
    expect(late.session_id).not.toBe(first.session_id);
    expect(late.session_id).not.toBe(afterGap.session_id);
    expect(lateAgain.session_id).toBe(late.session_id);
    expect(first.event_time).toBe(new Date(t0).toISOString());
    // Epoch milliseconds are accepted too.
    const res = await post('/api/collect', {
      website_id: site.id,
      type: 'pageview',
      url: '/ms',
      timestamp: Date.now() - 1000,
    });
    expect(res.statusCode).toBe(202);
  });

  it('keeps anonymous visitors apart by IP and UA, and together across their pageviews', async () => {
    const send = async (ip: string) => {
      const id = randomUUID();
      await post(
        '/api/collect',
        { website_id: site.id, type: 'pageview', url: '/anon', event_id: id },
        { 'x-forwarded-for': ip },
      );
      return (await producedById(id)).ev;
    };
    const a1 = await send('203.0.113.7');
    const a2 = await send('203.0.113.7');
    const b = await send('203.0.113.8');
    expect(a2.visitor_id).toBe(a1.visitor_id);
    expect(a2.session_id).toBe(a1.session_id);
    expect(b.visitor_id).not.toBe(a1.visitor_id);
  });

  it('writes events in the compact encoding by default, and as JSON when set to', async () => {
    const binaryId = randomUUID();
    const jsonId = randomUUID();
    const asJson = await h.build({ options: { eventEncoding: 'json' } });
    const body = (id: string) =>
      JSON.stringify({ website_id: site.id, type: 'pageview', url: '/enc', event_id: id });
    const post = (app: typeof h.app, id: string) =>
      app.inject({
        method: 'POST',
        url: '/api/collect',
        headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA },
        payload: body(id),
      });
    expect((await post(h.app, binaryId)).statusCode).toBe(202);
    expect((await post(asJson, jsonId)).statusCode).toBe(202);
    const [binary, json] = await Promise.all([producedById(binaryId), producedById(jsonId)]);
    expect(binary.value[0]).toBe(0x02);
    expect(JSON.parse(json.value.toString('utf8'))).toMatchObject({
      event_id: jsonId,
      path: '/enc',
    });
    expect(binary.ev).toMatchObject({ path: '/enc', hostname: json.ev.hostname });
  });

  it('produces an event_id once within 24 h, acknowledging the repeat', async () => {
    const id = randomUUID();
    const body = { website_id: site.id, type: 'pageview', url: '/once', event_id: id };
    expect((await post('/api/collect', body)).statusCode).toBe(202);
    expect((await post('/api/collect', body)).statusCode).toBe(202);
    expect((await post('/api/collect', [body, body])).statusCode).toBe(202);
    await sentinel();
    expect(h.produced.filter((p) => p.ev.event_id === id)).toHaveLength(1);
  });

  it('refuses bad input with the documented errors and produces nothing', async () => {
    const marker = `/bad-${randomUUID()}`;
    const ok = { website_id: site.id, type: 'pageview', url: marker };
    const cases: Array<{
      url?: string;
      body: unknown;
      raw?: string;
      ctype?: string;
      status: number;
      code: string;
      field?: string | null;
    }> = [
      { body: Array.from({ length: 51 }, () => ok), status: 400, code: 'batch_too_large' },
      {
        body: [ok, ok, ok, { ...ok, type: 'event' }],
        status: 400,
        code: 'validation_error',
        field: '[3].event_name',
      },
      {
        body: [ok, { ...ok, type: 'click' }],
        status: 400,
        code: 'validation_error',
        field: '[1].type',
      },
      {
        body: { ...ok, type: 'event', event_name: 'x'.repeat(51) },
        status: 400,
        code: 'validation_error',
        field: 'event_name',
      },
      {
        body: { ...ok, type: 'event', event_name: 'big', event_data: { s: 'x'.repeat(5000) } },
        status: 400,
        code: 'validation_error',
        field: 'event_data',
      },
      {
        body: { ...ok, type: 'event', event_name: 'arr', event_data: [1, 2] },
        status: 400,
        code: 'validation_error',
        field: 'event_data',
      },
      {
        body: { ...ok, timestamp: new Date(Date.now() - 31 * 86_400_000).toISOString() },
        status: 400,
        code: 'validation_error',
        field: 'timestamp',
      },
      {
        body: { ...ok, timestamp: Date.now() + 10 * 60_000 },
        status: 400,
        code: 'validation_error',
        field: 'timestamp',
      },
      {
        body: { ...ok, timestamp: 'yesterday' },
        status: 400,
        code: 'validation_error',
        field: 'timestamp',
      },
      {
        body: { ...ok, event_id: 'not-a-uuid' },
        status: 400,
        code: 'validation_error',
        field: 'event_id',
      },
      {
        body: { ...ok, website_id: 42 },
        status: 400,
        code: 'validation_error',
        field: 'website_id',
      },
      { body: { ...ok, url: undefined }, status: 400, code: 'validation_error', field: 'url' },
      { body: [], status: 400, code: 'validation_error' },
      { body: 'just a string', status: 400, code: 'validation_error' },
      { body: null, raw: '{"website_id":', status: 400, code: 'bad_request' },
      {
        body: null,
        raw: JSON.stringify({ ...ok, pad: 'x'.repeat(101 * 1024) }),
        status: 413,
        code: 'payload_too_large',
      },
      {
        body: { ...ok, website_id: newWebsiteId() },
        status: 400,
        code: 'unknown_website',
        field: 'website_id',
      },
      {
        body: [ok, { ...ok, website_id: 'site_unknown000' }],
        status: 400,
        code: 'unknown_website',
        field: '[1].website_id',
      },
      // A malformed id is refused before any lookup (it used to cost an uncached query, and a
      // NUL made that query fail: 503 "database unavailable").
      ...['\u0000', 'site_\u0000', "' OR 1=1", 'x'.repeat(64)].map((id) => ({
        body: { ...ok, website_id: id },
        status: 400,
        code: 'unknown_website',
        field: 'website_id',
      })),
      // PostgreSQL text cannot hold a NUL: a client id with one is refused (it used to be
      // accepted, then split the processor's sub-batch ten times to dead-letter it).
      {
        body: { ...ok, visitor_id: 'v\u0000x' },
        status: 400,
        code: 'validation_error',
        field: 'visitor_id',
      },
      // The documented maximum lengths.
      {
        body: { ...ok, url: `https://shop.example/${'p'.repeat(2048)}` },
        status: 400,
        code: 'validation_error',
        field: 'url',
      },
      {
        body: { ...ok, url: `https://shop.example/?q=${'x'.repeat(8192)}` },
        status: 400,
        code: 'validation_error',
        field: 'url',
      },
    ];
    for (const c of cases) {
      const res = await app.inject({
        method: 'POST',
        url: c.url ?? '/api/collect',
        headers: headers(),
        payload: c.raw ?? JSON.stringify(c.body),
      });
      expect({ status: res.statusCode, body: res.json<unknown>() }).toMatchObject({
        status: c.status,
        body: { error: { code: c.code, ...(c.field !== undefined ? { field: c.field } : {}) } },
      });
    }
    await sentinel();
    expect(h.produced.filter((p) => p.ev.path === marker)).toHaveLength(0);
  });

  it('refuses bad Rybbit bodies in Rybbit’s error shape, unknown sites with 404', async () => {
    const base = { site_id: String(site.numeric_id), hostname: 'shop.example', pathname: '/r' };
    const cases: Array<{ body: unknown; status: number }> = [
      { body: { ...base, type: 'custom_event', event_name: '' }, status: 400 },
      {
        body: { ...base, type: 'custom_event', event_name: 'x', properties: 'not json' },
        status: 400,
      },
      { body: { ...base, type: 'custom_event', event_name: 'x', properties: '[1]' }, status: 400 },
      {
        body: {
          ...base,
          type: 'custom_event',
          event_name: 'x',
          properties: `{"a":"${'x'.repeat(2100)}"}`,
        },
        status: 400,
      },
      { body: { ...base, type: 'teleport' }, status: 400 },
      { body: { ...base, site_id: { id: 1 } }, status: 400 },
      { body: { ...base, site_id: '999999999999' }, status: 404 },
      { body: { ...base, site_id: 'site_unknown000' }, status: 404 },
      { body: { ...base, site_id: '\u0000' }, status: 404 },
      { body: { ...base, user_id: 'u\u0000' }, status: 400 },
      { body: { ...base, pathname: `/${'p'.repeat(2048)}` }, status: 400 },
      { body: { ...base, querystring: `?q=${'x'.repeat(2048)}` }, status: 400 },
      { body: { ...base, type: 'custom_event', event_name: 'e'.repeat(201) }, status: 400 },
    ];
    for (const c of cases) {
      const res = await post('/api/track', c.body);
      expect(res.statusCode).toBe(c.status);
      expect(res.json()).toMatchObject({ success: false, error: expect.any(String) as string });
    }
  });

  it('checks the Origin: none, the domain, subdomains and allowed_origins pass; others get 403', async () => {
    const body = { website_id: site.id, type: 'pageview', url: '/o' };
    for (const origin of [
      'https://shop.example',
      'http://www.shop.example:8080',
      'https://partner.example',
    ]) {
      expect((await post('/api/collect', body, { origin })).statusCode).toBe(202);
    }
    for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'null']) {
      const res = await post('/api/collect', body, { origin });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'forbidden_origin' } });
    }
    const rybbit = await post(
      '/api/track',
      { site_id: site.id, hostname: 'x' },
      { origin: 'https://evil.example' },
    );
    expect(rybbit.statusCode).toBe(403);
    expect(rybbit.json()).toMatchObject({ success: false });
  });

  it('flags bots by the website’s policy and keeps them', async () => {
    const send = async (websiteId: string, extra: Record<string, string>) => {
      const id = randomUUID();
      const res = await post(
        '/api/collect',
        { website_id: websiteId, type: 'pageview', url: '/bot', event_id: id },
        extra,
      );
      expect(res.statusCode).toBe(202);
      return (await producedById(id)).ev;
    };
    const crawler = await send(site.id, {
      'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)',
    });
    expect(crawler).toMatchObject({ is_bot: true });
    expect(crawler.bot_score).toBeGreaterThanOrEqual(80);
    // A headless browser without Accept-Language: weak signals; `strict` flags, `balanced` not.
    const headless = {
      'user-agent': CHROME_UA.replace('Chrome/', 'HeadlessChrome/'),
      'accept-language': '',
    };
    const weakBalanced = await send(site.id, { ...headless, 'accept-language': 'en' });
    expect(weakBalanced).toMatchObject({ is_bot: false, bot_score: 50 });
    const weakStrict = await send(other.id, { ...headless, 'accept-language': 'en' });
    expect(weakStrict).toMatchObject({ is_bot: true, bot_score: 50 });
  });

  it('rate-limits per IP and per website with 429', async () => {
    const limited = await h.build({
      options: { ratePerIpPerMinute: 3, ratePerWebsitePerMinute: 1_000_000 },
    });
    const body = { website_id: site.id, type: 'pageview', url: '/rl' };
    const send = (a: HttpApp, ip: string) =>
      a.inject({
        method: 'POST',
        url: '/api/collect',
        headers: headers({ 'x-forwarded-for': ip }),
        payload: JSON.stringify(body),
      });
    for (let i = 0; i < 3; i++) expect((await send(limited, '198.51.100.1')).statusCode).toBe(202);
    const res = await send(limited, '198.51.100.1');
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await send(limited, '198.51.100.2')).statusCode).toBe(202);

    expect(res.headers['retry-after']).toMatch(/^\d+$/);

    // IPv6 clients are one bucket per /64: other addresses of the same /64 share the limit.
    for (const ip of ['2001:db8:7:1::1', '2001:db8:7:1::2', '2001:db8:7:1:ffff::3']) {
      expect((await send(limited, ip)).statusCode).toBe(202);
    }
    expect((await send(limited, '2001:db8:7:1:aaaa::4')).statusCode).toBe(429);
    expect((await send(limited, '2001:db8:7:2::1')).statusCode).toBe(202);

    // Requests without an Origin header (server-side senders) are limited like the others.
    const noOrigin = (ip: string) =>
      limited.inject({
        method: 'POST',
        url: '/api/collect',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        payload: JSON.stringify(body),
      });
    for (let i = 0; i < 3; i++) expect((await noOrigin('198.51.100.9')).statusCode).toBe(202);
    expect((await noOrigin('198.51.100.9')).statusCode).toBe(429);

    const perSite = await h.build({ options: { ratePerWebsitePerMinute: 2 } });
    expect((await send(perSite, '198.51.100.3')).statusCode).toBe(202);
    expect((await send(perSite, '198.51.100.4')).statusCode).toBe(202);
    expect((await send(perSite, '198.51.100.5')).statusCode).toBe(429);

    // A global limit per instance, whatever the addresses and websites.
    const perInstance = await h.build({ options: { ratePerInstancePerSecond: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await send(perInstance, `198.51.100.${20 + i}`)).statusCode);
    // Five requests within well under a second: a one-second window of 2 refuses some of them
    // even if a window boundary falls between two requests.
    expect(statuses).toContain(429);
  });

  it('uses X-Forwarded-For only from a trusted proxy', async () => {
    const untrusting = await h.build({ options: { trustedProxies: [] } });
    const id = randomUUID();
    const res = await untrusting.inject({
      method: 'POST',
      url: '/api/collect',
      headers: headers(),
      payload: JSON.stringify({ website_id: site.id, type: 'pageview', url: '/xff', event_id: id }),
    });
    expect(res.statusCode).toBe(202);
    // The peer (127.0.0.1) is the client: no geo, although the header names a London address.
    expect((await producedById(id)).ev.country).toBeNull();
  });

  it('answers 503 when Redis is unreachable, and accepts nothing', async () => {
    // A real ioredis client to a port where nothing listens.
    const deadRedis = createRedis('redis://127.0.0.1:1', deps.logger, {
      name: 'dead',
      retryStrategy: () => null,
    });
    try {
      const a = await h.build({ redis: deadRedis });
      const res = await a.inject({
        method: 'POST',
        url: '/api/collect',
        headers: headers(),
        payload: JSON.stringify({
          website_id: site.id,
          type: 'pageview',
          url: '/no-redis',
          visitor_id: 'v',
        }),
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect((await a.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
    } finally {
      deadRedis.disconnect();
    }
    await sentinel();
    expect(h.produced.filter((p) => p.ev.path === '/no-redis')).toHaveLength(0);
  });

  it('releases an event_id whose produce failed, so the retry is produced', async () => {
    // A real kafkajs producer that never connected: kafkajs refuses every send.
    const down = await h.build({
      producer: new BatchingProducer(deps.kafka.producer(), {
        topic: h.topic,
        lingerMs: 1,
        maxBatchMessages: 10,
        timeoutMs: 1000,
      }),
    });
    const id = randomUUID();
    const body = JSON.stringify({
      website_id: site.id,
      type: 'pageview',
      url: '/retry',
      event_id: id,
    });
    const first = await down.inject({
      method: 'POST',
      url: '/api/collect',
      headers: headers(),
      payload: body,
    });
    expect(first.statusCode).toBe(503);
    expect(first.headers['retry-after']).toBeDefined();
    const retry = await app.inject({
      method: 'POST',
      url: '/api/collect',
      headers: headers(),
      payload: body,
    });
    expect(retry.statusCode).toBe(202);
    await producedById(id);
    await sentinel();
    expect(h.produced.filter((p) => p.ev.event_id === id)).toHaveLength(1);
  });

  it('serves /health, /ready and the tracker script; metrics only on their own listener', async () => {
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    // Not on the public port.
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    const server = await startMetricsServer(
      h.metrics.registry,
      { host: '127.0.0.1', port: 0 },
      deps.logger,
    );
    try {
      const m = await fetch(server.url);
      expect(m.status).toBe(200);
      const body = await m.text();
      expect(body).toContain('goalpost_ingest_events_total{outcome="accepted"');
      expect(body).toContain('reason="unknown_website"');
      expect(body).toContain('goalpost_ingest_produce_seconds_bucket');
    } finally {
      await server.close();
    }
    const s = await app.inject({ method: 'GET', url: '/script.js' });
    expect(s.statusCode).toBe(200);
    expect(s.headers['content-type']).toContain('javascript');
    expect(s.headers['cache-control']).toContain('max-age');
    // The capture defaults come from shared/ (one copy), put in where the source leaves a slot.
    expect(s.body).toContain(`var cfg = ${JSON.stringify(DEFAULT_TRACKING_SETTINGS)};`);
    const again = await app.inject({
      method: 'GET',
      url: '/script.js',
      headers: { 'if-none-match': s.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
  });
});
