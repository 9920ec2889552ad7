import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

// Asymmetric matchers are typed `any`; give them a type once.
const anyString: unknown = expect.any(String);

/** Who may do what (the auth matrix), and the per-website limits under concurrency. */
describe('API keys and limits', () => {
  let f: ApiFixture;
  const siteIds: string[] = [];
  let siteA: { id: string; numeric_id: number };
  let siteB: { id: string; numeric_id: number };

  async function createSite(): Promise<{ id: string; numeric_id: number }> {
    const res = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: bearer(f.bootstrapKey),
      payload: { name: 'Site', domain: 'site.example' },
    });
    const site = res.json<{ data: { id: string; numeric_id: number } }>().data;
    siteIds.push(site.id);
    return site;
  }

  beforeAll(async () => {
    // Enough connections for 60 truly concurrent inserts to contend in the database.
    f = await openApiFixture('auth-limits', { poolMax: 30 });
    siteA = await createSite();
    siteB = await createSite();
  });

  afterAll(async () => {
    await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [siteIds]);
    await f.close();
  });

  const sparkCreate = (
    site: string,
    headers: Record<string, string>,
    payload: object = { name: `g ${Math.random()}`, goal_type: 'event', match_value: 'x' },
  ) => f.app.inject({ method: 'POST', url: `/api/websites/${site}/goals`, headers, payload });
  const rybbitCreate = (
    site: string | number,
    headers: Record<string, string>,
    payload: object = { goalType: 'event', config: { eventName: 'x' } },
  ) => f.app.inject({ method: 'POST', url: `/api/goals/${site}`, headers, payload });

  describe('auth matrix', () => {
    it('401 without a key, with a malformed header, an unknown key or a revoked key — before any validation', async () => {
      const revoked = await f.key();
      await apiKeyRepository.revoke(f.db, revoked.id);
      const cases: Array<Record<string, string>> = [
        {},
        { authorization: 'Basic abc' },
        { authorization: 'Bearer' },
        bearer(`spk_selfhosted_${'1'.repeat(32)}`),
        bearer('not-a-key'),
        bearer(revoked.key),
      ];
      for (const headers of cases) {
        const list = await f.app.inject({ url: '/api/websites', headers });
        expect(list.statusCode).toBe(401);
        expect(list.json()).toEqual({
          error: { code: 'unauthorized', message: anyString, field: null },
        });
        // An invalid body and an unknown website still answer 401 first.
        const spark = await sparkCreate('site_zzzzzzzzzz', headers, { bogus: true });
        expect(spark.statusCode).toBe(401);
        const rybbit = await rybbitCreate(siteA.numeric_id, headers, { bogus: true });
        expect(rybbit.statusCode).toBe(401);
        expect(rybbit.json()).toEqual({ error: 'a valid API key is required' });
        const stats = await f.app.inject({
          url: `/api/websites/${siteA.id}/goals/goal_${'0'.repeat(21)}/stats`,
          headers,
        });
        expect(stats.statusCode).toBe(401);
      }
    });

    it('403 for a collect key on every management route', async () => {
      const collect = await f.key({ kind: 'collect' });
      const h = bearer(collect.key);
      const res = await f.app.inject({ url: '/api/websites', headers: h });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({
        error: { code: 'forbidden', message: 'collect keys may only send events', field: null },
      });
      expect((await sparkCreate(siteA.id, h)).statusCode).toBe(403);
      const r = await rybbitCreate(siteA.numeric_id, h);
      expect(r.statusCode).toBe(403);
      expect(r.json()).toEqual({ error: 'collect keys may only send events' });
    });

    it('a scoped key works on its sites, gets 403 elsewhere and cannot create websites', async () => {
      const scoped = await f.key({ sites: [siteA.id] });
      const h = bearer(scoped.key);
      expect((await sparkCreate(siteA.id, h)).statusCode).toBe(201);
      expect((await rybbitCreate(siteA.numeric_id, h)).statusCode).toBe(201);

      const out = await sparkCreate(siteB.id, h, { nonsense: 1 });
      expect(out.statusCode).toBe(403);
      expect(out.json()).toMatchObject({ error: { code: 'forbidden', field: null } });
      const outRybbit = await rybbitCreate(siteB.numeric_id, h);
      expect(outRybbit.statusCode).toBe(403);
      expect(outRybbit.json()).toEqual({ error: anyString });
      const outGet = await f.app.inject({ url: `/api/websites/${siteB.id}`, headers: h });
      expect(outGet.statusCode).toBe(403);
      // Unknown sites are 404 even for a scoped key.
      expect(
        (await f.app.inject({ url: '/api/websites/site_zzzzzzzzzz', headers: h })).statusCode,
      ).toBe(404);

      const list = await f.app.inject({ url: '/api/websites', headers: h });
      expect(list.json<{ data: Array<{ id: string }> }>().data.map((w) => w.id)).toEqual([
        siteA.id,
      ]);

      const create = await f.app.inject({
        method: 'POST',
        url: '/api/websites',
        headers: h,
        payload: { name: 'x', domain: 'x.example' },
      });
      expect(create.statusCode).toBe(403);
    });

    it('an all-sites key from the database and the bootstrap key manage everything', async () => {
      const all = await f.key();
      for (const key of [all.key, f.bootstrapKey]) {
        expect((await sparkCreate(siteB.id, bearer(key))).statusCode).toBe(201);
        expect((await rybbitCreate(siteB.numeric_id, bearer(key))).statusCode).toBe(201);
      }
    });
  });

  describe('limits under concurrency', () => {
    it('60 simultaneous creates give exactly 50 goals and 10 limit_exceeded', async () => {
      const site = await createSite();
      const h = bearer(f.bootstrapKey);
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          i % 2 === 0
            ? sparkCreate(site.id, h, {
                name: `Goal ${i}`,
                goal_type: 'event',
                match_value: `e${i}`,
              })
            : rybbitCreate(site.numeric_id, h, {
                name: `Goal ${i}`,
                goalType: 'event',
                config: { eventName: `e${i}` },
              }),
        ),
      );
      const created = results.filter((r) => r.statusCode === 201);
      const refused = results.filter((r) => r.statusCode !== 201);
      expect(created).toHaveLength(50);
      expect(refused).toHaveLength(10);
      for (const r of refused) {
        if (Object.hasOwn(r.json<object>(), 'details')) {
          expect(r.statusCode).toBe(400);
          expect(r.json()).toEqual({
            error: 'maximum of 50 goals per website reached',
            details: [{ field: 'goals', message: 'maximum of 50 goals per website reached' }],
          });
        } else {
          expect(r.statusCode).toBe(422);
          expect(r.json()).toEqual({
            error: {
              code: 'limit_exceeded',
              message: 'maximum of 50 goals per website reached',
              field: 'goals',
            },
          });
        }
      }
      const { rows } = await f.db.query<{ n: number }>(
        'test.count',
        'SELECT count(*)::int AS n FROM goals WHERE website_id = $1',
        [site.id],
      );
      expect(rows[0]!.n).toBe(50);
    });

    it('20 simultaneous creates of one name (in different case) give one goal and 19 duplicate_name', async () => {
      const site = await createSite();
      const h = bearer(f.bootstrapKey);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          sparkCreate(site.id, h, {
            name: i % 2 ? 'checkout' : 'CHECKOUT',
            goal_type: 'event',
            match_value: 'x',
          }),
        ),
      );
      expect(results.filter((r) => r.statusCode === 201)).toHaveLength(1);
      const dups = results.filter((r) => r.statusCode === 422);
      expect(dups).toHaveLength(19);
      for (const d of dups)
        expect(d.json()).toMatchObject({ error: { code: 'duplicate_name', field: 'name' } });
    });

    it('simultaneous unnamed Rybbit creates all get distinct default names', async () => {
      const site = await createSite();
      const h = bearer(f.bootstrapKey);
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          rybbitCreate(site.numeric_id, h, { goalType: 'path', config: { pathPattern: '/a' } }),
        ),
      );
      expect(results.map((r) => r.statusCode)).toEqual(Array(8).fill(201));
      const { rows } = await f.db.query<{ name: string }>(
        'test.names',
        'SELECT name FROM goals WHERE website_id = $1 ORDER BY numeric_id',
        [site.id],
      );
      expect(new Set(rows.map((r) => r.name)).size).toBe(8);
      expect(rows.map((r) => r.name)).toContain('path: /a (8)');
    });
  });
});
