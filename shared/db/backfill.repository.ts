import type { ConversionRow } from './conversion.repository.js';
import type { Queryable } from './pool.js';

/** The `goals.backfill` JSON the API shows (state, progress 0..1, counters, times). */
export interface BackfillStatus {
  state: 'queued' | 'running' | 'done' | 'failed';
  progress: number;
  events_scanned: number;
  started_at: string | null;
  finished_at: string | null;
  definition_version: number;
  error?: string;
}

/** An event as the backfill reads it: what matching and the conversion row need. */
export interface BackfillEvent {
  event_id: string;
  /** ISO 8601 UTC with microseconds, exactly the stored timestamptz (round-trips). */
  event_time: string;
  website_id: string;
  session_id: string;
  type: string;
  event_name: string | null;
  path: string | null;
  properties: Record<string, unknown> | null;
  is_bot: boolean;
}

export interface ScanCursor {
  event_time: string;
  event_id: string;
}

const ISO_US = `to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const backfillRepository = {
  /** The goal's current definition version and website, or null when it was deleted. */
  async goalVersion(
    q: Queryable,
    goalId: string,
  ): Promise<{ website_id: string; definition_version: number } | null> {
    const { rows } = await q.query<{ website_id: string; definition_version: number }>(
      'backfill.goal_version',
      'SELECT website_id, definition_version FROM goals WHERE id = $1',
      [goalId],
    );
    return rows[0] ?? null;
  },

  /**
   * Merges `patch` into `goals.backfill`, only while the goal is still at `version`: a job
   * superseded by a newer definition can never overwrite its successor's status. Returns
   * false when the goal moved on (or was deleted).
   */
  async updateStatus(
    q: Queryable,
    goalId: string,
    version: number,
    patch: Partial<BackfillStatus>,
  ): Promise<boolean> {
    const res = await q.query(
      'backfill.update_status',
      `UPDATE goals SET backfill = COALESCE(backfill, '{}'::jsonb) || $3::jsonb
        WHERE id = $1 AND definition_version = $2`,
      [goalId, version, JSON.stringify(patch)],
    );
    return (res.rowCount ?? 0) > 0;
  },

  async status(q: Queryable, goalId: string): Promise<BackfillStatus | null> {
    const { rows } = await q.query<{ backfill: BackfillStatus | null }>(
      'backfill.status',
      'SELECT backfill FROM goals WHERE id = $1',
      [goalId],
    );
    return rows[0]?.backfill ?? null;
  },

  /** First and last event time of a website (null when it has no events). */
  async eventBounds(q: Queryable, websiteId: string): Promise<{ min: string; max: string } | null> {
    const { rows } = await q.query<{ min: string | null; max: string | null }>(
      'backfill.event_bounds',
      `SELECT to_char(min(event_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS min,
              to_char(max(event_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS max
         FROM events WHERE website_id = $1`,
      [websiteId],
    );
    const r = rows[0];
    return r?.min && r.max ? { min: r.min, max: r.max } : null;
  },

  /**
   * One page of a website's events in (event_time, event_id) order after `after`, up to
   * `upTo` inclusive; with `processedSince`, only events the processor inserted since then.
   */
  async scanPage(
    q: Queryable,
    websiteId: string,
    opts: {
      after: ScanCursor | null;
      upTo: string | null;
      processedSince: Date | null;
      limit: number;
    },
  ): Promise<BackfillEvent[]> {
    const { rows } = await q.query<BackfillEvent>(
      'backfill.scan_page',
      `SELECT event_id, ${ISO_US} AS event_time, website_id, session_id, type, event_name, path,
              properties, is_bot
         FROM events
        WHERE website_id = $1
          AND ($2::timestamptz IS NULL OR (event_time, event_id) > ($2::timestamptz, $3::uuid))
          AND ($2::timestamptz IS NULL OR event_time >= $2::timestamptz)
          AND ($4::timestamptz IS NULL OR event_time <= $4::timestamptz)
          AND ($5::timestamptz IS NULL OR processed_at >= $5::timestamptz)
        ORDER BY event_time, event_id
        LIMIT $6`,
      [
        websiteId,
        opts.after?.event_time ?? null,
        opts.after?.event_id ?? null,
        opts.upTo,
        opts.processedSince,
        opts.limit,
      ],
    );
    return rows;
  },

  /**
   * Makes the goal's conversions for exactly these scanned events agree with the current
   * definition: deletes those of `unmatched` events, inserts or corrects (value, currency,
   * version) those of `matched`. Only the scanned events are touched, so conversions the
   * live processor writes concurrently for other events are never removed. Call in one
   * transaction per page.
   */
  async replaceConversions(
    q: Queryable,
    goalId: string,
    unmatched: readonly ScanCursor[],
    matched: readonly ConversionRow[],
  ): Promise<{ deleted: number; written: number }> {
    let deleted = 0;
    if (unmatched.length > 0) {
      const res = await q.query(
        'backfill.delete_unmatched',
        `DELETE FROM conversions c
          USING unnest($2::uuid[], $3::timestamptz[]) AS u(event_id, event_time)
          WHERE c.goal_id = $1 AND c.event_id = u.event_id AND c.event_time = u.event_time
            AND c.event_time >= $4::timestamptz AND c.event_time <= $5::timestamptz`,
        [
          goalId,
          unmatched.map((u) => u.event_id),
          unmatched.map((u) => u.event_time),
          unmatched[0]!.event_time,
          unmatched[unmatched.length - 1]!.event_time,
        ],
      );
      deleted = res.rowCount ?? 0;
    }
    let written = 0;
    if (matched.length > 0) {
      const res = await q.query(
        'backfill.upsert_matched',
        `INSERT INTO conversions (goal_id, event_id, event_time, website_id, session_id, value,
                                  currency, is_bot, definition_version)
         SELECT * FROM unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[],
                              $6::numeric[], $7::text[], $8::boolean[], $9::integer[])
         ON CONFLICT (goal_id, event_id, event_time) DO UPDATE SET
           value = EXCLUDED.value, currency = EXCLUDED.currency,
           definition_version = EXCLUDED.definition_version
         WHERE conversions.value IS DISTINCT FROM EXCLUDED.value
            OR conversions.currency IS DISTINCT FROM EXCLUDED.currency
            OR conversions.definition_version IS DISTINCT FROM EXCLUDED.definition_version`,
        [
          matched.map((m) => m.goal_id),
          matched.map((m) => m.event_id),
          matched.map((m) => m.event_time),
          matched.map((m) => m.website_id),
          matched.map((m) => m.session_id),
          matched.map((m) => m.value),
          matched.map((m) => m.currency),
          matched.map((m) => m.is_bot),
          matched.map((m) => m.definition_version),
        ],
      );
      written = res.rowCount ?? 0;
    }
    return { deleted, written };
  },
};
