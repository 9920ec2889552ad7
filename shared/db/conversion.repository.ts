import { bulkCopy, bulkInsert, bulkInsertReturning, type BulkColumn } from './bulk.js';
import type { EventCursor } from './event.repository.js';
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

export const CONVERSION_COLUMNS: readonly string[] = COLUMNS.map(([n]) => n);

export const conversionRepository = {
  /** Inserts conversions that are new in the normal case with COPY (see event.copyNew). */
  copyNew(q: Queryable, rows: readonly ConversionRow[]): Promise<number> {
    return bulkCopy(q, 'conversion.copy_new', 'conversions', COLUMNS, rows);
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

  /**
   * Makes a goal's conversions for exactly these scanned events agree with its current
   * definition: deletes those of `unmatched` events, inserts or corrects (value, currency,
   * version) those of `matched`. Only the scanned events are touched, so conversions the live
   * processor writes concurrently for other events are never removed. Call in one transaction
   * per page.
   */
  async replaceForEvents(
    q: Queryable,
    goalId: string,
    unmatched: readonly EventCursor[],
    matched: readonly ConversionRow[],
  ): Promise<{ deleted: number; written: number }> {
    let deleted = 0;
    if (unmatched.length > 0) {
      // Bounds of the listed event times (ISO text of one format: orders like the instants),
      // so only the chunks that can hold them are searched.
      let lo = unmatched[0]!.event_time;
      let hi = lo;
      for (const u of unmatched) {
        if (u.event_time < lo) lo = u.event_time;
        if (u.event_time > hi) hi = u.event_time;
      }
      const res = await q.query(
        'conversion.delete_for_events',
        `DELETE FROM conversions c
          USING unnest($2::uuid[], $3::timestamptz[]) AS u(event_id, event_time)
          WHERE c.goal_id = $1 AND c.event_id = u.event_id AND c.event_time = u.event_time
            AND c.event_time >= $4::timestamptz AND c.event_time <= $5::timestamptz`,
        [goalId, unmatched.map((u) => u.event_id), unmatched.map((u) => u.event_time), lo, hi],
      );
      deleted = res.rowCount ?? 0;
    }
    const written = await bulkInsert(
      q,
      'conversion.upsert_for_events',
      'conversions',
      COLUMNS,
      matched,
      `ON CONFLICT (goal_id, event_id, event_time) DO UPDATE SET
         value = EXCLUDED.value, currency = EXCLUDED.currency,
         definition_version = EXCLUDED.definition_version
       WHERE conversions.value IS DISTINCT FROM EXCLUDED.value
          OR conversions.currency IS DISTINCT FROM EXCLUDED.currency
          OR conversions.definition_version IS DISTINCT FROM EXCLUDED.definition_version`,
    );
    return { deleted, written };
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
