import pg from 'pg';
import type { Logger } from '../logger.js';

/** Something that can run a query: the pool, or a client inside a transaction. */
export interface Queryable {
  query: <R extends pg.QueryResultRow = pg.QueryResultRow>(
    tag: string,
    sql: string,
    params?: unknown[],
  ) => Promise<pg.QueryResult<R>>;
}

export interface Db extends Queryable {
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  readonly pool: pg.Pool;
  end(): Promise<void>;
}

// int8 (bigint) counts and ids fit in a JS number for any realistic volume; numeric stays a
// string so money is never rounded in transit.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const SLOW_QUERY_MS = 500;

function tagged(runner: pg.Pool | pg.PoolClient, logger: Logger): Queryable {
  return {
    query: async <R extends pg.QueryResultRow>(
      tag: string,
      sql: string,
      params: unknown[] = [],
    ) => {
      const started = performance.now();
      try {
        return await runner.query<R>(sql, params);
      } finally {
        const ms = performance.now() - started;
        if (ms > SLOW_QUERY_MS) logger.warn({ query: tag, ms: Math.round(ms) }, 'slow_query');
      }
    },
  };
}

/**
 * The one place that creates a pg Pool. Every query goes through `query(tag, …)` so that it
 * is named in logs and timed; SQL is always parameterized.
 */
export function createDb(
  opts: {
    url: string;
    max: number;
    applicationName: string;
    /** Server settings for every connection of this pool (sent at connect, no round trip). */
    settings?: Readonly<Record<string, string>>;
  },
  logger: Logger,
): Db {
  const options = Object.entries(opts.settings ?? {})
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max,
    application_name: opts.applicationName,
    ...(options === '' ? {} : { options }),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (e.g. a database restart) must not crash the process;
  // the next query gets a fresh connection.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'pg_idle_client_error'));
  // A client checked out (e.g. inside tx()) has no listener of the pool's: without one, the
  // server going away between two statements is an unhandled 'error' event that kills the
  // process. The failing query rejects anyway, and callers retry.
  pool.on('connect', (client) => {
    client.on('error', (err) => logger.warn({ err: err.message }, 'pg_client_error'));
  });
  const base = tagged(pool, logger);
  return {
    pool,
    query: base.query,
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(tagged(client, logger));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // A failed ROLLBACK means the connection is gone: destroy it instead of pooling it.
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async end() {
      await pool.end();
    },
  };
}
