/**
 * The shapes of the API's answers, the subset the dashboard reads. They are declared here, not
 * imported, because the API's schema modules reach the server's type graph (pg, Node) that the
 * browser build must not see; `api/dashboard/api-types.test.ts` checks at compile time that the
 * API's own types (`Static<>` of its schemas) fit every one of them, so they cannot drift.
 * Goal types, operators and value modes stay plain strings: the goal form reads the current
 * lists from `/openapi.json` (`goal-options.ts`).
 */

export interface Website {
  id: string;
  numeric_id: number;
  name: string;
  domain: string;
  timezone: string;
  /** Shown as the API names it (the policies are the API's list, BOT_POLICIES). */
  bot_policy: string;
}

export interface PropertyFilter {
  key: string;
  operator: string;
  value?: string | number | boolean;
}

export interface Backfill {
  state: string;
  progress: number;
  events_scanned: number;
}

export interface Goal {
  id: string;
  website_id: string;
  numeric_id: number;
  name: string;
  goal_type: string;
  match_value: string;
  match_operator: string;
  case_sensitive: boolean;
  property_filters: PropertyFilter[];
  value_mode: string;
  fixed_value: number | null;
  value_property_key: string | null;
  currency: string;
  backfill: Backfill | null;
}

export interface TimeseriesPoint {
  period: string;
  conversions: number;
  converting_sessions: number;
  total_sessions: number;
  conversion_rate: number;
  total_value: number | null;
}

export interface GoalStats {
  goal_id: string;
  start_date: string;
  end_date: string;
  timezone: string;
  conversions: number;
  converting_sessions: number;
  total_sessions: number;
  conversion_rate: number;
  prev_conversions: number | null;
  trend_pct: number | null;
  currency: string;
  total_value: number | null;
  average_value: number | null;
  timeseries?: TimeseriesPoint[];
}

export interface Session {
  session_id: string;
  country: string | null;
  browser: string | null;
  operating_system: string | null;
  device_type: string | null;
  entry_page: string | null;
  exit_page: string | null;
  pageviews: number;
  session_duration: number;
  session_start: string;
  session_end: string;
  referrer: string | null;
  channel: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  kind: 'manage' | 'collect';
  key_prefix: string;
  website_ids: string[] | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  key?: string;
}
