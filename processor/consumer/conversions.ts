import type { ConversionRow } from '../../shared/db/repositories/conversion.repository.js';
import type { GoalDefinition } from '../../shared/goals/goal-definition.js';

/** The fields of an event a conversion row copies. */
export interface ConvertedEvent {
  event_id: string;
  event_time: string;
  website_id: string;
  session_id: string;
  is_bot: boolean;
  seq?: number;
  utm_source?: string | null;
  utm_medium?: string | null;
  referrer_domain?: string | null;
}

/**
 * The conversion row for an event that matched `goal` with `value`: the one place that decides
 * what a conversion stores, for the live processor and the backfill alike.
 */
export function conversionRow(
  goal: GoalDefinition,
  value: string | null,
  ev: ConvertedEvent,
): ConversionRow {
  return {
    goal_id: goal.id,
    event_id: ev.event_id,
    event_time: ev.event_time,
    website_id: ev.website_id,
    session_id: ev.session_id,
    value,
    currency: goal.value_mode === 'none' ? null : goal.currency,
    is_bot: ev.is_bot,
    definition_version: goal.definition_version,
    seq: ev.seq ?? 0,
    funnel_id: goal.funnel_id ?? null,
    utm_source: ev.utm_source ?? null,
    utm_medium: ev.utm_medium ?? null,
    referrer_domain: ev.referrer_domain ?? null,
  };
}

/**
 * SQLSTATE classes that mean "this data can never be written", however often it is retried:
 * 22 data exception (e.g. a NUL character in jsonb, a numeric out of range), 23 integrity
 * constraint (unique violations cannot happen: every insert is ON CONFLICT DO NOTHING), 54
 * program limit exceeded (e.g. a row too large for an index). Everything else (connection
 * loss, 40001/40P01, 53 resources, 57 operator intervention, 08 connection) is transient.
 */
export function isPermanentDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}
