import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { generateApiKey } from '../../shared/auth/api-keys.js';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import { createDb, type Db } from '../../shared/db/pool.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newEventId, newGoalId, newWebsiteId } from '../../shared/ids.js';
import { liveStreamKey, publishConversions } from '../../shared/live/live-feed.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { testConfig } from '../helpers/test-env.js';

const KEY = `spk_selfhosted_${'4e'.repeat(16)}`;

/** Opens an SSE stream and collects its events as they come. */
function openStream(url: string, headers: Record<string, string> = {}) {
  const ctrl = new AbortController();
  const events: Array<{ id?: string; event?: string; data?: string }> = [];
  let ended = false;
  const ready = fetch(url, { headers, signal: ctrl.signal }).then(async (res) => {
    if (res.status !== 200) return res.status;
    void (async () => {
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const dec = new TextDecoder();
      let buf = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) !== -1) {
            const ev: Record<string, string> = {};
            for (const line of buf.slice(0, i).split('\n')) {
              if (line.startsWith(':')) continue;
              const [k, ...rest] = line.split(': ');
              ev[k!] = rest.join(': ');
            }
            buf = buf.slice(i + 2);
            if (ev.event) events.push(ev);
          }
        }
      } catch {
        // aborted
      }
      ended = true;
    })();
    return 200;
  });
  return { ready, events, ended: () => ended, close: () => ctrl.abort() };
}

/**
 * Abuse is capped (issue 12, section 3): live streams per token, website and client address;
 * streams end when their token expires or the key behind them is revoked, and a reconnect with
 * Last-Event-ID loses nothing; failed authentications are throttled per address without
 * affecting valid keys; each key has a request limit; a query past the statement timeout is a
 * 503 with Retry-After.
 */
describe('API abuse limits', () => {
  let deps: TestDeps;
  let slowDb: Db;
  let api: HttpApp;
  let url: string;
  const site = newWebsiteId();
  const keyIds: string[] = [];

  async function key(): Promise<{ key: string; id: string }> {
    const k = generateApiKey();
    await apiKeyRepository.create(deps.db, {
      id: k.id,
      name: 'abuse test',
      key_hash: k.hash,
      key_prefix: k.prefix,
      kind: 'manage',
      website_ids: null,
    });
    keyIds.push(k.id);
    return { key: k.key, id: k.id };
  }

  const token = async (k: string) =>
    (
      (await (
        await fetch(`${url}/api/websites/${site}/live-token`, {
          method: 'POST',
          headers: { authorization: `Bearer ${k}` },
        })
      ).json()) as { data: { token: string } }
    ).data.token;

  beforeAll(async () => {
    deps = openTestDeps('abuse');
    await websiteRepository.create(deps.db, { id: site, name: 'Abuse', domain: 'abuse.example' });
    slowDb = createDb(
      {
        url: testConfig.DATABASE_URL,
        max: 5,
        applicationName: 'goalpost-test-abuse',
        settings: { statement_timeout: '500' },
      },
      deps.logger,
    );
    api = await buildApiApp({
      db: slowDb,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
      liveTokenSecret: 'y'.repeat(40),
      liveTokenTtlMs: 3_000,
      liveHeartbeatMs: 200,
      // Streams from several client addresses (X-Forwarded-For) for the per-website cap.
      trustedProxies: ['127.0.0.1'],
      limits: {
        authFailuresPerMinute: 5,
        requestsPerKeyPerMinute: 40,
        liveStreamsPerToken: 2,
        liveStreamsPerWebsite: 4,
        liveStreamsPerClient: 3,
      },
    });
    url = await api.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await api?.close();
    await deps.redis.del(liveStreamKey(site));
    await deps.db.query('test.cleanup', 'DELETE FROM api_keys WHERE id = ANY($1)', [keyIds]);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [site]);
    await slowDb.end();
    await deps.close();
  });

  it('caps live streams per token and per client address, sharing one Redis reader', async () => {
    const k = await key();
    const t = await token(k.key);
    const live = `${url}/api/websites/${site}/goals/live?token=${t}`;
    const a = openStream(live);
    const b = openStream(live);
    expect(await a.ready).toBe(200);
    expect(await b.ready).toBe(200);
    const third = await fetch(live);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await third.json()).toMatchObject({ error: { code: 'rate_limited' } });
    // Another token, same client address: the address allows 3.
    const c = openStream(`${url}/api/websites/${site}/goals/live?token=${await token(k.key)}`);
    expect(await c.ready).toBe(200);
    const d = await fetch(`${url}/api/websites/${site}/goals/live?token=${await token(k.key)}`);
    expect(d.status).toBe(429);
    // Three streams of one website: one blocking reader beside the app's own connection.
    const clients = (await deps.redis.client('LIST')) as string;
    expect(clients.split('\n').filter((l) => / name=goalpost-test-abuse /.test(l))).toHaveLength(2);
    // One conversion reaches all three streams (one reader fans out).
    await publishConversions(deps.redis, [
      {
        website_id: site,
        goal_id: newGoalId(),
        event_id: newEventId(),
        value: null,
        currency: null,
        time: new Date().toISOString(),
        country: null,
        page: null,
      },
    ]);
    for (const s of [a, b, c]) {
      await waitFor('conversion on every stream', async () =>
        s.events.some((e) => e.event === 'conversion') ? true : undefined,
      );
    }
    for (const s of [a, b, c]) s.close();
    // Closed streams give their slots back.
    await waitFor('slots released', async () => {
      const res = await fetch(live, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
      if (res?.status !== 200) return undefined;
      await res.body?.cancel();
      return true;
    });
  });

  it('caps live streams per website, whatever the tokens and client addresses', async () => {
    const k = await key();
    const from = (n: number) => ({ 'x-forwarded-for': `203.0.113.${n}` });
    const liveUrl = async () =>
      `${url}/api/websites/${site}/goals/live?token=${await token(k.key)}`;
    // Four streams, each its own token and address: within every per-token and per-client cap.
    const streams = [];
    for (let n = 1; n <= 4; n++) streams.push(openStream(await liveUrl(), from(n)));
    for (const s of streams) expect(await s.ready).toBe(200);
    const fifth = await fetch(await liveUrl(), { headers: from(5) });
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await fifth.json()).toMatchObject({ error: { code: 'rate_limited' } });
    for (const s of streams) s.close();
    await waitFor('website slots released', async () => {
      const res = await fetch(await liveUrl(), {
        headers: from(6),
        signal: AbortSignal.timeout(2_000),
      }).catch(() => null);
      if (res?.status !== 200) return undefined;
      await res.body?.cancel();
      return true;
    });
  });

  it('ends a stream when its token expires; a reconnect with Last-Event-ID loses nothing', async () => {
    const k = await key();
    const s = openStream(`${url}/api/websites/${site}/goals/live?token=${await token(k.key)}`);
    expect(await s.ready).toBe(200);
    const publish = (n: number) =>
      publishConversions(
        deps.redis,
        Array.from({ length: n }, () => ({
          website_id: site,
          goal_id: newGoalId(),
          event_id: newEventId(),
          value: null,
          currency: null,
          time: new Date().toISOString(),
          country: null,
          page: null,
        })),
      );
    await publish(1);
    await waitFor('first conversion', async () =>
      s.events.some((e) => e.event === 'conversion') ? true : undefined,
    );
    await waitFor('token expiry ends the stream', async () => (s.ended() ? true : undefined), {
      timeoutMs: 10_000,
    });
    expect(s.events.at(-1)).toMatchObject({ event: 'end' });
    expect(JSON.parse(s.events.at(-1)!.data!)).toEqual({ reason: 'token_expired' });
    const lastId = s.events.filter((e) => e.event === 'conversion').at(-1)!.id!;
    await publish(3); // while disconnected
    const r = openStream(`${url}/api/websites/${site}/goals/live?token=${await token(k.key)}`, {
      'last-event-id': lastId,
    });
    expect(await r.ready).toBe(200);
    await waitFor('the three missed conversions', async () =>
      r.events.filter((e) => e.event === 'conversion').length >= 3 ? true : undefined,
    );
    r.close();
  });

  it('ends a stream when the key behind its token is revoked', async () => {
    const k = await key();
    const s = openStream(`${url}/api/websites/${site}/goals/live?token=${await token(k.key)}`);
    expect(await s.ready).toBe(200);
    await apiKeyRepository.revoke(deps.db, k.id);
    await waitFor('revocation ends the stream', async () => (s.ended() ? true : undefined));
    expect(JSON.parse(s.events.at(-1)!.data!)).toEqual({ reason: 'key_revoked' });
  });

  it('throttles failed authentications per address; valid keys keep working', async () => {
    const bad = { authorization: `Bearer spk_selfhosted_${'9'.repeat(32)}` };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await fetch(`${url}/api/websites`, { headers: bad })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const blocked = await fetch(`${url}/api/websites`, { headers: bad });
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    const valid = await fetch(`${url}/api/websites`, {
      headers: { authorization: `Bearer ${(await key()).key}` },
    });
    expect(valid.status).toBe(200);
  });

  it('limits each key to its requests per minute, with Retry-After', async () => {
    const k = await key();
    const statuses: number[] = [];
    for (let i = 0; i < 42; i++) {
      statuses.push(
        (await fetch(`${url}/api/websites`, { headers: { authorization: `Bearer ${k.key}` } }))
          .status,
      );
    }
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(40)).toEqual([429, 429]);
    const other = await fetch(`${url}/api/websites`, {
      headers: { authorization: `Bearer ${(await key()).key}` },
    });
    expect(other.status).toBe(200);
  });

  it('a query past statement_timeout answers 503 with Retry-After, never 500', async () => {
    // pg_sleep inside the timed-out connection settings stands in for an expensive query.
    const res = await slowDb
      .query('test.slow', 'SELECT pg_sleep(2)')
      .then(() => 'finished')
      .catch((e: { code?: string }) => e.code);
    expect(res).toBe('57014');
    const app = await buildApiApp({
      db: slowDb,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
    });
    app.get('/api/test-slow', async () => {
      await slowDb.query('test.slow', 'SELECT pg_sleep(2)');
      return {};
    });
    const r = await app.inject({ url: '/api/test-slow' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('10');
    expect(r.json()).toEqual({
      error: { code: 'query_timeout', message: expect.any(String) as string, field: null },
    });
    await app.close();
  });
});
