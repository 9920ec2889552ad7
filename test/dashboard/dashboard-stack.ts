import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { buildDashboard } from '../../scripts/dashboard-build.js';
import { generateApiKey } from '../../shared/auth/api-keys.js';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import { createBackfillQueue } from '../../shared/jobs/queues.js';
import { createRedis } from '../../shared/redis/redis.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { freePort, ROOT, spawnService, stopGracefully } from '../helpers/services.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';
import { launchChromium } from '../helpers/chromium.js';

export const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

/** Where the tests write their screenshots (gitignored); a few are kept in api/dashboard/screenshots/. */
export const SHOTS_DIR = join(ROOT, '.dashboard-shots');

export interface Website {
  id: string;
  numeric_id: number;
  name: string;
  timezone: string;
}

/** One collect event (the Sparklytics body ingest accepts at `POST /api/collect`). */
export interface CollectEvent {
  website_id: string;
  type: 'pageview' | 'event';
  url: string;
  event_name?: string;
  event_data?: Record<string, unknown>;
  visitor_id?: string;
  timestamp?: number;
  referrer?: string;
}

/**
 * The real stack for the dashboard's browser tests: ingest, processor and api as child
 * processes (as `npm start` runs them) on topics, a consumer group and a BullMQ prefix of their
 * own; the dashboard built from the current source into a folder of its own and served by that
 * api (`API_DASHBOARD_DIR`); headless Chromium (the Debian package).
 */
export interface DashboardStack {
  deps: TestDeps;
  apiUrl: string;
  ingestUrl: string;
  browser: Browser;
  /** An all-sites manage key (stored, as the CLI creates it). */
  adminKey: string;
  /** A key in the database; removed at close. */
  key(sites: string[] | null): Promise<string>;
  /** Creates a website through the API. */
  site(name: string, timezone?: string): Promise<Website>;
  /** Creates a goal through the API (Sparklytics body). */
  goal(site: string, body: Record<string, unknown>): Promise<{ id: string; name: string }>;
  /** Sends events through ingest's HTTP collect endpoint, 50 per request. */
  send(events: CollectEvent[]): Promise<void>;
  /** Waits until the website has `n` events in the database (processed). */
  waitForEvents(site: string, n: number): Promise<void>;
  /** GET from the API with the admin key (or another). */
  get<T>(path: string, key?: string): Promise<T>;
  /** POST a JSON body to the API with the admin key. */
  post<T>(path: string, body: unknown): Promise<T>;
  /** A new page (its own context: fresh sessionStorage), with console errors collected. */
  page(opts?: BrowserContextOptions): Promise<{ page: Page; errors: string[] }>;
  signIn(page: Page, key: string): Promise<void>;
  /** A screenshot in {@link SHOTS_DIR}: the whole page, or only the window. */
  shot(page: Page, name: string, opts?: { fullPage?: boolean }): Promise<void>;
  /** axe-core's violations of impact serious or critical on the current page. */
  axe(page: Page): Promise<Array<{ id: string; impact: string; nodes: string[] }>>;
  close(): Promise<void>;
}

export async function openDashboardStack(
  name: string,
  opts: { liveTokenTtlSeconds?: number } = {},
): Promise<DashboardStack> {
  const deps = openTestDeps(`dashboard-${name}`);
  const suffix = uniqueSuffix();
  const dashboardDir = join(tmpdir(), `goalpost-dashboard-${name}-${suffix}`);
  buildDashboard(ROOT, dashboardDir);
  mkdirSync(SHOTS_DIR, { recursive: true });
  // Before any service starts: a machine without Chromium fails here with nothing to clean up.
  const browser = await launchChromium();
  const topics = [
    await createTestTopic(deps.kafka, `dash-${name}`, 2),
    await createTestTopic(deps.kafka, `dash-${name}-dlq`, 1),
  ];
  const prefix = `test-dash-${name}-${suffix}`;
  const [apiPort, ingestPort] = [await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const ingestUrl = `http://127.0.0.1:${ingestPort}`;
  const kafkaEnv = { KAFKA_EVENTS_TOPIC: topics[0]!, KAFKA_TOPIC_PARTITIONS: '2' };
  const children: ChildProcess[] = [
    spawnService('ingest', `dash-${name}-${suffix}`, {
      ...kafkaEnv,
      INGEST_PORT: String(ingestPort),
      INGEST_GEOIP_DATABASES: 'off',
      INGEST_BOT_RATE_HEURISTIC: 'false',
      INGEST_LINGER_MS: '0',
    }),
    spawnService('processor', `dash-${name}-${suffix}`, {
      ...kafkaEnv,
      KAFKA_DLQ_TOPIC: topics[1]!,
      KAFKA_CONSUMER_GROUP: `test-dash-${name}-${suffix}`,
      BULLMQ_PREFIX: prefix,
      GOAL_CACHE_RECHECK_MS: '100',
    }),
    spawnService('api', `dash-${name}-${suffix}`, {
      API_PORT: String(apiPort),
      BULLMQ_PREFIX: prefix,
      API_DASHBOARD_DIR: dashboardDir,
      ...(opts.liveTokenTtlSeconds
        ? { API_LIVE_TOKEN_TTL_SECONDS: String(opts.liveTokenTtlSeconds) }
        : {}),
    }),
  ];
  const keyIds: string[] = [];
  const siteIds: string[] = [];
  const key: DashboardStack['key'] = async (sites) => {
    const k = generateApiKey();
    await apiKeyRepository.create(deps.db, {
      id: k.id,
      name: `dashboard test ${name}`,
      key_hash: k.hash,
      key_prefix: k.prefix,
      kind: 'manage',
      website_ids: sites,
    });
    keyIds.push(k.id);
    return k.key;
  };
  const adminKey = await key(null);
  try {
    for (const url of [`${apiUrl}/health`, `${ingestUrl}/health`]) {
      await waitFor(
        url,
        async () => ((await fetch(url).catch(() => null))?.ok ? true : undefined),
        { timeoutMs: 45_000, intervalMs: 200 },
      );
    }
  } catch (err) {
    // The caller gets no stack to close: stop what started here.
    await Promise.all(children.map(stopGracefully));
    await browser.close().catch(() => undefined);
    throw err;
  }

  const call = async <T>(method: string, path: string, k: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${k}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  return {
    deps,
    apiUrl,
    ingestUrl,
    browser,
    adminKey,
    key,
    async site(siteName, timezone = 'UTC') {
      const { data } = await call<{ data: Website }>('POST', '/api/websites', adminKey, {
        name: siteName,
        domain: `${siteName.toLowerCase().replace(/\W+/g, '-')}.example`,
        timezone,
      });
      siteIds.push(data.id);
      return data;
    },
    async goal(site, body) {
      return (
        await call<{ data: { id: string; name: string } }>(
          'POST',
          `/api/websites/${site}/goals`,
          adminKey,
          body,
        )
      ).data;
    },
    async send(events) {
      for (let i = 0; i < events.length; i += 50) {
        const batch = events.slice(i, i + 50).map((e) => ({ event_id: randomUUID(), ...e }));
        const res = await fetch(`${ingestUrl}/api/collect`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA },
          body: JSON.stringify(batch),
        });
        if (res.status !== 202) throw new Error(`collect: ${res.status} ${await res.text()}`);
      }
    },
    async waitForEvents(site, n) {
      await waitFor(
        `${n} events of ${site}`,
        async () => {
          const { rows } = await deps.db.query<{ n: number }>(
            'test.count_events',
            'SELECT count(*)::int AS n FROM events WHERE website_id = $1',
            [site],
          );
          return rows[0]!.n >= n ? true : undefined;
        },
        { timeoutMs: 45_000, intervalMs: 200 },
      );
    },
    get: (path, k = adminKey) => call('GET', path, k),
    post: (path, body) => call('POST', path, adminKey, body),
    async page(ctx = {}) {
      const context = await browser.newContext({
        locale: 'en-US',
        timezoneId: 'UTC',
        viewport: { width: 1280, height: 860 },
        ...ctx,
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      return { page, errors };
    },
    async signIn(page, k) {
      await page.goto(`${apiUrl}/app/`);
      await page.getByLabel('API key').fill(k);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
    },
    async shot(page, shotName, { fullPage = true } = {}) {
      await page.screenshot({ path: join(SHOTS_DIR, `${shotName}.png`), fullPage });
    },
    async axe(page) {
      const r = await new AxeBuilder({ page })
        .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
        .analyze();
      return r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({
          id: v.id,
          impact: v.impact!,
          nodes: v.nodes.map((n) => n.target.join(' ')),
        }));
    },
    async close() {
      await browser.close().catch(() => undefined);
      await Promise.all(children.map(stopGracefully));
      const redis = createRedis(testConfig.REDIS_URL, deps.logger, { name: 'test-dash-cleanup' });
      const queue = createBackfillQueue(redis, prefix);
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      redis.disconnect();
      await deleteTestTopics(deps.kafka, topics).catch(() => undefined);
      for (const table of ['conversions', 'events', 'sessions']) {
        await deps.db.query('test.cleanup', `DELETE FROM ${table} WHERE website_id = ANY($1)`, [
          siteIds,
        ]);
      }
      await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [siteIds]);
      await deps.db.query('test.cleanup', 'DELETE FROM api_keys WHERE id = ANY($1)', [keyIds]);
      rmSync(dashboardDir, { recursive: true, force: true });
      await deps.close();
    },
  };
}
