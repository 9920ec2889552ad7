import type { EventMessage } from '../events/event-message.js';
import { bulkInsert, type BulkColumn } from './bulk.js';
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

export const eventRepository = {
  /** Inserts events; a replayed (event_id, event_time) is ignored. Returns rows inserted. */
  insertMany(q: Queryable, rows: readonly EventRow[]): Promise<number> {
    return bulkInsert(q, 'event.insert_many', 'events', COLUMNS, rows, 'ON CONFLICT DO NOTHING');
  },
};
