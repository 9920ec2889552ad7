import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredRoutes, type DeclaredRoute } from '../../shared/http/http-app.js';
import { ErrorBodySchema } from '../../shared/http/error.schemas.js';
import { cpuSeconds } from '../../bench/bench-util.js';
import { openApiFixture, type ApiFixture } from '../api/api-fixture.js';
import { openIngestHarness, type IngestHarness } from '../ingest/ingest-harness.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { freePort, serviceLogPath, spawnService, stopGracefully } from '../helpers/services.js';
import { uniqueSuffix } from '../helpers/test-env.js';
import {
  deeplyNested,
  hostileArb,
  hostileString,
  validArb,
  type Hints,
  type JsonSchema,
} from '../helpers/schema-arbitrary.js';
import { rng } from '../helpers/random.js';

/**
 * Issue 12 §2: generated input against the real running services. Every route that the API
 * and ingest apps declare (read from the apps themselves, so a new route is covered without
 * being listed here) gets requests generated from its own schema: valid shapes, and hostile
 * ones (wrong types, huge and deeply nested values, unicode with lone surrogates, NUL,
 * prototype keys, unknown fields, malformed JSON, bad content types and headers, path
 * parameters of every shape). They go over real sockets to the API and ingest running as
 * their own processes from the build (as `npm start` runs them), on the real stack
 * (PostgreSQL, Redis, Kafka); the route catalogs come from apps built in this process from the
 * same code (shared/http/http-app.ts `declaredRoutes`). At least half of each route's requests carry valid
 * credentials for a website in their scope and stay under the (raised) rate limits, so they
 * reach the handler; the suite checks that ratio from the answers.
 *
 * Asserted: no 5xx and no hung request; every 4xx is JSON of the shape the route documents for
 * that status (or, when it documents none, its dialect's error body); afterwards both services
 * are healthy and a valid request still works. The seed is printed (set FUZZ_SEED to replay a
 * run; FUZZ_REQUESTS changes the count, default 10,000), with a histogram of statuses per route.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const CONCURRENCY = 32;
/** The test's own budget (CI: the file within 90 s); FUZZ_TIMEOUT_MS on a loaded machine. */
const TIMEOUT_MS = Number(process.env.FUZZ_TIMEOUT_MS ?? 85_000);

const REQUEST_TIMEOUT_MS = 15_000;

const BROWSER_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

type Service = 'api' | 'ingest';

interface Route extends DeclaredRoute {
  service: Service;
  key: string;
}

interface GenRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Whether the request carries valid credentials (API key, or an allowed origin at ingest). */
  credentialed: boolean;
}

interface Outcome {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Path parameter shapes that are not a valid reference (encoded as they go on the wire). */
const HOSTILE_PATH_PARAMS = [
  '0',
  '-1',
  '1.5',
  '1e3',
  '00001',
  '9007199254740993',
  '99999999999999999999999',
  '%20',
  '%00',
  'a%00b',
  '%2F',
  '..',
  '%2e%2e',
  '.',
  '%ED%A0%80',
  '%C0%AF',
  '%FF',
  '%E2%80%AE',
  '%F0%9F%99%82',
  '__proto__',
  'constructor',
  'toString',
  'site_',
  'site_0000000000',
  'site_ZZZZZZZZZZ',
  'goal_',
  'goal_000000000000000000000',
  'key_0',
  'x'.repeat(2000),
  '%25',
  '%',
  '%zz',
  '%u0041',
  'null',
  'undefined',
  'NaN',
  "'",
  '%22',
  '*',
];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'text/plain;charset=UTF-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/octet-stream',
  'application/vnd.api+json',
  'APPLICATION/JSON',
  ';;;',
  'application/json; charset=',
  'application/json;' + ' x=y;'.repeat(200),
];

/** Bodies that are not JSON, or JSON that no schema expects, as raw bytes. */
const RAW_BODIES: Array<() => string | Buffer> = [
  () => '',
  () => '{',
  () => '{"a":',
  () => 'nul',
  () => 'null',
  () => 'true',
  () => '123',
  () => '"text"',
  () => '[]',
  () => '{}',
  () => '\ufeff{}',
  () => '{"a":1,"a":2}',
  () => '{"__proto__":{"isAdmin":true}}',
  () => '{"constructor":{"prototype":{"isAdmin":true}}}',
  () => '['.repeat(40_000) + ']'.repeat(40_000),
  () => '{"a":'.repeat(15_000) + '1' + '}'.repeat(15_000),
  () => '"\\ud800"',
  () => '{"x":"\\u0000"}',
  () => Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
  () => Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80]),
  () => 'a=1&b=2',
  () => '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
  () => '<xml/>',
  () => JSON.stringify({ x: 'y'.repeat(120 * 1024) }),
  () => JSON.stringify({ x: 'y'.repeat(1_100_000) }),
];

/** Query strings appended as they are, malformed percent-encoding and prototype keys included. */
const RAW_QUERIES = [
  '%',
  '%zz=1',
  'a=%zz',
  '__proto__=1',
  '__proto__[x]=1',
  'constructor[prototype][x]=1',
  'toString=1',
  '=',
  '&&&',
  'a=1&a=2&a=3',
  'filters=%00',
  'start_date=2026-01-01&start_date=2026-01-02',
  'timezone=%ED%A0%80',
  'x=' + 'y'.repeat(6000),
  'limit=1e2',
  'limit=-1',
  'limit=0x10',
  'page=99999999999999999999',
  'include_bots=TRUE',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** JSON text of a value; a value too deep for JSON.stringify is sent as an empty object. */
function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return '{}';
  }
}

/** A query value as a client would encode it: strings as they are, anything else as JSON. */
function encodeQuery(q: unknown, r: () => number): string {
  if (typeof q !== 'object' || q === null || Array.isArray(q)) {
    return `q=${enc(jsonText(q))}`;
  }
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    const key = enc(k);
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) {
      // Longer values could not pass Node's 16 KB limit on request heads anyway.
      const text = (typeof x === 'string' ? x : jsonText(x)).slice(0, 3_000);
      // Mostly percent-encoded; sometimes with a raw `%` left as it is (malformed escapes).
      parts.push(`${key}=${r() < 0.9 ? enc(text) : enc(text).replace(/%25/g, '%')}`);
    }
  }
  return parts.join('&');
}

/**
 * Percent-encodes text as a client would; a lone surrogate (which has no UTF-8 form) becomes
 * the bytes a careless client sends for it, `%ED%A0%80`, which are not valid UTF-8.
 */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    // A lone surrogate: encode character by character below.
  }
  let out = '';
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    out += cp >= 0xd800 && cp <= 0xdfff ? '%ED%A0%80' : encodeURIComponent(c);
  }
  return out;
}

/** A path segment from a generated value. */
const encodeSegment = (v: unknown): string =>
  enc((typeof v === 'string' ? v : jsonText(v)).slice(0, 1_000));

interface Fixtures {
  api: {
    scopedKey: string;
    allSitesKey: string;
    /** The stable website and its goals (never targeted by DELETE). */
    site: { id: string; numeric_id: number };
    otherSite: { id: string; numeric_id: number };
    goals: Array<{ id: string; numeric_id: number }>;
    /** Targets of DELETE: a website and goals that may go away during the run. */
    victimSite: { id: string; numeric_id: number };
    victimGoals: Array<{ id: string; numeric_id: number }>;
    victimKeyId: string;
    liveToken: string;
  };
  ingest: {
    site: { id: string; numeric_id: number; domain: string };
    collectKey: string;
  };
}

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

function apiHints(fx: Fixtures['api'], route: Route): Hints {
  const del = route.method === 'DELETE';
  const isWebsiteRoute = route.url === '/api/websites/:website_id';
  const sites = del && isWebsiteRoute ? [fx.victimSite] : [fx.site];
  const goals = del ? fx.victimGoals : fx.goals;
  const filters = [
    [{ parameter: 'country', type: 'equals', value: ['US'] }],
    [{ parameter: 'pathname', type: 'regex', value: ['^/p(r|x)'] }],
    [{ parameter: 'browser', type: 'not_equals', value: ['Chrome', 'Firefox'] }],
    [{ parameter: 'utm_source', type: 'contains', value: ['goo'] }],
    [{ parameter: 'constructor', type: 'equals', value: ['x'] }],
    [{ parameter: 'page_title', type: 'regex', value: ['(?<n>a)'] }],
  ].map((f) => JSON.stringify(f));
  const cursor = Buffer.from(JSON.stringify(['2026-01-01T10:00:00.000000Z', 's1'])).toString(
    'base64url',
  );
  const table: Record<string, readonly unknown[]> = {
    website_id: sites.flatMap((s) => [s.id, String(s.numeric_id)]),
    site: sites.flatMap((s) => [String(s.numeric_id), s.id]),
    goal_id: goals.map((g) => g.id),
    goalId: goals.flatMap((g) => [String(g.numeric_id), g.id]),
    key_id: [fx.victimKeyId],
    token: [fx.liveToken],
    name: ['Fuzz', ' Signup ', 'n'],
    domain: ['fuzz.example', 'shop.example:8080', 'localhost'],
    'allowed_origins[]': ['https://a.example', 'http://localhost:3000'],
    timezone: ['UTC', 'Europe/Berlin', 'America/Los_Angeles', 'Asia/Kolkata'],
    start_date: [daysAgo(7), daysAgo(30), today()],
    end_date: [today(), daysAgo(1)],
    include_bots: ['true', 'false'],
    include: ['timeseries'],
    granularity: ['day', 'hour'],
    match_value: ['/checkout', 'signup', '/blog/*', '/a/**', '^/x(y|z)$', 'purchase'],
    currency: ['USD', 'EUR'],
    value_property_key: ['amount', null],
    key: ['plan', 'amount'],
    pathPattern: ['/pricing', '/blog/*', '/**/x'],
    eventName: ['signup', 'purchase'],
    eventPropertyKey: ['plan'],
    filters,
    page: ['1', '2'],
    page_size: ['10', '100'],
    pageSize: ['5'],
    limit: ['1', '25', '100', 10],
    sort: ['goalId', 'name', 'conversions', 'createdAt'],
    order: ['asc', 'desc'],
    cursor: [cursor],
    'website_ids[]': [fx.site.id, String(fx.site.numeric_id)],
  };
  return (name) => table[name];
}

function ingestHints(fx: Fixtures['ingest']): Hints {
  const s = fx.site;
  const table: Record<string, readonly unknown[]> = {
    website_id: [s.id, String(s.numeric_id)],
    site_id: [s.id, s.numeric_id, String(s.numeric_id)],
    url: [`https://${s.domain}/`, `https://${s.domain}/pricing?utm_source=x`, '/checkout'],
    hostname: [s.domain],
    pathname: ['/', '/pricing', 'pricing'],
    querystring: ['?a=1', 'utm_source=news'],
    event_name: ['signup', 'click'],
    properties: ['{"plan":"pro"}', '{}'],
    timestamp: [new Date().toISOString(), Date.now()],
    api_key: [fx.collectKey],
    event_id: ['0b8d6f3e-4c1a-4f7e-9a51-3d2c1b0a9f8e', '00000000-0000-0000-0000-000000000000'],
    visitor_id: ['v1', 'v2'],
    user_id: ['u1'],
    referrer: ['https://google.com/'],
    language: ['en-US'],
    screen: ['1280x720'],
  };
  return (name) => table[name];
}

/** The names of a route's path parameters, from its URL pattern (`*` for a wildcard). */
function paramNames(url: string): string[] {
  return [...url.matchAll(/:([A-Za-z_]+)|\*/g)].map((m) => m[1] ?? '*');
}

function generateRequests(route: Route, fx: Fixtures, n: number, seed: number): GenRequest[] {
  const r = rng(seed);
  const schema = (route.schema ?? {}) as {
    body?: JsonSchema;
    querystring?: JsonSchema;
    params?: JsonSchema;
  };
  const hints = route.service === 'api' ? apiHints(fx.api, route) : ingestHints(fx.ingest);
  // One seeded stream of n values per arbitrary, drawn when first needed (fc.sample per value
  // would rebuild its generator every time).
  let streams = 0;
  const stream = (arb: fc.Arbitrary<unknown> | null) => {
    const k = ++streams;
    let values: unknown[] | undefined;
    return (i: number): unknown => {
      values ??= fc.sample(arb!, { seed: (seed + k * 7_919) >>> 0, numRuns: n });
      return values[i];
    };
  };
  const bodyValid = schema.body ? stream(validArb(schema.body, hints)) : null;
  const bodyHostile = schema.body ? stream(hostileArb(schema.body, hints)) : null;
  const queryValid = schema.querystring ? stream(validArb(schema.querystring, hints)) : null;
  const queryHostile = schema.querystring ? stream(hostileArb(schema.querystring, hints)) : null;
  const hostileSegments = stream(hostileString);
  const paramArbs = new Map<string, (i: number) => unknown>();
  for (const p of paramNames(route.url)) {
    const ps = schema.params?.properties?.[p] ?? { type: 'string' };
    paramArbs.set(p, stream(validArb(ps, hints, p)));
  }
  const out: GenRequest[] = [];
  for (let i = 0; i < n; i++) {
    // Path.
    let path = route.url;
    for (const p of paramNames(route.url)) {
      const roll = r();
      let seg: string;
      if (roll < 0.75) seg = encodeSegment(paramArbs.get(p)!(i));
      else if (roll < 0.92) seg = pick(r, HOSTILE_PATH_PARAMS);
      else seg = encodeSegment(hostileSegments(i));
      // Node's HTTP server refuses request heads over 16 KB (431) before any app sees them.
      if (seg.length > 3_000) seg = seg.slice(0, 3_000);
      if (p === '*') {
        seg = pick(r, [
          '',
          'index.html',
          'assets/x.js',
          '../package.json',
          '..%2F..%2Fpackage.json',
          '%00',
          'a/b/c',
          seg,
        ]);
        path = path.replace('*', seg);
      } else {
        path = path.replace(`:${p}`, seg === '' ? '%20' : seg);
      }
    }
    // Query.
    let query = '';
    const qRoll = r();
    if (queryValid && qRoll < 0.5) query = encodeQuery(queryValid(i), r);
    else if (queryHostile && qRoll < 0.85) query = encodeQuery(queryHostile(i), r);
    else if (qRoll < 0.95) query = pick(r, RAW_QUERIES);
    // Node's HTTP server refuses request heads over 16 KB (431) before any app sees them.
    if (path.length + query.length > 8_000) query = pick(r, RAW_QUERIES);
    if (query !== '') path += `?${query}`;
    // Body.
    const sendsBody = ['POST', 'PUT', 'PATCH'].includes(route.method)
      ? r() < 0.97
      : route.method !== 'HEAD' && r() < 0.05;
    let body: Buffer | undefined;
    const bRoll = r();
    if (sendsBody) {
      if (bodyValid && bRoll < 0.45) body = Buffer.from(jsonText(bodyValid(i)));
      else if (bodyHostile && bRoll < 0.85) body = Buffer.from(jsonText(bodyHostile(i)));
      else if (bRoll < 0.9) body = Buffer.from(jsonText(deeplyNested(3, r() < 0.5)));
      else {
        const raw = pick(r, RAW_BODIES)();
        body = typeof raw === 'string' ? Buffer.from(raw) : raw;
      }
    }
    // Headers.
    const headers: Record<string, string> = { 'user-agent': BROWSER_UA };
    if (body !== undefined) {
      const ctRoll = r();
      if (ctRoll < 0.8) headers['content-type'] = 'application/json';
      else if (ctRoll < 0.97) headers['content-type'] = pick(r, CONTENT_TYPES);
      // else: a body with no content type at all.
    } else if (r() < 0.03) {
      headers['content-type'] = pick(r, CONTENT_TYPES);
    }
    let credentialed: boolean;
    if (route.service === 'api') {
      // A key scoped to the test's websites where the route names one; keys and website
      // creation are for all-sites keys only.
      const good =
        route.url.includes(':website_id') || route.url.includes(':site')
          ? fx.api.scopedKey
          : fx.api.allSitesKey;
      credentialed = r() < 0.85;
      if (credentialed) headers.authorization = `Bearer ${good}`;
      else {
        const bad = pick(r, [
          '',
          'Bearer',
          'Bearer ',
          `Bearer ${good}x`,
          `bearer ${good.slice(0, 20)}`,
          `Basic ${Buffer.from('a:b').toString('base64')}`,
          'Bearer spk_selfhosted_' + 'ff'.repeat(16),
          'Bearer \u00ff\u00fe',
          `Bearer ${'a'.repeat(4000)}`,
          'Bearer __proto__',
        ]);
        if (bad !== '') headers.authorization = bad;
      }
      if (route.url.endsWith('/live') && r() < 0.3) {
        headers['last-event-id'] = pick(r, [
          '0-0',
          '1-1',
          `${Date.now()}-0`,
          'x',
          '99999999999999999-1',
          '%00',
        ]);
      }
    } else {
      // Ingest: an allowed origin (or none, as a server-side sender) is the credential.
      credentialed = r() < 0.85;
      const good = r() < 0.7 ? `https://${fx.ingest.site.domain}` : undefined;
      if (credentialed) {
        if (good) headers.origin = good;
      } else {
        headers.origin = pick(r, [
          'null',
          'https://evil.example',
          'garbage',
          `https://${'a'.repeat(3000)}.example`,
          'https://\u00e9.example',
        ]);
      }
      if (r() < 0.1)
        headers['x-forwarded-for'] = pick(r, ['1.2.3.4', '::1', 'garbage', '1.1.1.1, 2.2.2.2']);
      if (r() < 0.1)
        headers['accept-language'] = pick(r, ['en-US,en;q=0.9', '*', ';;;', 'x'.repeat(500)]);
      if (r() < 0.05)
        headers['user-agent'] = pick(r, ['', 'curl/8', 'Googlebot/2.1', 'x'.repeat(3000)]);
      if (r() < 0.05) headers['if-none-match'] = pick(r, ['*', '"x"', '']);
    }
    if (r() < 0.05) headers.accept = pick(r, ['text/html', 'application/xml', '*/*;q=0']);
    out.push({ method: route.method, path, headers, body, credentialed });
  }
  return out;
}

/** Sends one request (on a kept-alive connection of `agent`, or a new one without). */
function send(
  base: { host: string; port: number },
  req: GenRequest,
  agent: http.Agent | false,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = req.body.length;
    const r = http.request(
      {
        host: base.host,
        port: base.port,
        method: req.method,
        path: req.path,
        headers,
        agent,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const contentType = String(res.headers['content-type'] ?? '');
        if (contentType.startsWith('text/event-stream')) {
          // A live stream that opened: it never ends on its own; close it.
          res.destroy();
          resolve({ status, contentType, body: Buffer.alloc(0) });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status, contentType, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    r.setTimeout(REQUEST_TIMEOUT_MS, () => r.destroy(new Error('request timed out')));
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/** Body limits of the services (Fastify's default 1 MiB; ingest's 100 KiB, ingest/app.ts). */
const BODY_LIMIT: Record<Service, number> = { api: 1024 * 1024, ingest: 100 * 1024 };

/**
 * The schema a route documents for an error status; else the error body it documents for
 * 400 (its dialect); for a route that documents none (a CORS preflight, HEAD twins, static
 * files), that of a route at the same URL that does; else the service's default body.
 */
function errorSchemaOf(route: Route, status: number, all: readonly Route[]): TSchema {
  const documented = (r: Route) => (r.schema?.response ?? {}) as Record<string, TSchema>;
  const own = documented(route);
  if (own[String(status)] ?? own['400']) return own[String(status)] ?? own['400']!;
  for (const r of all) {
    if (r.service !== route.service || r.url !== route.url) continue;
    const d = documented(r);
    if (d[String(status)] ?? d['400']) return d[String(status)] ?? d['400']!;
  }
  return ErrorBodySchema;
}

describe('generated input against the running API and ingest', () => {
  let deps: TestDeps;
  let apiF: ApiFixture;
  let ingestH: IngestHarness;
  let apiUrl: URL;
  let ingestUrl: URL;
  let fx: Fixtures;
  const createdSites: string[] = [];
  const createdKeys: string[] = [];
  let dashboardDir = '';
  let api: ChildProcess | undefined;
  let ingest: ChildProcess | undefined;

  const call = async (
    app: 'api' | 'ingest',
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const base = app === 'api' ? apiUrl : ingestUrl;
    const res = await fetch(new URL(path, base), {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      // The fields this file reads from the answers it expects (absent on others).
      json: (await res.json().catch(() => null)) as {
        data: { id: string; numeric_id: number; domain: string; token: string };
      },
    };
  };

  beforeAll(async () => {
    deps = openTestDeps('generated-input');
    // A dashboard build of two files, so /app/* is served by the static file plugin as in
    // production (without a build it answers a plain-text hint instead).
    dashboardDir = await mkdtemp(join(tmpdir(), 'goalpost-fuzz-dashboard-'));
    await mkdir(join(dashboardDir, 'assets'));
    await writeFile(join(dashboardDir, 'index.html'), '<!doctype html><title>x</title>');
    await writeFile(join(dashboardDir, 'assets', 'x.js'), 'export {};');
    // In-process apps built from the same code: their route catalogs (and the fixture's
    // helpers, the harness's topic). The requests go to the services run from the build.
    apiF = await openApiFixture('generated-input');
    ingestH = await openIngestHarness(deps, 'generated-input');
    const [apiPort, ingestPort] = [await freePort(), await freePort()];
    const suffix = uniqueSuffix();
    api = spawnService('api', `fuzz-${suffix}`, {
      API_PORT: String(apiPort),
      API_DASHBOARD_DIR: dashboardDir,
      BULLMQ_PREFIX: `test-fuzz-${suffix}`,
      // Raised so that requests reach the handlers; the limits are tested in
      // abuse-limits.test.ts.
      API_AUTH_FAILURES_PER_MINUTE: '1000000',
      API_RATE_LIMIT_KEY_PER_MINUTE: '1000000',
      API_LIVE_STREAMS_PER_TOKEN: '1000',
      API_LIVE_STREAMS_PER_WEBSITE: '1000',
      API_LIVE_STREAMS_PER_CLIENT: '1000',
    });
    ingest = spawnService('ingest', `fuzz-${suffix}`, {
      INGEST_PORT: String(ingestPort),
      KAFKA_EVENTS_TOPIC: ingestH.topic,
      INGEST_RATE_LIMIT_INSTANCE_PER_SECOND: '1000000',
      INGEST_RATE_LIMIT_IP_PER_MINUTE: '100000000',
      INGEST_RATE_LIMIT_WEBSITE_PER_MINUTE: '100000000',
      INGEST_BOT_RATE_HEURISTIC: 'false',
      // Load shedding answers by the machine's load, not by the input (load-shedder.test.ts).
      INGEST_SHED_MAX_EVENT_LOOP_DELAY_MS: '60000',
      INGEST_SHED_MAX_IN_FLIGHT: '1000000',
    });
    apiUrl = new URL(`http://127.0.0.1:${apiPort}`);
    ingestUrl = new URL(`http://127.0.0.1:${ingestPort}`);
    for (const [name, child, url] of [
      ['api', api, apiUrl],
      ['ingest', ingest, ingestUrl],
    ] as const) {
      await waitFor(
        `${name} listening`,
        async () => {
          if (child.exitCode !== null)
            throw new Error(`${name} exited, see ${serviceLogPath(name, `fuzz-${suffix}`)}`);
          const ok = await fetch(new URL('/health', url)).then(
            (r) => r.ok,
            () => false,
          );
          return ok ? true : undefined;
          // A cold start on a loaded machine (the services import their code and the GeoIP
          // databases) can take longer than the default 30 s.
        },
        { timeoutMs: 60_000 },
      );
    }
    const allSites = await apiF.key();
    const boot = { authorization: `Bearer ${allSites.key}` };
    const mkSite = async (name: string, domain: string) => {
      const res = await call('api', 'POST', '/api/websites', { name, domain }, boot);
      expect(res.status).toBe(201);
      createdSites.push(res.json.data.id);
      return res.json.data as { id: string; numeric_id: number; domain: string };
    };
    const site = await mkSite('Fuzz', 'fuzz.example');
    const otherSite = await mkSite('Fuzz other', 'other.example');
    const victimSite = await mkSite('Fuzz victim', 'victim.example');
    const ingestSite = await mkSite('Fuzz ingest', 'ingest-fuzz.example');
    const mkGoal = async (s: { id: string }, name: string, body: object) => {
      const res = await call('api', 'POST', `/api/websites/${s.id}/goals`, { name, ...body }, boot);
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      return res.json.data as { id: string; numeric_id: number };
    };
    const goals = [
      await mkGoal(site, 'Checkout', { goal_type: 'pageview', match_value: '/checkout' }),
      await mkGoal(site, 'Signup', { goal_type: 'event', match_value: 'signup' }),
      await mkGoal(site, 'Blog', {
        goal_type: 'pageview',
        match_operator: 'glob',
        match_value: '/blog/**',
      }),
    ];
    const victimGoals = [];
    for (let i = 0; i < 6; i++) {
      victimGoals.push(
        await mkGoal(site, `Victim ${i}`, { goal_type: 'event', match_value: `v${i}` }),
      );
    }
    const scoped = await apiF.key({ sites: [site.id, victimSite.id] });
    const victimKey = await apiF.key({ sites: [otherSite.id] });
    const collect = await apiF.key({ kind: 'collect', sites: [ingestSite.id] });
    const token = await call('api', 'POST', `/api/websites/${site.id}/live-token`, undefined, {
      authorization: `Bearer ${scoped.key}`,
    });
    expect(token.status).toBe(200);
    await ingestH.origins.refresh();
    fx = {
      api: {
        scopedKey: scoped.key,
        allSitesKey: allSites.key,
        site,
        otherSite,
        goals,
        victimSite,
        victimGoals,
        victimKeyId: victimKey.id,
        liveToken: token.json.data.token,
      },
      ingest: { site: ingestSite, collectKey: collect.key },
    };
  }, 90_000);

  afterAll(async () => {
    if (api) await stopGracefully(api);
    if (ingest) await stopGracefully(ingest);
    await ingestH?.close();
    if (apiF) {
      await apiF.db.query('test.cleanup_keys', 'DELETE FROM api_keys WHERE id = ANY($1)', [
        createdKeys,
      ]);
      await apiF.db.query('test.cleanup_sites', 'DELETE FROM websites WHERE id = ANY($1)', [
        createdSites,
      ]);
      await apiF.close();
    }
    await deps?.close();
    if (dashboardDir !== '') await rm(dashboardDir, { recursive: true, force: true });
  });

  it(
    `${TOTAL} generated requests over every route: no 5xx, documented error bodies, services healthy after`,
    { timeout: TIMEOUT_MS },
    async () => {
      const routes: Route[] = [
        ...declaredRoutes(apiF.app).map((r) => ({ ...r, service: 'api' as const })),
        ...declaredRoutes(ingestH.app).map((r) => ({ ...r, service: 'ingest' as const })),
      ].map((r) => ({ ...r, key: `${r.service} ${r.method} ${r.url}` }));
      // Both apps really declared their routes (a broken catalog would make this suite vacuous).
      expect(routes.some((r) => r.key === 'api POST /api/websites/:website_id/goals')).toBe(true);
      expect(routes.some((r) => r.key === 'ingest POST /api/collect')).toBe(true);

      const perRoute = Math.ceil(TOTAL / routes.length);
      console.log(
        `generated-input: seed ${SEED} (FUZZ_SEED=${SEED} replays), ${routes.length} routes × ${perRoute} requests`,
      );
      const genStart = performance.now();
      const jobs = routes.flatMap((route, ri) =>
        generateRequests(route, fx, perRoute, (SEED + ri * 1_000_003) >>> 0).map((req) => ({
          route,
          req,
        })),
      );
      // Interleave routes so each sees the others' side effects (deleted goals, new websites).
      const order = jobs.map((_, i) => i);
      const shuffle = rng(SEED);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(shuffle() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }

      const agents = {
        api: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
        ingest: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
      };
      const retried = new Map<string, number>();
      const bases = {
        api: { host: apiUrl.hostname, port: Number(apiUrl.port) },
        ingest: { host: ingestUrl.hostname, port: Number(ingestUrl.port) },
      };
      const histogram = new Map<string, Map<string, number>>();
      const reached = new Map<string, number>();
      /** Milliseconds spent waiting on each route's answers (where the run's time goes). */
      const busy = new Map<string, number>();
      /** Failures grouped by route and kind, with a count and the first example of each. */
      const failures = new Map<string, { n: number; example: string }>();
      const fail = (kind: string, route: Route, req: GenRequest, detail: string) => {
        const k = `${route.key} → ${kind}`;
        const f = failures.get(k);
        if (f) f.n += 1;
        else failures.set(k, { n: 1, example: `${detail}\n    ${describeReq(route, req)}` });
      };
      const describeReq = (route: Route, req: GenRequest) =>
        `${route.service} ${req.method} ${req.path.slice(0, 300)} headers=${JSON.stringify(req.headers).slice(0, 300)} body=${req.body?.subarray(0, 300).toString() ?? '-'}`;
      const sendStart = performance.now();
      const bytes = jobs.reduce((n, j) => n + (j.req.body?.length ?? 0) + j.req.path.length, 0);
      console.log(
        `generated-input: generated in ${((sendStart - genStart) / 1000).toFixed(1)} s, ${(bytes / 1e6).toFixed(0)} MB`,
      );
      let next = 0;
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= order.length) return;
          const { route, req } = jobs[order[i]!]!;
          let out: Outcome;
          const t0 = performance.now();
          try {
            try {
              out = await send(bases[route.service], req, agents[route.service]);
            } catch (err) {
              // A reused keep-alive connection that the server closed as we sent (a race of
              // the transport, not an answer): sent again once on a fresh connection. A request
              // that itself breaks the connection fails again and is reported below.
              const code = (err as { code?: string }).code;
              if (!['ECONNRESET', 'EPIPE', 'HPE_INVALID_CONSTANT'].includes(code ?? '')) throw err;
              retried.set(route.key, (retried.get(route.key) ?? 0) + 1);
              out = await send(bases[route.service], req, false);
            }
            busy.set(route.key, (busy.get(route.key) ?? 0) + performance.now() - t0);
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (
              (req.body?.length ?? 0) > BODY_LIMIT[route.service] &&
              (code === 'EPIPE' || code === 'ECONNRESET')
            ) {
              // The server stopped reading an oversized body and closed before its 413
              // reached us: the refusal, seen from the transport.
              const h = histogram.get(route.key) ?? new Map<string, number>();
              histogram.set(route.key, h);
              h.set('closed', (h.get('closed') ?? 0) + 1);
              continue;
            }
            fail((err as Error).message, route, req, '');
            continue;
          }
          const isJson = out.contentType.startsWith('application/json');
          const h = histogram.get(route.key) ?? new Map<string, number>();
          histogram.set(route.key, h);
          h.set(String(out.status), (h.get(String(out.status)) ?? 0) + 1);
          if (out.status === 201 && (route.url === '/api/websites' || route.url === '/api/keys')) {
            const id = (JSON.parse(out.body.toString()) as { data: { id: string } }).data.id;
            (route.url === '/api/keys' ? createdKeys : createdSites).push(id);
          }
          if (![401, 403, 429].includes(out.status))
            reached.set(route.key, (reached.get(route.key) ?? 0) + 1);
          if (out.status >= 500) {
            fail(String(out.status), route, req, out.body.subarray(0, 300).toString());
          } else if (out.status >= 400 && req.method !== 'HEAD') {
            let body: unknown;
            try {
              body = isJson ? JSON.parse(out.body.toString()) : undefined;
            } catch {
              body = undefined;
            }
            const schema = errorSchemaOf(route, out.status, routes);
            if (body === undefined || !Value.Check(schema, body)) {
              fail(
                `${out.status} body not of the documented shape`,
                route,
                req,
                `${out.contentType}: ${out.body.subarray(0, 300).toString()}`,
              );
            }
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      console.log(
        `generated-input: sent in ${((performance.now() - sendStart) / 1000).toFixed(1)} s`,
      );

      agents.api.destroy();
      agents.ingest.destroy();
      const cpu = process.cpuUsage();
      console.log(
        `generated-input: CPU seconds so far: test process ${((cpu.user + cpu.system) / 1e6).toFixed(1)}, api ${cpuSeconds(api?.pid)}, ingest ${cpuSeconds(ingest?.pid)}`,
      );
      const lines = [...histogram].map(([k, h]) => {
        const total = [...h.values()].reduce((a, b) => a + b, 0);
        const statuses = [...h]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([s, c]) => `${s}:${c}`)
          .join(' ');
        return `${k.padEnd(62)} ${String(total).padStart(4)}  reached ${(((reached.get(k) ?? 0) / total) * 100).toFixed(0).padStart(3)}%  ${((busy.get(k) ?? 0) / total).toFixed(0).padStart(4)} ms  ${statuses}${retried.has(k) ? `  (resent on a new connection: ${retried.get(k)})` : ''}`;
      });
      console.log(`generated-input: statuses per route (seed ${SEED})\n${lines.join('\n')}`);
      const failed = [...failures].map(([k, f]) => `${k} (${f.n}×), e.g.\n    ${f.example}`);
      if (failed.length > 0) {
        console.log(`generated-input: failures (seed ${SEED}):\n${failed.join('\n')}`);
      }
      expect(failed).toEqual([]);
      expect(jobs.length).toBeGreaterThanOrEqual(TOTAL);
      for (const route of routes) {
        const total = [...(histogram.get(route.key)?.values() ?? [])].reduce((a, b) => a + b, 0);
        expect(total, route.key).toBe(perRoute);
        expect(
          (reached.get(route.key) ?? 0) / total,
          `${route.key}: share past auth and limits`,
        ).toBeGreaterThanOrEqual(0.5);
      }

      // Healthy afterwards, and valid requests still work.
      expect((await call('api', 'GET', '/health')).status).toBe(200);
      expect((await call('ingest', 'GET', '/health')).status).toBe(200);
      expect((await call('ingest', 'GET', '/ready')).status).toBe(200);
      // On a website created now: the storm may have deleted or changed the fixture's own
      // (DELETE and PATCH with valid ids and keys are among the generated requests).
      const auth = { authorization: `Bearer ${fx.api.allSitesKey}` };
      const fresh = await call(
        'api',
        'POST',
        '/api/websites',
        { name: `After ${SEED}`, domain: `after-${SEED}.example` },
        auth,
      );
      expect(fresh.status, JSON.stringify(fresh.json)).toBe(201);
      const after = fresh.json.data as { id: string; domain: string };
      createdSites.push(after.id);
      const goal = await call(
        'api',
        'POST',
        `/api/websites/${after.id}/goals`,
        { name: `After ${SEED}`, goal_type: 'event', match_value: 'after' },
        auth,
      );
      expect(goal.status, JSON.stringify(goal.json)).toBe(201);
      const stats = await call(
        'api',
        'GET',
        `/api/websites/${after.id}/goals/${goal.json.data.id}/stats`,
        undefined,
        auth,
      );
      expect(stats.status, JSON.stringify(stats.json)).toBe(200);
      const collect = await call(
        'ingest',
        'POST',
        '/api/collect',
        { website_id: after.id, type: 'pageview', url: `https://${after.domain}/after` },
        { 'user-agent': BROWSER_UA },
      );
      expect(collect.status, JSON.stringify(collect.json)).toBe(202);
    },
  );
});
