import { lsnToBigInt, type Queryable } from './pool.js';

export const walRepository = {
  /** How far the server's WAL is flushed to disk: commits up to here survive a crash. */
  async flushLsn(q: Queryable): Promise<bigint> {
    const { rows } = await q.query<{ lsn: string }>(
      'wal.flush_lsn',
      'SELECT pg_current_wal_flush_lsn()::text AS lsn',
    );
    return lsnToBigInt(rows[0]!.lsn);
  },
};
