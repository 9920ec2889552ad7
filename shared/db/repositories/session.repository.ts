import { bulkInsert, type BulkColumn } from '../bulk.js';
import type { Queryable } from '../pool.js';

/**
 * What a set of newly inserted events of one session contributes to its row: counts to add,
 * the time span, and the candidates for landing, entry, exit and user id, each tagged with
 * the (time, seq, event_id) that decides between it and the stored one. The landing is the
 * first pageview when the session has one (`landing_pageview`), else the first event.
 */
export interface SessionDelta {
  website_id: string;
  session_id: string;
  visitor_id: string;
  user_id: string | null;
  user_id_at: string | null;
  started_at: string;
  ended_at: string;
  /** The landing event: its id, time and position in its request. */
  first_event_id: string;
  landing_at: string;
  landing_seq: number;
  landing_pageview: boolean;
  entry_page: string | null;
  entry_at: string | null;
  entry_event_id: string | null;
  entry_seq: number;
  exit_page: string | null;
  exit_at: string | null;
  exit_event_id: string | null;
  exit_seq: number;
  pageviews: number;
  events: number;
  hostname: string | null;
  referrer: string | null;
  referrer_domain: string | null;
  channel: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  screen_width: number | null;
  language: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  is_bot: boolean;
}

const COLUMNS: ReadonlyArray<BulkColumn<SessionDelta>> = [
  ['website_id', 'text'],
  ['session_id', 'text'],
  ['visitor_id', 'text'],
  ['user_id', 'text'],
  ['user_id_at', 'timestamptz'],
  ['started_at', 'timestamptz'],
  ['ended_at', 'timestamptz'],
  ['first_event_id', 'uuid'],
  ['landing_at', 'timestamptz'],
  ['landing_seq', 'smallint'],
  ['landing_pageview', 'boolean'],
  ['entry_page', 'text'],
  ['entry_at', 'timestamptz'],
  ['entry_event_id', 'uuid'],
  ['entry_seq', 'smallint'],
  ['exit_page', 'text'],
  ['exit_at', 'timestamptz'],
  ['exit_event_id', 'uuid'],
  ['exit_seq', 'smallint'],
  ['pageviews', 'integer'],
  ['events', 'integer'],
  ['hostname', 'text'],
  ['referrer', 'text'],
  ['referrer_domain', 'text'],
  ['channel', 'text'],
  ['utm_source', 'text'],
  ['utm_medium', 'text'],
  ['utm_campaign', 'text'],
  ['utm_term', 'text'],
  ['utm_content', 'text'],
  ['browser', 'text'],
  ['os', 'text'],
  ['device', 'text'],
  ['screen_width', 'integer'],
  ['language', 'text'],
  ['country', 'text'],
  ['region', 'text'],
  ['city', 'text'],
  ['is_bot', 'boolean'],
];

/** Attributes of the session's landing (see SessionDelta). */
const LANDING = [
  'first_event_id',
  'landing_at',
  'landing_seq',
  'landing_pageview',
  'hostname',
  'referrer',
  'referrer_domain',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'browser',
  'os',
  'device',
  'screen_width',
  'language',
  'country',
  'region',
  'city',
] as const;

// Rows written before migration 013 have no landing_at / landing_pageview: their landing was
// their first event, a pageview exactly when it is also their first pageview.
const STORED_PAGEVIEW =
  'COALESCE(sessions.landing_pageview, sessions.first_event_id = sessions.entry_event_id, false)';
const STORED_LANDING_AT = 'COALESCE(sessions.landing_at, sessions.started_at)';
/** A pageview landing beats an event landing; otherwise the earlier one wins. */
const EARLIER_LANDING = `((EXCLUDED.landing_pageview AND NOT ${STORED_PAGEVIEW}) OR
  (EXCLUDED.landing_pageview = ${STORED_PAGEVIEW} AND
   (EXCLUDED.landing_at, EXCLUDED.landing_seq, EXCLUDED.first_event_id)
     < (${STORED_LANDING_AT}, sessions.landing_seq, sessions.first_event_id)))`;
const EARLIER_ENTRY = `(EXCLUDED.entry_at IS NOT NULL AND (sessions.entry_at IS NULL OR
  (EXCLUDED.entry_at, EXCLUDED.entry_seq, EXCLUDED.entry_event_id)
    < (sessions.entry_at, sessions.entry_seq, sessions.entry_event_id)))`;
const LATER_EXIT = `(EXCLUDED.exit_at IS NOT NULL AND (sessions.exit_at IS NULL OR
  (EXCLUDED.exit_at, EXCLUDED.exit_seq, EXCLUDED.exit_event_id)
    > (sessions.exit_at, sessions.exit_seq, sessions.exit_event_id)))`;
const LATER_USER = `(EXCLUDED.user_id_at IS NOT NULL AND (sessions.user_id_at IS NULL OR
  EXCLUDED.user_id_at >= sessions.user_id_at))`;

const pick = (cond: string, col: string) =>
  `${col} = CASE WHEN ${cond} THEN EXCLUDED.${col} ELSE sessions.${col} END`;

// Every SET expression reads the row as it was before this statement, so their order is free.
const UPSERT_SET = [
  'pageviews = sessions.pageviews + EXCLUDED.pageviews',
  'events = sessions.events + EXCLUDED.events',
  'started_at = LEAST(sessions.started_at, EXCLUDED.started_at)',
  'ended_at = GREATEST(sessions.ended_at, EXCLUDED.ended_at)',
  'is_bot = sessions.is_bot OR EXCLUDED.is_bot',
  ...LANDING.map((c) => pick(EARLIER_LANDING, c)),
  ...['entry_page', 'entry_at', 'entry_seq', 'entry_event_id'].map((c) => pick(EARLIER_ENTRY, c)),
  ...['exit_page', 'exit_at', 'exit_seq', 'exit_event_id'].map((c) => pick(LATER_EXIT, c)),
  ...['user_id', 'user_id_at'].map((c) => pick(LATER_USER, c)),
  'updated_at = now()',
].join(',\n    ');

const UPSERT_SUFFIX = `ON CONFLICT (website_id, session_id) DO UPDATE SET
    ${UPSERT_SET}`;

export const sessionRepository = {
  /**
   * Folds deltas into their session rows. Correct only when each delta is built from events
   * that were inserted into `events` in the same transaction (never from replays): counts are
   * added, the rest is chosen by event time. At most one delta per session per call; callers
   * sort deltas by key so that concurrent transactions lock rows in the same order.
   */
  async upsertDeltas(q: Queryable, deltas: readonly SessionDelta[]): Promise<void> {
    await bulkInsert(q, 'session.upsert_deltas', 'sessions', COLUMNS, deltas, UPSERT_SUFFIX);
  },

  /** Deletes sessions that ended before `cutoff` (retention); returns how many. */
  async deleteEndedBefore(q: Queryable, cutoff: Date): Promise<number> {
    const res = await q.query(
      'session.delete_ended_before',
      'DELETE FROM sessions WHERE ended_at < $1',
      [cutoff],
    );
    return res.rowCount ?? 0;
  },
};
