import type { EventMessage } from '../../events/event-message.js';
import { bulkCopy, bulkInsertReturning, type BulkColumn } from '../bulk.js';
import type { Queryable } from '../pool.js';

export type EventRow = Omit<EventMessage, 'v' | 'seq'> & { seq: number };

/** The row of a decoded message (`seq` absent in messages of earlier versions: 0). */
export function eventRowOf({ v: _v, seq, ...fields }: EventMessage): EventRow {
  return { ...fields, seq: seq ?? 0 };
}

/** An event as the backfill reads it: what matching and the conversion row need. */
export interface ScannedEvent {
  event_id: string;
  /** ISO 8601 UTC with microseconds, exactly the stored timestamptz (round-trips). */
  event_time: string;
  website_id: string;
  session_id: string;
  type: string;
  event_name: string | null;
  hostname: string | null;
  path: string | null;
  querystring: string | null;
  properties: Record<string, unknown> | null;
  is_bot: boolean;
  seq: number;
  utm_source: string | null;
  utm_medium: string | null;
  referrer_domain: string | null;
}

/** An event's key: (event_id, event_time) is unique in `events`. */
export interface EventCursor {
  event_time: string;
  event_id: string;
}

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

const COLUMNS: ReadonlyArray<BulkColumn<EventRow>> = [
  ['event_id', 'uuid'],
  ['event_time', 'timestamptz'],
  ['seq', 'smallint'],
  ['received_at', 'timestamptz'],
  ['website_id', 'text'],
  ['session_id', 'text'],
  ['visitor_id', 'text'],
  ['user_id', 'text'],
  ['type', 'text'],
  ['event_name', 'text'],
  ['hostname', 'text'],
  ['path', 'text'],
  ['querystring', 'text'],
  ['page_title', 'text'],
  ['referrer', 'text'],
  ['referrer_domain', 'text'],
  ['channel', 'text'],
  ['utm_source', 'text'],
  ['utm_medium', 'text'],
  ['utm_campaign', 'text'],
  ['utm_term', 'text'],
  ['utm_content', 'text'],
  ['properties', 'jsonb'],
  ['browser', 'text'],
  ['os', 'text'],
  ['device', 'text'],
  ['screen_width', 'integer'],
  ['language', 'text'],
  ['country', 'text'],
  ['region', 'text'],
  ['city', 'text'],
  ['bot_score', 'smallint'],
  ['is_bot', 'boolean'],
];

export const eventRepository = {
  /**
   * Inserts events that are new in the normal case with COPY; a replay (an event already
   * stored) fails it with a unique violation (see bulkCopy), and the caller then writes the
   * batch with {@link insertReturningIds} instead. Resolves to the rows copied.
   */
  copyNew(q: Queryable, rows: readonly EventRow[]): Promise<number> {
    return bulkCopy(q, 'event.copy_new', 'events', COLUMNS, rows);
  },

  /**
   * Inserts events and returns the ids of those actually inserted: an event already stored (a
   * replay) is absent from the result, so callers derive session updates and conversions from
   * new rows only, in the same transaction. One statement, one array parameter per column.
   */
  async insertReturningIds(q: Queryable, rows: readonly EventRow[]): Promise<Set<string>> {
    const inserted = await bulkInsertReturning<EventRow, { event_id: string }>(
      q,
      'event.insert_returning_ids',
      'events',
      COLUMNS,
      rows,
      'ON CONFLICT DO NOTHING RETURNING event_id',
    );
    return new Set(inserted.map((r) => r.event_id));
  },

  /**
   * First and last event time of a website (null when it has no events). Each bound is an
   * ORDER BY … LIMIT 1 on the (website_id, event_time) index: TimescaleDB's ordered append
   * stops at the first chunk that has one, where `min()`/`max()` probe every chunk.
   */
  async bounds(q: Queryable, websiteId: string): Promise<{ min: string; max: string } | null> {
    const { rows } = await q.query<{ min: string | null; max: string | null }>(
      'event.bounds',
      `SELECT to_char((SELECT event_time FROM events WHERE website_id = $1
                        ORDER BY event_time ASC LIMIT 1) AT TIME ZONE 'UTC', ${ISO_US}) AS min,
              to_char((SELECT event_time FROM events WHERE website_id = $1
                        ORDER BY event_time DESC LIMIT 1) AT TIME ZONE 'UTC', ${ISO_US}) AS max`,
      [websiteId],
    );
    const r = rows[0];
    return r?.min && r.max ? { min: r.min, max: r.max } : null;
  },

  /** Drops whole chunks of events older than `olderThan`; returns the dropped chunk names. */
  async dropChunksOlderThan(q: Queryable, olderThan: Date): Promise<string[]> {
    const { rows } = await q.query<{ chunk: string }>(
      'event.drop_chunks',
      `SELECT drop_chunks('events', older_than => $1::timestamptz)::text AS chunk`,
      [olderThan],
    );
    return rows.map((r) => r.chunk);
  },
};
