import type { Queryable } from '../pool.js';
import { lsnToBigInt, SERVER_LIFE_SQL, type WalPosition } from '../wal-position.js';

export const walRepository = {
  /** How far the server's WAL is flushed to disk: commits of this life up to here survive. */
  async flushed(q: Queryable): Promise<WalPosition> {
    const { rows } = await q.query<{ lsn: string; server: string }>(
      'wal.flushed',
      `SELECT pg_current_wal_flush_lsn()::text AS lsn, ${SERVER_LIFE_SQL} AS server`,
    );
    return { lsn: lsnToBigInt(rows[0]!.lsn), server: rows[0]!.server };
  },
};
