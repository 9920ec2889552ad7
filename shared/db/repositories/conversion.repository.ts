import { bulkCopy, bulkInsert, bulkInsertReturning, type BulkColumn } from '../bulk.js';
import type { EventCursor, ScannedEvent } from './event.repository.js';
import type { Queryable } from '../pool.js';
import { SqlParams } from '../sql-params.js';

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
  /** The event's arrival sequence within its request: orders same-time events (funnel steps). */
  seq: number;
  /** A funnel step goal's funnel (its matches are walked per session); null for goals. */
  funnel_id: string | null;
  /** The converting event's touch, for last-touch attribution without reading `events`. */
  utm_source: string | null;
  utm_medium: string | null;
  referrer_domain: string | null;
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
  ['seq', 'smallint'],
  ['funnel_id', 'text'],
  ['utm_source', 'text'],
  ['utm_medium', 'text'],
  ['referrer_domain', 'text'],
];

export const conversionRepository = {
  /**
   * Deletes the conversions of these goals (funnel step goals that were replaced or deleted),
   * at most `limit` rows per call; resolves to the rows deleted (call until it is 0).
   */
  async deleteForGoals(q: Queryable, goalIds: readonly string[], limit: number): Promise<number> {
    const res = await q.query(
      'conversion.delete_for_goals',
      `DELETE FROM conversions c USING (
         SELECT goal_id, event_id, event_time FROM conversions
          WHERE goal_id = ANY($1) LIMIT $2) d
        WHERE c.goal_id = d.goal_id AND c.event_id = d.event_id AND c.event_time = d.event_time`,
      [goalIds, limit],
    );
    return res.rowCount ?? 0;
  },

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

// --- Goal backfills: the conversions of a goal recomputed over its website's events ---
/**
 * The statements of a goal backfill, one time slice of one website's events at a time.
 *
 * A slice is `[lo, hi)` on `event_time` (ISO text) within one chunk of `events`, optionally
 * narrowed to the events the processor inserted since `processedSince` (the tail pass). Each
 * statement has its own text for each shape (no `$n IS NULL OR …`), and all are unnamed, so
 * PostgreSQL plans each execution with its parameters (custom plans; the chunks outside the
 * slice are excluded at planning).
 *
 * `condition` renders the goal's condition over the `events` row aliased `e`, adding its
 * parameters to the statement's (`goalConditionSql` of shared/matching is the one renderer; it
 * is passed in so that this module does not depend on the matcher).
 */
export interface BackfillSlice {
  /**
   * The table read: a chunk of `events` as {@link backfillRepository.chunks} names it (or
   * `events` itself). Never user input: it is interpolated into the statement.
   */
  table: string;
  websiteId: string;
  lo: string;
  hi: string;
  /** Only events whose `processed_at` is at or after this instant; null: all of the slice. */
  processedSince: Date | null;
}

/** Renders a SQL boolean over `e.*`, adding its parameters to `p`. */
export type ConditionRenderer = (p: SqlParams) => string;

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** `e.website_id = … AND e.event_time in [lo, hi)` (and the processed_at bound when given). */
function sliceWhere(p: SqlParams, s: BackfillSlice, alias = 'e'): string {
  const parts = [
    `${alias}.website_id = ${p.add(s.websiteId, 'text')}`,
    `${alias}.event_time >= ${p.add(s.lo, 'timestamptz')}`,
    `${alias}.event_time < ${p.add(s.hi, 'timestamptz')}`,
  ];
  if (s.processedSince !== null) {
    parts.push(`${alias}.processed_at >= ${p.add(s.processedSince, 'timestamptz')}`);
  }
  return parts.join(' AND ');
}

/**
 * Deletes the goal's conversions of the slice's events that the condition does not accept.
 * Only conversions whose event this statement's snapshot sees are touched: the live processor
 * writes an event and its conversions in one transaction, so a conversion committed later
 * (for an event this statement did not see) survives.
 */
function deleteUnmatchedSql(p: SqlParams, goalId: string, s: BackfillSlice, cond: string): string {
  const g = p.add(goalId, 'text');
  return `DELETE FROM conversions c USING ${s.table} e
     WHERE c.goal_id = ${g}
       AND c.event_time >= ${p.add(s.lo, 'timestamptz')} AND c.event_time < ${p.add(s.hi, 'timestamptz')}
       AND e.event_id = c.event_id AND e.event_time = c.event_time AND ${sliceWhere(p, s)}
       AND NOT COALESCE((${cond}), false)`;
}

/** The upsert rule shared by both paths: a conversion is corrected only when it differs. */
const UPSERT = `ON CONFLICT (goal_id, event_id, event_time) DO UPDATE SET
         value = EXCLUDED.value, currency = EXCLUDED.currency,
         definition_version = EXCLUDED.definition_version
       WHERE conversions.value IS DISTINCT FROM EXCLUDED.value
          OR conversions.currency IS DISTINCT FROM EXCLUDED.currency
          OR conversions.definition_version IS DISTINCT FROM EXCLUDED.definition_version`;

export interface SliceResult {
  scanned: number;
  written: number;
  deleted: number;
}

export const backfillRepository = {
  /**
   * The chunks of `events`, newest first: each one's table (schema-qualified, quoted as
   * needed) and its time range `[start, end)` as ISO text.
   */
  async chunks(q: Queryable): Promise<Array<{ table: string; start: string; end: string }>> {
    const { rows } = await q.query<{ table: string; start: string; end: string }>(
      'backfill.chunks',
      `SELECT format('%I.%I', chunk_schema, chunk_name) AS table,
              to_char(range_start AT TIME ZONE 'UTC', ${ISO_US}) AS start,
              to_char(range_end AT TIME ZONE 'UTC', ${ISO_US}) AS end
         FROM timescaledb_information.chunks
        WHERE hypertable_schema = current_schema() AND hypertable_name = 'events'
        ORDER BY range_start DESC`,
    );
    return rows;
  },

  /**
   * The set-based slice: one statement that inserts (or corrects) the goal's conversion of
   * every event of the slice the condition accepts, with the constant `value` and `currency`
   * the matcher gives every one of them, deletes the goal's conversions of the slice's events
   * it rejects, and counts the slice's events. Both parts read one snapshot and touch disjoint
   * rows. It only ever waits on rows of committed events, which the live processor never
   * writes again (it writes conversions only for events its own transaction inserted), so the
   * two cannot deadlock.
   */
  async applySlice(
    q: Queryable,
    s: BackfillSlice,
    goal: Pick<
      ConversionRow,
      'goal_id' | 'value' | 'currency' | 'definition_version' | 'funnel_id'
    >,
    condition: ConditionRenderer,
  ): Promise<SliceResult> {
    const p = new SqlParams();
    const cond = condition(p);
    const g = p.add(goal.goal_id, 'text');
    // One scan of the slice: each event with its verdict, then the matches upserted, the
    // rejected ones' conversions deleted, and the count taken from the same rows.
    const sql = `WITH s AS MATERIALIZED (
        SELECT e.event_id, e.event_time, e.session_id, e.is_bot, e.seq, e.utm_source,
               e.utm_medium, e.referrer_domain,
               COALESCE((${cond}), false) AS hit
          FROM ${s.table} e
         WHERE ${sliceWhere(p, s)}
      ), ins AS (
        INSERT INTO conversions
               (goal_id, event_id, event_time, website_id, session_id, value, currency, is_bot,
                definition_version, seq, funnel_id, utm_source, utm_medium, referrer_domain)
        SELECT ${g}, s.event_id, s.event_time, ${p.add(s.websiteId, 'text')}, s.session_id,
               ${p.add(goal.value, 'numeric')}, ${p.add(goal.currency, 'text')}, s.is_bot,
               ${p.add(goal.definition_version, 'integer')}, s.seq,
               ${p.add(goal.funnel_id, 'text')}, s.utm_source, s.utm_medium, s.referrer_domain
          FROM s WHERE s.hit
        ${UPSERT}
        RETURNING 1
      ), del AS (
        DELETE FROM conversions c USING s
         WHERE c.goal_id = ${g}
           AND c.event_time >= ${p.add(s.lo, 'timestamptz')} AND c.event_time < ${p.add(s.hi, 'timestamptz')}
           AND c.event_id = s.event_id AND c.event_time = s.event_time AND NOT s.hit
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM s)::int AS scanned,
             (SELECT count(*) FROM ins)::int AS written,
             (SELECT count(*) FROM del)::int AS deleted`;
    const { rows } = await q.query<SliceResult>('backfill.apply_slice', sql, p.values);
    return rows[0]!;
  },

  /** Number of events in the slice. */
  async countSlice(q: Queryable, s: BackfillSlice): Promise<number> {
    const p = new SqlParams();
    const { rows } = await q.query<{ n: number }>(
      'backfill.count_slice',
      `SELECT count(*)::int AS n FROM ${s.table} e WHERE ${sliceWhere(p, s)}`,
      p.values,
    );
    return rows[0]!.n;
  },

  /**
   * The slice's events as the matcher reads them, all of them or (with `condition`) only
   * those the condition accepts. One statement per slice: the caller keeps slices small.
   */
  async readSlice(
    q: Queryable,
    s: BackfillSlice,
    condition: ConditionRenderer | null,
  ): Promise<ScannedEvent[]> {
    const p = new SqlParams();
    const where = sliceWhere(p, s) + (condition ? ` AND (${condition(p)})` : '');
    const { rows } = await q.query<ScannedEvent>(
      condition ? 'backfill.read_slice_matching' : 'backfill.read_slice',
      `SELECT e.event_id, to_char(e.event_time AT TIME ZONE 'UTC', ${ISO_US}) AS event_time,
              e.website_id, e.session_id, e.type, e.event_name, e.hostname, e.path, e.querystring,
              e.properties, e.is_bot, e.seq, e.utm_source, e.utm_medium, e.referrer_domain
         FROM ${s.table} e WHERE ${where}`,
      p.values,
    );
    return rows;
  },

  /**
   * The goal's conversions in the slice's time range, by event id: what the streamed path
   * compares its matches with. Read after the events, so every conversion of a read event is
   * in it (the live processor commits an event with its conversions).
   */
  async conversionsOfSlice(
    q: Queryable,
    goalId: string,
    s: BackfillSlice,
  ): Promise<Map<string, Pick<ConversionRow, 'value' | 'currency' | 'definition_version'>>> {
    const p = new SqlParams();
    const { rows } = await q.query<{
      event_id: string;
      value: string | null;
      currency: string | null;
      definition_version: number;
    }>(
      'backfill.conversions_of_slice',
      `SELECT event_id::text, value::text, currency, definition_version FROM conversions
        WHERE goal_id = ${p.add(goalId, 'text')}
          AND event_time >= ${p.add(s.lo, 'timestamptz')} AND event_time < ${p.add(s.hi, 'timestamptz')}`,
      p.values,
    );
    return new Map(rows.map((r) => [r.event_id, r]));
  },

  /** Deletes the goal's conversions of the slice's events that `condition` rejects. */
  async deleteUnmatched(
    q: Queryable,
    goalId: string,
    s: BackfillSlice,
    condition: ConditionRenderer,
  ): Promise<number> {
    const p = new SqlParams();
    const cond = condition(p);
    const res = await q.query(
      'backfill.delete_unmatched',
      deleteUnmatchedSql(p, goalId, s, cond),
      p.values,
    );
    return res.rowCount ?? 0;
  },
};
