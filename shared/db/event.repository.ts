import type { EventMessage } from '../events/event-message.js';
import { bulkInsert, bulkInsertReturning, type BulkColumn } from './bulk.js';
import type { Queryable } from './pool.js';

export type EventRow = Omit<EventMessage, 'v'>;

const COLUMNS: ReadonlyArray<BulkColumn<EventRow>> = [
  ['event_id', 'uuid'],
  ['event_time', 'timestamptz'],
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

/** The event columns in insert order (also the column list of the benchmark's COPY baseline). */
export const EVENT_COLUMNS: readonly string[] = COLUMNS.map(([n]) => n);

export const eventRepository = {
  /** Inserts events; a replayed (event_id, event_time) is ignored. Returns rows inserted. */
  insertMany(q: Queryable, rows: readonly EventRow[]): Promise<number> {
    return bulkInsert(q, 'event.insert_many', 'events', COLUMNS, rows, 'ON CONFLICT DO NOTHING');
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
