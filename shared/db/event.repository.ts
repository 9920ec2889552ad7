import type { EventMessage } from '../events/event-message.js';
import { bulkCopy, bulkInsertReturning, type BulkColumn } from './bulk.js';
import type { Queryable } from './pool.js';

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
}

/** A position in (event_time, event_id) order. */
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

export const EVENT_COLUMNS: readonly string[] = COLUMNS.map(([n]) => n);

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

  /** First and last event time of a website (null when it has no events). */
  async bounds(q: Queryable, websiteId: string): Promise<{ min: string; max: string } | null> {
    const { rows } = await q.query<{ min: string | null; max: string | null }>(
      'event.bounds',
      `SELECT to_char(min(event_time) AT TIME ZONE 'UTC', ${ISO_US}) AS min,
              to_char(max(event_time) AT TIME ZONE 'UTC', ${ISO_US}) AS max
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
      after: EventCursor | null;
      upTo: string | null;
      processedSince: Date | null;
      limit: number;
    },
  ): Promise<ScannedEvent[]> {
    const { rows } = await q.query<ScannedEvent>(
      'event.scan_page',
      `SELECT event_id, to_char(event_time AT TIME ZONE 'UTC', ${ISO_US}) AS event_time,
              website_id, session_id, type, event_name, hostname, path, querystring, properties,
              is_bot
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
