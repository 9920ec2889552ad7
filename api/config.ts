import { Type, type Static } from '@sinclair/typebox';
import { DatabaseEnv, JobsEnv, LogEnv, RedisEnv } from '../shared/config/env.js';

export const ApiConfigSchema = Type.Object({
  ...LogEnv,
  ...DatabaseEnv,
  ...RedisEnv,
  ...JobsEnv,
  API_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  API_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3200 }),
  /** Accepted as an all-sites manage key, so automation can start from nothing. */
  GOALPOST_BOOTSTRAP_API_KEY: Type.Optional(Type.String({ minLength: 16 })),
  /** HMAC secret for live-stream tokens (`POST …/live-token`); unset → random per process. */
  API_LIVE_TOKEN_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  /** Lifetime of a live-stream token; the dashboard renews its token before it expires. */
  API_LIVE_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 300 }),
  /**
   * The built dashboard (`npm run build:dashboard`), served at `/app/`; empty = the repository's
   * `dist/dashboard/`, found from this file, not from the working directory.
   */
  API_DASHBOARD_DIR: Type.String({ default: '' }),
  /**
   * How long a goal write waits for Redis (cache invalidation, backfill enqueue) after its
   * commit; past it the write still succeeds and the failure is logged.
   */
  API_REDIS_HANDOFF_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 2_000 }),
});
export type ApiConfig = Static<typeof ApiConfigSchema>;

/**
 * Settings of the API's database connections, which run the statistics: short analytical
 * queries over tens or hundreds of thousands of rows. JIT compilation costs more (tens of ms)
 * than it saves at that size, and hash aggregates of a goal list need more than the default
 * 4 MB of work memory to stay off disk. random_page_cost 1.1 (SSD / cached data, not the
 * spinning-disk default of 4) lets the planner probe sessions by primary key for a goal's
 * converting sessions instead of reading all of them. Per connection, so the server's defaults
 * stay as the operator set them for everything else. They travel as the startup `options`
 * parameter: behind PgBouncer, list `options` in its `ignore_startup_parameters` and set them
 * with `ALTER ROLE … SET` instead.
 */
export const API_DB_SETTINGS = { jit: 'off', work_mem: '64MB', random_page_cost: '1.1' } as const;
