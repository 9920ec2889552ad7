import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../logger.js';
import { lsnToBigInt, SERVER_LIFE_SQL, type WalPosition } from './wal-position.js';

/** Something that can run a query: the pool, or a client inside a transaction. */
export interface Queryable {
  query: <R extends pg.QueryResultRow = pg.QueryResultRow>(
    tag: string,
    sql: string,
    params?: unknown[],
  ) => Promise<pg.QueryResult<R>>;
  /**
   * Runs `COPY … FROM STDIN` (`sql`) with `data` in COPY's text format; resolves to the number
   * of rows copied. Timed and tagged like `query`.
   */
  copyIn: (tag: string, sql: string, data: string) => Promise<number>;
}

export interface Db extends Queryable {
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * {@link tx} with `synchronous_commit = off`: the commit returns before its WAL is flushed
   * to disk, and resolves with the WAL position just after the commit. The transaction is
   * visible at once, but durable only once the same server life's flush position (see
   * walRepository.flushed) has reached `wal`: a server crash before that loses it. Callers
   * must not treat the work as done (commit Kafka offsets, acknowledge) until then.
   */
  txAsyncCommit<T>(fn: (q: Queryable) => Promise<T>): Promise<{ result: T; wal: WalPosition }>;
  readonly pool: pg.Pool;
  end(): Promise<void>;
}

// int8 (bigint) counts and ids fit in a JS number for any realistic volume; numeric stays a
// string so money is never rounded in transit.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const SLOW_QUERY_MS = 500;

/** Sends `data` through `COPY … FROM STDIN` on `client`; resolves to the rows copied. */
async function copyOn(client: pg.PoolClient, sql: string, data: string): Promise<number> {
  const stream = client.query(copyFrom(sql));
  stream.end(data);
  await finished(stream);
  return (stream as unknown as { rowCount: number }).rowCount;
}

/** Queries on `runner` (a pool or one client), timed and tagged; slow ones are logged. */
export function tagged(runner: pg.Pool | pg.PoolClient, logger: Logger): Queryable {
  const timed = async <T>(tag: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await run();
    } finally {
      const ms = performance.now() - started;
      if (ms > SLOW_QUERY_MS) logger.warn({ query: tag, ms: Math.round(ms) }, 'slow_query');
    }
  };
  return {
    copyIn: (tag, sql, data) =>
      timed(tag, async () => {
        if (runner instanceof pg.Pool) {
          const client = await runner.connect();
          try {
            return await copyOn(client, sql, data);
          } finally {
            client.release();
          }
        }
        return copyOn(runner, sql, data);
      }),
    query: <R extends pg.QueryResultRow>(tag: string, sql: string, params: unknown[] = []) =>
      timed(tag, () => runner.query<R>(sql, params)),
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
  /** BEGIN, `fn`, then `commit` (a statement or several, in one round trip). */
  async function transaction<T, C>(
    begin: string,
    fn: (q: Queryable) => Promise<T>,
    commit: string,
    after: (committed: unknown) => C,
  ): Promise<{ result: T; committed: C }> {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query(begin);
      const result = await fn(tagged(client, logger));
      return { result, committed: after(await client.query(commit)) };
    } catch (err) {
      // A failed ROLLBACK means the connection is gone: destroy it instead of pooling it.
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }
  return {
    pool,
    query: base.query,
    copyIn: base.copyIn,
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      return (await transaction('BEGIN', fn, 'COMMIT', () => undefined)).result;
    },
    async txAsyncCommit<T>(fn: (q: Queryable) => Promise<T>) {
      const { result, committed } = await transaction(
        'BEGIN; SET LOCAL synchronous_commit TO off',
        fn,
        // The insert position right after COMMIT is past the commit record.
        `COMMIT; SELECT pg_current_wal_insert_lsn()::text AS lsn, ${SERVER_LIFE_SQL} AS server`,
        (res) => {
          const row = (res as Array<pg.QueryResult<{ lsn: string; server: string }>>)[1]!.rows[0]!;
          return { lsn: lsnToBigInt(row.lsn), server: row.server };
        },
      );
      return { result, wal: committed };
    },
    async end() {
      await pool.end();
    },
  };
}
