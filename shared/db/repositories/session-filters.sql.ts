import { validationError } from '../../errors/errors.js';
import { compileRegex, RegexRefusedError, toPostgresRegex } from '../../matching/regex.js';
import { decodePercentTolerant } from '../../matching/url-path.js';
import type { SqlParams } from '../sql-params.js';

/**
 * Statistics filters select SESSIONS, never single events: a session qualifies when its
 * landing attributes (those of its first event, kept in the `sessions` table) match, or, for
 * the event-level fields, when ANY event of the session matches (`the session viewed / fired
 * it`). So a UTM filter keeps the custom-event conversions of sessions that landed with that
 * UTM, instead of dropping them because the conversion event itself carries no UTM.
 */

/** Columns of `sessions` (landing attributes, entry/exit pages). */
export const SESSION_FIELDS = [
  'country',
  'region',
  'city',
  'browser',
  'os',
  'device',
  'language',
  'referrer_domain',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'entry_page',
  'exit_page',
] as const;

/** Fields that hold when any event of the session has them (column of `events`, event type). */
export const EVENT_FIELDS = {
  /** A pageview of the session had this path. */
  page_path: { column: 'path', type: 'pageview' },
  /** Any event of the session was on this host (host names compare case-insensitively). */
  hostname: { column: 'hostname', type: null },
  page_title: { column: 'page_title', type: 'pageview' },
  querystring: { column: 'querystring', type: 'pageview' },
  /** A custom event of the session had this name. */
  event_name: { column: 'event_name', type: 'event' },
} as const;

export type SessionField = (typeof SESSION_FIELDS)[number];
export type EventField = keyof typeof EVENT_FIELDS;

export const FILTER_OPERATORS = [
  'equals',
  'not_equals',
  'contains',
  'not_contains',
  'starts_with',
  'ends_with',
  'regex',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/**
 * One filter: `values` are OR-ed for positive operators; for `not_equals`/`not_contains` the
 * session qualifies when NONE of the values matches (for event fields: no event of the session
 * matches). Filters of one request AND together. A NULL attribute never equals/contains
 * anything, so it satisfies the negative operators.
 */
export interface SessionFilter {
  field: SessionField | EventField;
  operator: FilterOperator;
  values: string[];
}

const isEventField = (f: string): f is EventField => f in EVENT_FIELDS;

/** Filters per request and values per filter (more is a 400). */
export const MAX_FILTERS = 20;
export const MAX_FILTER_VALUES = 20;

/** Fields whose values compare case-insensitively (host names). */
export const CASE_INSENSITIVE_FIELDS: ReadonlySet<string> = new Set(['hostname']);

/**
 * Fields holding paths, stored percent-decoded: plain-operator values are decoded the same
 * way (as pageview goals decode their match values), so `/caf%C3%A9` finds `/café`.
 */
const PATH_FIELDS: ReadonlySet<string> = new Set(['page_path', 'entry_page', 'exit_page']);

/**
 * The PostgreSQL pattern of a regex filter value: the Goalpost regex dialect (the one goal
 * regexes use, RE2 syntax), rendered with explicit character sets for `col COLLATE "C" ~`.
 * So a filter means what the same goal regex means, and PostgreSQL is never handed a pattern
 * it refuses or reads differently (`\b`, `.`, `\w` and `~*` all differ there). `\p{…}`
 * classes, which PostgreSQL lacks, are refused. Throws a validation error naming `field`.
 */
export function filterRegexSql(pattern: string, field: string, caseInsensitive: boolean): string {
  let pg: string | null;
  try {
    pg = toPostgresRegex(compileRegex(pattern, caseInsensitive));
  } catch (err) {
    if (err instanceof RegexRefusedError) {
      throw validationError(`invalid regex: ${err.message}`, field);
    }
    throw err;
  }
  if (pg === null) {
    throw validationError(
      'invalid regex: Unicode classes (\\p{…}) are not supported in statistics filters',
      field,
    );
  }
  return pg;
}

/** Refuses a regex filter value {@link filterRegexSql} cannot render (400 naming `field`). */
export function checkFilterRegex(pattern: string, field: string, caseInsensitive = false): void {
  filterRegexSql(pattern, field, caseInsensitive);
}

/**
 * The SQL condition on the session row aliased `s` (which has `website_id`, `session_id`,
 * `started_at`, `ended_at`) for all filters, AND-joined; values become parameters of `params`.
 * Event-field conditions probe `events` through the (website_id, session_id, event_time) index
 * of migration 005, bounded by the session's own time span so only its chunks are visited.
 */
export function sessionFilterSql(filters: readonly SessionFilter[], params: SqlParams): string {
  const parts: string[] = [];
  for (const f of filters) {
    const negative = f.operator === 'not_equals' || f.operator === 'not_contains';
    if (isEventField(f.field)) {
      const { column, type } = EVENT_FIELDS[f.field];
      const ci = CASE_INSENSITIVE_FIELDS.has(f.field);
      const cond = valuesSql(`e.${column}`, f, params, ci);
      const typeCond = type === null ? '' : ` AND e.type = '${type}'`;
      const exists = `EXISTS (SELECT 1 FROM events e
         WHERE e.website_id = s.website_id AND e.session_id = s.session_id
           AND e.event_time >= s.started_at AND e.event_time <= s.ended_at${typeCond}
           AND ${cond})`;
      parts.push(negative ? `NOT ${exists}` : exists);
    } else {
      const cond = valuesSql(`s.${f.field}`, f, params, false);
      parts.push(negative ? `NOT COALESCE(${cond}, false)` : `COALESCE(${cond}, false)`);
    }
  }
  return parts.length === 0 ? 'true' : parts.join(' AND ');
}

/** `col` matches any of the values (the positive form of the operator). */
function valuesSql(col: string, f: SessionFilter, params: SqlParams, ci: boolean): string {
  const c = ci ? `lower(${col})` : col;
  const decode = PATH_FIELDS.has(f.field) ? decodePercentTolerant : (v: string) => v;
  const p = (v: string) => params.add(ci ? decode(v).toLowerCase() : decode(v));
  const ors = f.values.map((v) => {
    switch (f.operator) {
      case 'equals':
      case 'not_equals':
        return `${c} = ${p(v)}`;
      case 'contains':
      case 'not_contains':
        return `strpos(${c}, ${p(v)}) > 0`;
      case 'starts_with':
        return `starts_with(${c}, ${p(v)})`;
      case 'ends_with': {
        const x = p(v);
        return `right(${c}, length(${x})) = ${x}`;
      }
      case 'regex':
        // Case-insensitivity is in the rendered pattern (folding orbits), not in lower().
        return `${col} COLLATE "C" ~ ${params.add(filterRegexSql(v, f.field, ci))}`;
    }
  });
  return ors.length === 1 ? ors[0]! : `(${ors.join(' OR ')})`;
}
