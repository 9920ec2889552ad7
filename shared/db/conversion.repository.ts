import { bulkInsert, type BulkColumn } from './bulk.js';
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
};
