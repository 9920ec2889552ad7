import type { Queryable } from '../pool.js';

export const timeZoneRepository = {
  /** Every time zone name this PostgreSQL server knows (`pg_timezone_names`). */
  async names(q: Queryable): Promise<string[]> {
    const { rows } = await q.query<{ name: string }>(
      'time_zone.names',
      'SELECT name FROM pg_timezone_names',
    );
    return rows.map((r) => r.name);
  },
};
