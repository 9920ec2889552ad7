import { Type, type Static } from '@sinclair/typebox';
import {
  DatabaseEnv,
  JobsEnv,
  LogEnv,
  metricsEnv,
  RedisEnv,
  SECRET,
} from '../shared/config/env.js';

const RANDOM_ENOUGH = 'at least 32 random characters (at least 10 different ones)';

export const ApiConfigSchema = Type.Object({
  ...LogEnv,
  ...DatabaseEnv,
  ...RedisEnv,
  ...JobsEnv,
  ...metricsEnv(9103),
  API_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  API_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3200 }),
  /**
   * Accepted as an all-sites manage key, so automation can start from nothing: at least 32
   * random characters (for example `openssl rand -hex 24`).
   */
  GOALPOST_BOOTSTRAP_API_KEY: Type.Optional(
    Type.String({ minLength: 32, ...SECRET, description: RANDOM_ENOUGH }),
  ),
  /** HMAC secret for live-stream tokens (`POST …/live-token`); unset → random per process. */
  API_LIVE_TOKEN_SECRET: Type.Optional(Type.String({ minLength: 32, ...SECRET })),
  /** Lifetime of a live token; its stream ends then (clients renew and resume). */
  API_LIVE_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 300 }),
  /**
   * The built dashboard (`npm run build`), served at `/app/`; empty = the build beside the
   * API's code (`api/dashboard/dist/`, or `dist/api/dashboard/dist/` when running from dist/).
   */
  API_DASHBOARD_DIR: Type.String({ default: '' }),
  /**
   * How long a goal write waits for Redis (cache invalidation, backfill enqueue) after its
   * commit; past it the write still succeeds and the failure is logged.
   */
  API_REDIS_HANDOFF_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 2_000 }),
  /** Peers whose X-Forwarded-For is believed (IPs/CIDRs, comma-separated); empty: none. */
  API_TRUSTED_PROXIES: Type.String({ default: '' }),
  /** Failed authentications per client address (IPv6: /64) a minute, then 429 for a minute. */
  API_AUTH_FAILURES_PER_MINUTE: Type.Integer({ minimum: 1, default: 20 }),
  /** Requests per API key a minute, then 429 with Retry-After. */
  API_RATE_LIMIT_KEY_PER_MINUTE: Type.Integer({ minimum: 1, default: 1200 }),
  /** Statistics queries are cancelled after this (503 with Retry-After). */
  API_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  /** Live streams open at once per live token, per website and per client address. */
  API_LIVE_STREAMS_PER_TOKEN: Type.Integer({ minimum: 1, default: 10 }),
  API_LIVE_STREAMS_PER_WEBSITE: Type.Integer({ minimum: 1, default: 200 }),
  API_LIVE_STREAMS_PER_CLIENT: Type.Integer({ minimum: 1, default: 50 }),
});
export type ApiConfig = Static<typeof ApiConfigSchema>;

/** What the schema cannot say: the bootstrap key must look random, not `aaaa…` or `1234…`. */
export function checkApiConfig(c: ApiConfig): string[] {
  const key = c.GOALPOST_BOOTSTRAP_API_KEY;
  if (key !== undefined && new Set(key).size < 10) {
    return [`GOALPOST_BOOTSTRAP_API_KEY: must be ${RANDOM_ENOUGH}`];
  }
  return [];
}

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
export const apiDbSettings = (statementTimeoutMs: number) =>
  ({
    jit: 'off',
    work_mem: '64MB',
    random_page_cost: '1.1',
    // A statistics query past this is cancelled (SQLSTATE 57014 → 503 with Retry-After), so
    // one expensive request cannot hold a connection and a core for minutes.
    statement_timeout: String(statementTimeoutMs),
  }) as const;
