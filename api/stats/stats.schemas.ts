import { Type, type Static } from '@sinclair/typebox';
import { RybbitGoalSchema } from '../goals/goal.schemas.js';

/** What the statistics routes answer: one schema per shape, the TypeScript types from them. */

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const SessionSchema = Type.Object({
  session_id: Type.String(),
  user_id: NullableString,
  country: NullableString,
  browser: NullableString,
  operating_system: NullableString,
  device_type: NullableString,
  entry_page: NullableString,
  exit_page: NullableString,
  pageviews: Type.Integer(),
  session_duration: Type.Integer({ description: 'seconds' }),
  session_start: Type.String(),
  session_end: Type.String(),
  referrer: Type.Union([Type.String({ description: 'referrer domain' }), Type.Null()]),
  channel: NullableString,
});

export type SessionView = Static<typeof SessionSchema>;

/** The query parameters of a keyset-paged session list. */
export const SessionPageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
  cursor: Type.Optional(Type.String({ description: '`next_cursor` of the previous page' })),
};

/** A page of sessions and the cursor of the next (null on the last page). */
export const SessionPageSchema = Type.Object({
  data: Type.Array(SessionSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
export type SessionPage = Static<typeof SessionPageSchema>;

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

export const TimeseriesPointSchema = Type.Object({
  period: Type.String({ description: '`YYYY-MM-DD`, or ISO 8601 local time with offset (hour)' }),
  conversions: Type.Integer(),
  converting_sessions: Type.Integer(),
  total_sessions: Type.Integer(),
  conversion_rate: Type.Number(),
  total_value: Nullable(Type.Number()),
});

export const GoalStatsSchema = Type.Object({
  goal_id: Type.String(),
  start_date: Type.String(),
  end_date: Type.String(),
  timezone: Type.String(),
  include_bots: Type.Boolean(),
  conversions: Type.Integer(),
  converting_sessions: Type.Integer(),
  total_sessions: Type.Integer(),
  conversion_rate: Type.Number(),
  prev_conversions: Type.Union([Type.Integer(), Type.Null()]),
  prev_conversion_rate: Nullable(Type.Number()),
  trend_pct: Nullable(Type.Number()),
  currency: Type.String(),
  total_value: Nullable(Type.Number()),
  average_value: Nullable(Type.Number()),
  timeseries: Type.Optional(Type.Array(TimeseriesPointSchema)),
});

/** What an unsaved Rybbit goal would have converted (`POST /api/sites/:site/goals/preview`). */
export const GoalPreviewSchema = Type.Object({
  conversions: Type.Integer({ description: 'sessions with a matching event' }),
  total_sessions: Type.Integer(),
  conversion_rate: Type.Number(),
  series: Type.Array(Type.Object({ time: Type.String(), conversions: Type.Integer() })),
});

/** A goal's metrics in the Rybbit goal list and summary. */
export const RybbitGoalMetricsSchema = Type.Object({
  total_conversions: Type.Integer({ description: 'converting sessions' }),
  total_sessions: Type.Integer(),
  conversion_rate: Type.Number(),
});

/** A Rybbit goal with its metrics (`GET /api/goals/:site`). */
export const RybbitGoalWithMetricsSchema = Type.Composite([
  RybbitGoalSchema,
  RybbitGoalMetricsSchema,
]);

/** A goal of the Rybbit summary: the same, without the full `goalpost` definition. */
export const RybbitSummaryGoalSchema = Type.Composite([
  Type.Omit(RybbitGoalSchema, ['goalpost']),
  RybbitGoalMetricsSchema,
]);

export type TimeseriesPoint = Static<typeof TimeseriesPointSchema>;
export type GoalStats = Static<typeof GoalStatsSchema>;
export type GoalPreview = Static<typeof GoalPreviewSchema>;
export type RybbitGoalMetrics = Static<typeof RybbitGoalMetricsSchema>;
