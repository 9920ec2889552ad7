import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../shared/auth/api-keys.js';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import { newWebsiteId } from '../../shared/ids.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { openIngestHarness, type IngestHarness } from './ingest-harness.js';
import { sparklyticsBodies } from './tracker-fixtures.js';

/** The page origin of the captures: another port than the collector. */
const PAGE_ORIGIN = 'http://localhost:4000';
const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/** What every granted preflight and every accepted cross-origin POST carries, exactly. */
const grant = (origin: string) => ({
  'access-control-allow-origin': origin,
  'access-control-allow-credentials': 'true',
  'access-control-allow-methods': 'POST',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '7200',
});
const CORS_HEADERS = Object.keys(grant(''));
const corsOf = (res: Response) =>
  Object.fromEntries(
    CORS_HEADERS.filter((h) => res.headers.has(h)).map((h) => [h, res.headers.get(h)]),
  );

/**
 * The exact bodies the real Sparklytics and Rybbit trackers send (issue 7), replayed over a real
 * socket the way a browser sends them cross-origin: preflight, then the JSON POST; the CORS
 * answers, the Rybbit `api_key` rules, and the one tracker under its three paths.
 */
describe('ingest CORS and drop-in tracker paths', () => {
  let deps: TestDeps;
  let h: IngestHarness;
  let base: string;
  let site: Website;
  let other: Website;
  const keys: string[] = [];

  beforeAll(async () => {
    deps = openTestDeps('ingest-cors');
    site = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Spark page',
      domain: 'localhost',
    });
    other = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Other',
      domain: 'other.example',
    });
    h = await openIngestHarness(deps, 'ingest-cors');
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await h?.close();
    if (keys.length > 0) {
      await deps.db.query('test.cleanup', 'DELETE FROM api_keys WHERE id = ANY($1)', [keys]);
    }
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [
      [site.id, other.id],
    ]);
    await deps.close();
  });

  const preflight = (path: string, origin: string) =>
    fetch(`${base}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
        'user-agent': CHROME_UA,
      },
    });
  const postJson = (path: string, body: unknown, origin?: string) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': CHROME_UA,
        'accept-language': 'en-US',
        ...(origin ? { origin } : {}),
      },
      body: JSON.stringify(body),
    });
  /** Preflight then POST, as the browser does; both must carry the exact grant. */
  const crossOrigin = async (path: string, body: unknown, origin = PAGE_ORIGIN) => {
    const pre = await preflight(path, origin);
    expect(pre.status).toBe(204);
    expect(corsOf(pre)).toEqual(grant(origin));
    expect(pre.headers.get('vary')).toContain('Origin');
    expect(await pre.text()).toBe('');
    return postJson(path, body, origin);
  };
  const producedFor = (siteId: string, n: number) =>
    waitFor(`${n} events for ${siteId}`, async () => {
      const evs = h.produced.filter((p) => p.ev.website_id === siteId).map((p) => p.ev);
      return evs.length >= n ? evs : undefined;
    });
  /** A marker event: once it is consumed, everything produced before it has been seen. */
  const sentinel = async () => {
    const id = randomUUID();
    const res = await postJson('/api/collect', {
      website_id: site.id,
      type: 'pageview',
      url: '/sentinel',
      event_id: id,
    });
    expect(res.status).toBe(202);
    await waitFor('sentinel', async () => h.produced.find((p) => p.ev.event_id === id));
  };
  const newKey = async (kind: 'manage' | 'collect', websiteIds: string[] | null) => {
    const k = generateApiKey();
    await apiKeyRepository.create(deps.db, {
      id: k.id,
      name: `cors-${kind}`,
      key_hash: k.hash,
      key_prefix: k.prefix,
      kind,
      website_ids: websiteIds,
    });
    keys.push(k.id);
    return k;
  };

  it('replays the Sparklytics s.js bodies with their preflights: exact CORS headers, 202, stored', async () => {
    const bodies = sparklyticsBodies(site.id);
    for (const [i, body] of bodies.entries()) {
      // The script posts to /e; its SDKs and the docs use /api/collect: both answer alike.
      const res = await crossOrigin(i === 1 ? '/api/collect' : '/e', body);
      expect(res.status).toBe(202);
      expect(corsOf(res)).toEqual(grant(PAGE_ORIGIN));
      expect(await res.json()).toEqual({ ok: true });
    }
    const evs = await producedFor(site.id, 3);
    expect(evs.map((e) => [e.type, e.path, e.event_name, e.utm_source])).toEqual([
      ['pageview', '/spark', null, 'google'],
      ['event', '/spark', 'purchase', 'google'],
      ['pageview', '/spark/next', null, 'google'],
    ]);
    expect(evs[1]!.properties).toEqual({ amount: 49.99 });
    expect(new Set(evs.map((e) => e.session_id)).size).toBe(1);
  });

  it('replays the Rybbit bodies with their preflights on /api/track: exact CORS headers, 200', async () => {
    const common = {
      site_id: String(site.numeric_id),
      hostname: 'localhost',
      pathname: '/ryb/home',
      querystring: '?x=1',
      screenWidth: 1280,
      screenHeight: 720,
      language: 'en-US',
      page_title: 'Ryb',
      referrer: '',
    };
    const before = h.produced.length;
    for (const body of [
      { ...common, type: 'pageview', event_name: '' },
      {
        ...common,
        type: 'custom_event',
        event_name: 'signup',
        properties: '{"plan":"pro","n":2}',
      },
    ]) {
      const res = await crossOrigin('/api/track', body);
      expect(res.status).toBe(200);
      expect(corsOf(res)).toEqual(grant(PAGE_ORIGIN));
      expect(await res.json()).toEqual({ success: true });
    }
    const evs = await waitFor('the two Rybbit events', async () => {
      const got = h.produced.slice(before).filter((p) => p.ev.path === '/ryb/home');
      return got.length >= 2 ? got.map((p) => p.ev) : undefined;
    });
    expect(evs.map((e) => [e.type, e.event_name, e.querystring])).toEqual([
      ['pageview', null, '?x=1'],
      ['event', 'signup', '?x=1'],
    ]);
    expect(evs[1]!.properties).toEqual({ plan: 'pro', n: 2 });
  });

  it('grants preflights only to listed origins and refuses a disallowed origin’s POST with 403', async () => {
    const evil = 'https://evil.example';
    for (const path of ['/e', '/api/collect', '/api/track']) {
      // An origin no website lists: a preflight with no grant (no credentials either).
      const pre = await preflight(path, evil);
      expect(pre.status).toBe(204);
      expect(corsOf(pre)).toEqual({});
      // Origins some website lists: its domain, a subdomain, another website's domain.
      for (const listed of [PAGE_ORIGIN, 'https://app.localhost', 'https://other.example']) {
        expect(corsOf(await preflight(path, listed))).toEqual(grant(listed));
      }
    }
    const spark = await postJson(
      '/e',
      { website_id: site.id, type: 'pageview', url: 'https://evil.example/x' },
      evil,
    );
    expect(spark.status).toBe(403);
    expect(corsOf(spark)).toEqual({});
    expect(await spark.json()).toMatchObject({ error: { code: 'forbidden_origin' } });
    const ryb = await postJson(
      '/api/track',
      { site_id: String(site.numeric_id), type: 'pageview', pathname: '/x', event_name: '' },
      evil,
    );
    expect(ryb.status).toBe(403);
    expect(corsOf(ryb)).toEqual({});
    expect(await ryb.json()).toMatchObject({ success: false });

    // `Origin: null` (sandboxed frames, file://) never gets a grant.
    const nul = await preflight('/e', 'null');
    expect(nul.status).toBe(204);
    expect(corsOf(nul)).toEqual({});
    // No Origin (a server-side sender): accepted, no CORS headers needed.
    const server = await postJson('/e', { website_id: site.id, type: 'pageview', url: '/srv' });
    expect(server.status).toBe(202);
    expect(corsOf(server)).toEqual({});

    await sentinel();
    expect(h.produced.filter((p) => p.ev.hostname === 'evil.example')).toHaveLength(0);
  });

  it('lets a collect key scoped to the site replace the Origin check; refuses every other key', async () => {
    const collect = await newKey('collect', [site.id]);
    const wrongSite = await newKey('collect', [other.id]);
    const allSites = await newKey('collect', null);
    const manage = await newKey('manage', [site.id]);
    const revoked = await newKey('collect', [site.id]);
    await apiKeyRepository.revoke(deps.db, revoked.id);
    const foreign = 'https://embed.partner-cdn.example:8443';
    // From a browser page a collect key needs its page's origin listed by some website for the
    // preflight: before that, none; here another website lists it (the key is for `site`).
    expect(corsOf(await preflight('/api/track', foreign))).toEqual({});
    await websiteRepository.update(deps.db, other.id, { allowed_origins: [foreign] });
    await h.origins.refresh();
    expect(corsOf(await preflight('/api/track', foreign))).toEqual(grant(foreign));
    const body = (api_key: string, pathname: string) => ({
      site_id: String(site.numeric_id),
      hostname: 'embed.partner-cdn.example',
      pathname,
      querystring: '',
      screenWidth: 1280,
      screenHeight: 720,
      language: 'en-US',
      page_title: 'Embed',
      referrer: '',
      type: 'pageview',
      event_name: '',
      api_key,
    });

    const ok = await crossOrigin('/api/track', body(collect.key, '/keyed'), foreign);
    expect(ok.status).toBe(200);
    expect(corsOf(ok)).toEqual(grant(foreign));
    const [ev] = await waitFor('the keyed event', async () => {
      const got = h.produced.filter((p) => p.ev.path === '/keyed').map((p) => p.ev);
      return got.length > 0 ? got : undefined;
    });
    expect(ev).toMatchObject({ website_id: site.id, type: 'pageview' });
    expect(JSON.stringify(ev)).not.toContain(collect.key);

    const refused: Array<[string, string]> = [
      ['a collect key of another website', wrongSite.key],
      ['a collect key for every website', allSites.key],
      ['a manage key', manage.key],
      ['a revoked key', revoked.key],
      ['an unknown key', generateApiKey().key],
      ['garbage', 'not-a-key'],
    ];
    for (const [what, key] of refused) {
      // From the foreign origin and even from the site's own origin: a bad key is refused.
      for (const origin of [foreign, PAGE_ORIGIN]) {
        const res = await postJson('/api/track', body(key, '/refused'), origin);
        expect(res.status, `${what} from ${origin}`).toBe(403);
        expect(corsOf(res)).toEqual({});
        expect(await res.json()).toMatchObject({
          success: false,
          details: { code: 'forbidden_api_key', field: 'api_key' },
        });
      }
    }
    await sentinel();
    expect(h.produced.filter((p) => p.ev.path === '/refused')).toHaveLength(0);
  });

  it('serves the one tracker under /script.js, /s.js and /api/script.js within 6 KB gzipped', async () => {
    const got = await Promise.all(
      ['/script.js', '/s.js', '/api/script.js'].map((p) => fetch(`${base}${p}`)),
    );
    const texts = await Promise.all(got.map((r) => r.text()));
    for (const r of got) {
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('javascript');
      expect(r.headers.get('cache-control')).toContain('max-age');
    }
    expect(new Set(texts).size).toBe(1);
    expect(gzipSync(texts[0]!, { level: 9 }).length).toBeLessThanOrEqual(6 * 1024);
  });
});
