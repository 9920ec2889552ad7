import { bulkInsert, bulkInsertReturning, type BulkColumn } from './bulk.js';
import type { Queryable } from './pool.js';

export interface ConversionRow {
  goal_id: string;
  event_id: string;
  event_time: string;
  website_id: string;
  session_id: string;
  /** Exact decimal string, or null when the goal has a value but the event carried none. */
  value: string | null;
  currency: string | null;
  is_bot: boolean;
  definition_version: number;
}

const COLUMNS: ReadonlyArray<BulkColumn<ConversionRow>> = [
  ['goal_id', 'text'],
  ['event_id', 'uuid'],
  ['event_time', 'timestamptz'],
  ['website_id', 'text'],
  ['session_id', 'text'],
  ['value', 'numeric'],
  ['currency', 'text'],
  ['is_bot', 'boolean'],
  ['definition_version', 'integer'],
];

/** The conversion columns in insert order (also used by the benchmark's COPY baseline). */
export const CONVERSION_COLUMNS: readonly string[] = COLUMNS.map(([n]) => n);

export const conversionRepository = {
  /** Inserts conversions; a replayed (goal_id, event_id, event_time) is ignored. */
  insertMany(q: Queryable, rows: readonly ConversionRow[]): Promise<number> {
    return bulkInsert(
      q,
      'conversion.insert_many',
      'conversions',
      COLUMNS,
      rows,
      'ON CONFLICT (goal_id, event_id, event_time) DO NOTHING',
    );
  },

  /**
   * Inserts conversions and returns the `goal_id|event_id` keys actually inserted (replays are
   * absent), so that only new conversions are published to the live feed.
   */
  async insertReturningKeys(q: Queryable, rows: readonly ConversionRow[]): Promise<Set<string>> {
    const inserted = await bulkInsertReturning<ConversionRow, { k: string }>(
      q,
      'conversion.insert_returning_keys',
      'conversions',
      COLUMNS,
      rows,
      `ON CONFLICT (goal_id, event_id, event_time) DO NOTHING
       RETURNING goal_id || '|' || event_id::text AS k`,
    );
    return new Set(inserted.map((r) => r.k));
  },

  /** Drops whole chunks of conversions older than `olderThan`; returns the dropped chunks. */
  async dropChunksOlderThan(q: Queryable, olderThan: Date): Promise<string[]> {
    const { rows } = await q.query<{ chunk: string }>(
      'conversion.drop_chunks',
      `SELECT drop_chunks('conversions', older_than => $1::timestamptz)::text AS chunk`,
      [olderThan],
    );
    return rows.map((r) => r.chunk);
  },
};
