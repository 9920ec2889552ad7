import { createBackfillQueue, type BackfillQueue } from '../../shared/jobs/queues.js';
import { buildApiApp } from '../../api/app.js';
import { generateApiKey } from '../../shared/auth/api-keys.js';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import { createDb, type Db } from '../../shared/db/pool.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { createRedis, type Redis } from '../../shared/redis/redis.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';

/** One API app on the real stack, with its own backfill queue namespace. */
export interface ApiFixture {
  app: HttpApp;
  db: Db;
  redis: Redis;
  queue: BackfillQueue;
  logger: Logger;
  bootstrapKey: string;
  /** Creates a key in the database; returns the secret and its id. */
  key(opts?: {
    kind?: 'manage' | 'collect';
    sites?: string[] | null;
  }): Promise<{ key: string; id: string }>;
  close(): Promise<void>;
}

export async function openApiFixture(
  name: string,
  opts: { poolMax?: number; redisUrl?: string; previewTimeoutMs?: number } = {},
): Promise<ApiFixture> {
  const logger = createLogger(`test-${name}`, testConfig.TEST_LOG_LEVEL);
  const db = createDb(
    {
      url: testConfig.DATABASE_URL,
      max: opts.poolMax ?? 5,
      applicationName: `goalpost-test-${name}`,
    },
    logger,
  );
  const redisUrl = opts.redisUrl ?? testConfig.REDIS_URL;
  const redis = createRedis(redisUrl, logger, { name: `test-${name}` });
  const queueRedis = createRedis(redisUrl, logger, { name: `test-${name}-queue` });
  const queue = createBackfillQueue(queueRedis, `test-${name}-${uniqueSuffix()}`);
  queue.on('error', () => undefined);
  if (opts.redisUrl === undefined) await queue.waitUntilReady();
  const bootstrapKey = `spk_selfhosted_${'0f'.repeat(16)}`;
  const app = await buildApiApp({
    db,
    redis,
    backfillQueue: queue,
    logger,
    bootstrapApiKey: bootstrapKey,
    handoffTimeoutMs: 1_000,
    ...(opts.previewTimeoutMs === undefined ? {} : { previewTimeoutMs: opts.previewTimeoutMs }),
    // These suites send many bad keys and requests from one address on purpose; the throttles
    // themselves are tested in abuse-limits.test.ts.
    limits: { authFailuresPerMinute: 100_000, requestsPerKeyPerMinute: 100_000 },
  });
  const keyIds: string[] = [];
  return {
    app,
    db,
    redis,
    queue,
    logger,
    bootstrapKey,
    async key({ kind = 'manage', sites = null } = {}) {
      const k = generateApiKey();
      await apiKeyRepository.create(db, {
        id: k.id,
        name: `test ${name}`,
        key_hash: k.hash,
        key_prefix: k.prefix,
        kind,
        website_ids: sites,
      });
      keyIds.push(k.id);
      return { key: k.key, id: k.id };
    },
    async close() {
      await app.close();
      if (redisUrl === testConfig.REDIS_URL)
        await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close().catch(() => undefined);
      queueRedis.disconnect();
      redis.disconnect();
      if (keyIds.length > 0)
        await db.query('test.cleanup_keys', 'DELETE FROM api_keys WHERE id = ANY($1)', [keyIds]);
      await db.end();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
