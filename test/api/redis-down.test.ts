import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { GoalCache } from '../../processor/goals/goal.cache.js';
import { createRedis } from '../../shared/redis/redis.js';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

/** Nothing listens here: every Redis command fails (connection refused). */
const DEAD_REDIS = 'redis://127.0.0.1:1';

/**
 * Redis down: goal writes still succeed (the invalidation and enqueue failures are logged and
 * the backfill stays `queued` for the start-up re-enqueue), and goal definitions come from the
 * database.
 */
describe('Redis down', () => {
  let f: ApiFixture;
  let siteId = '';

  beforeAll(async () => {
    f = await openApiFixture('redis-down', { redisUrl: DEAD_REDIS });
  });

  afterAll(async () => {
    if (siteId) await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [siteId]);
    await f.close();
  });

  it('goal writes succeed in both dialects and a GoalCache serves definitions from the database', async () => {
    const h = bearer(f.bootstrapKey);
    const site = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: h,
      payload: { name: 'Offline', domain: 'offline.example' },
    });
    expect(site.statusCode).toBe(201);
    const s = site.json<{ data: { id: string; numeric_id: number } }>().data;
    siteId = s.id;

    const created = await f.app.inject({
      method: 'POST',
      url: `/api/websites/${s.id}/goals`,
      headers: h,
      payload: { name: 'Thanks', goal_type: 'pageview', match_value: '/thanks' },
    });
    expect(created.statusCode).toBe(201);
    const goal = created.json<{ data: { id: string; backfill: { state: string } } }>().data;
    expect(goal.backfill.state).toBe('queued');

    const rybbit = await f.app.inject({
      method: 'POST',
      url: `/api/goals/${s.numeric_id}`,
      headers: h,
      payload: { goalType: 'event', config: { eventName: 'signup' } },
    });
    expect(rybbit.statusCode).toBe(201);

    const updated = await f.app.inject({
      method: 'PUT',
      url: `/api/websites/${s.id}/goals/${goal.id}`,
      headers: h,
      payload: { match_value: '/thank-you' },
    });
    expect(updated.statusCode).toBe(200);

    // The job never reached Redis: the database still says queued, which is what the
    // start-up re-enqueue (requeuePendingBackfills) looks for.
    const pending = await goalRepository.listQueuedBackfills(f.db);
    expect(pending).toEqual(
      expect.arrayContaining([{ website_id: s.id, goal_id: goal.id, definition_version: 2 }]),
    );

    const deadRedis = createRedis(DEAD_REDIS, f.logger, { name: 'test-dead-cache' });
    try {
      const cache = new GoalCache({ db: f.db, redis: deadRedis, logger: f.logger }, 0);
      const defs = (await cache.get(s.id)).map((c) => c.goal);
      expect(defs.map((d) => d.match_value).sort()).toEqual(['/thank-you', 'signup']);
      // A later change is seen on the next read, still without Redis.
      await f.app.inject({
        method: 'DELETE',
        url: `/api/websites/${s.id}/goals/${goal.id}`,
        headers: h,
      });
      expect((await cache.get(s.id)).map((c) => c.goal.match_value)).toEqual(['signup']);
    } finally {
      deadRedis.disconnect();
    }
  });
});
