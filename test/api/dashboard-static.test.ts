import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { buildDashboard } from '../../scripts/dashboard-build.js';
import { openTestDeps, type TestDeps } from '../helpers/deps.js';
import { ROOT } from '../helpers/services.js';

/** The budget for the JavaScript of the first view, gzipped. */
const FIRST_VIEW_JS_BUDGET = 120 * 1024;

/**
 * How the API serves the built dashboard: content types, caching (hashed assets for a year,
 * index.html revalidated), precompressed assets, redirects, the other routes untouched, a
 * clear answer without a build; and the first view's JavaScript within its budget.
 */
describe('the dashboard served by the API', () => {
  let deps: TestDeps;
  let app: HttpApp;
  let bare: HttpApp;
  let dir: string;

  beforeAll(async () => {
    deps = openTestDeps('dashboard-static');
    dir = mkdtempSync(join(tmpdir(), 'goalpost-dashboard-static-'));
    buildDashboard(ROOT, dir);
    const base = { db: deps.db, redis: deps.redis, logger: deps.logger, bootstrapApiKey: null };
    app = await buildApiApp({ ...base, dashboardDir: dir });
    bare = await buildApiApp({ ...base, dashboardDir: join(dir, 'missing') });
  });

  afterAll(async () => {
    await app?.close();
    await bare?.close();
    rmSync(dir, { recursive: true, force: true });
    await deps.close();
  });

  const assetsOf = (html: string) =>
    [...html.matchAll(/(?:src|href)="\/app\/(assets\/[^"]+)"/g)].map((m) => m[1]!);

  it('index.html: revalidated every load, with a restrictive CSP; assets: immutable, typed, precompressed', async () => {
    for (const url of ['/', '/app']) {
      const r = await app.inject({ url });
      expect([url, r.statusCode, r.headers.location]).toEqual([url, 302, '/app/']);
    }
    const index = await app.inject({ url: '/app/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.headers['x-frame-options']).toBe('DENY');
    const etag = index.headers.etag as string;
    expect(
      (await app.inject({ url: '/app/', headers: { 'if-none-match': etag } })).statusCode,
    ).toBe(304);

    const assets = assetsOf(index.body);
    const js = assets.find((a) => a.endsWith('.js'))!;
    const css = assets.find((a) => a.endsWith('.css'))!;
    for (const [asset, type] of [
      [js, /^(application|text)\/javascript/],
      [css, /^text\/css/],
    ] as const) {
      const r = await app.inject({ url: `/app/${asset}` });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toMatch(type);
      expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      const gz = await app.inject({ url: `/app/${asset}`, headers: { 'accept-encoding': 'gzip' } });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gz.headers.vary).toMatch(/accept-encoding/i);
      expect(gz.rawPayload.length).toBeLessThan(r.rawPayload.length);
    }
    expect((await app.inject({ url: '/app/assets/nope-123.js' })).statusCode).toBe(404);
    // The API's own routes are as they were.
    expect((await app.inject({ url: '/health' })).json()).toEqual({ ok: true });
    expect((await app.inject({ url: '/openapi.json' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/websites' })).statusCode).toBe(401);
  });

  it(`the first view's JavaScript is at most ${FIRST_VIEW_JS_BUDGET / 1024} KB gzipped (the chart library loads later)`, () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    const js = assetsOf(html).filter((a) => a.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    const gz = js.reduce((n, a) => n + statSync(join(dir, `${a}.gz`)).size, 0);
    expect(gz).toBeLessThanOrEqual(FIRST_VIEW_JS_BUDGET);
    expect(js.some((a) => /uPlot/i.test(a))).toBe(false);
  });

  it('without a build, /app/ says how to make one', async () => {
    const r = await bare.inject({ url: '/app/' });
    expect(r.statusCode).toBe(404);
    expect(r.body).toContain('npm run build');
  });
});
