import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';

export type { Redis };

/**
 * Creates an ioredis client. `forBullMQ` clients must never give up on a command
 * (`maxRetriesPerRequest: null`, as BullMQ workers require); ordinary clients fail fast so
 * callers can fall back (e.g. the goal cache reads the database when Redis is down).
 */
export function createRedis(
  url: string,
  logger: Logger,
  opts: { name: string; forBullMQ?: boolean } & RedisOptions,
): Redis {
  const { name, forBullMQ, ...rest } = opts;
  const client = new Redis(url, {
    connectionName: `goalpost-${name}`,
    lazyConnect: false,
    enableOfflineQueue: forBullMQ ?? false,
    maxRetriesPerRequest: forBullMQ ? null : 1,
    connectTimeout: 3_000,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...rest,
  });
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    // ioredis reconnects by itself; log at most once every 10 s while it is down.
    if (Date.now() - lastLogged > 10_000) {
      lastLogged = Date.now();
      logger.warn({ redis: name, err: err.message }, 'redis_error');
    }
  });
  return client;
}
