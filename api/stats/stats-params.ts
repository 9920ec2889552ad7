import { validationError } from '../../shared/errors/errors.js';
import type { BotPolicy } from '../../shared/db/repositories/website.repository.js';
import {
  CASE_INSENSITIVE_FIELDS,
  checkFilterRegex,
  FILTER_OPERATORS,
  MAX_FILTER_VALUES,
  MAX_FILTERS,
  type FilterOperator,
  type SessionFilter,
} from '../../shared/db/repositories/session-filters.sql.js';

/** The 14 Sparklytics `filter_*` parameters and the session field each selects on. */
export const SPARKLYTICS_FILTERS = {
  filter_country: { field: 'country', operator: 'equals' },
  filter_page: { field: 'page_path', operator: 'contains' },
  filter_referrer: { field: 'referrer_domain', operator: 'equals' },
  filter_browser: { field: 'browser', operator: 'equals' },
  filter_os: { field: 'os', operator: 'equals' },
  filter_device: { field: 'device', operator: 'equals' },
  filter_language: { field: 'language', operator: 'equals' },
  filter_utm_source: { field: 'utm_source', operator: 'equals' },
  filter_utm_medium: { field: 'utm_medium', operator: 'equals' },
  filter_utm_campaign: { field: 'utm_campaign', operator: 'equals' },
  filter_region: { field: 'region', operator: 'equals' },
  filter_city: { field: 'city', operator: 'equals' },
  filter_hostname: { field: 'hostname', operator: 'equals' },
} as const satisfies Record<string, Pick<SessionFilter, 'field' | 'operator'>>;
export type SparklyticsFilterParam = keyof typeof SPARKLYTICS_FILTERS;

/** The session filters named by Sparklytics `filter_*` query parameters (AND-joined). */
export function sparklyticsFilters(
  query: Partial<Record<SparklyticsFilterParam, string>>,
): SessionFilter[] {
  const out: SessionFilter[] = [];
  for (const [param, def] of Object.entries(SPARKLYTICS_FILTERS)) {
    const v = query[param as SparklyticsFilterParam];
    if (v !== undefined) out.push({ ...def, values: [v] });
  }
  return out;
}

/** Rybbit filter parameter names → session fields. */
export const RYBBIT_FILTER_FIELDS = {
  browser: 'browser',
  operating_system: 'os',
  language: 'language',
  country: 'country',
  region: 'region',
  city: 'city',
  device_type: 'device',
  referrer: 'referrer_domain',
  hostname: 'hostname',
  pathname: 'page_path',
  page_title: 'page_title',
  querystring: 'querystring',
  event_name: 'event_name',
  channel: 'channel',
  utm_source: 'utm_source',
  utm_medium: 'utm_medium',
  utm_campaign: 'utm_campaign',
  utm_term: 'utm_term',
  utm_content: 'utm_content',
  entry_page: 'entry_page',
  exit_page: 'exit_page',
} as const satisfies Record<string, SessionFilter['field']>;

/**
 * Parses Rybbit's `filters` parameter: a JSON array of `{parameter, type, value: string[]}`.
 * Anything else is a validation error naming `filters[i].…` (400 in the Rybbit dialect).
 */
export function parseRybbitFilters(raw: string | undefined): SessionFilter[] {
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw validationError('filters must be a JSON array', 'filters');
  }
  if (!Array.isArray(parsed)) throw validationError('filters must be a JSON array', 'filters');
  if (parsed.length > MAX_FILTERS) {
    throw validationError(`at most ${MAX_FILTERS} filters`, 'filters');
  }
  return parsed.map((f: unknown, i) => {
    const at = `filters[${i}]`;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) {
      throw validationError('a filter must be an object {parameter, type, value}', at);
    }
    const { parameter, type, value, ...rest } = f as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw validationError('unknown field', `${at}.${extra}`);
    if (typeof parameter !== 'string' || !Object.hasOwn(RYBBIT_FILTER_FIELDS, parameter)) {
      throw validationError(
        `parameter must be one of ${Object.keys(RYBBIT_FILTER_FIELDS).join(', ')}`,
        `${at}.parameter`,
      );
    }
    if (typeof type !== 'string' || !(FILTER_OPERATORS as readonly string[]).includes(type)) {
      throw validationError(`type must be one of ${FILTER_OPERATORS.join(', ')}`, `${at}.type`);
    }
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      value.length > MAX_FILTER_VALUES ||
      !value.every((v) => typeof v === 'string')
    ) {
      throw validationError(
        `value must be an array of 1–${MAX_FILTER_VALUES} strings`,
        `${at}.value`,
      );
    }
    const values = value;
    // JSON escapes hide a NUL from the request-level check; PostgreSQL text cannot hold one.
    const nul = values.findIndex((v) => v.includes('\u0000'));
    if (nul !== -1) {
      throw validationError(
        'text must not contain the NUL character (U+0000)',
        `${at}.value[${nul}]`,
      );
    }
    const field = RYBBIT_FILTER_FIELDS[parameter as keyof typeof RYBBIT_FILTER_FIELDS];
    if (type === 'regex') {
      const ci = CASE_INSENSITIVE_FIELDS.has(field);
      values.forEach((v, j) => checkFilterRegex(v, `${at}.value[${j}]`, ci));
    }
    return {
      field,
      operator: type as FilterOperator,
      values,
    };
  });
}

/** `include_bots`: `true` | `false`, else 422; absent → from the website's bot policy. */
export function resolveIncludeBots(raw: string | undefined, policy: BotPolicy): boolean {
  if (raw === undefined) return policy === 'off';
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw validationError('include_bots must be true or false', 'include_bots');
}

/** converting / total, unrounded; 0 when there are no sessions. */
export const rawRate = (converting: number, total: number): number =>
  total === 0 ? 0 : converting / total;

export const round = (x: number, places: number): number => {
  const f = 10 ** places;
  return Math.round(x * f) / f;
};

/** (rate − prev) / prev × 100 from unrounded rates, 2 decimals; null when prev is null or 0. */
export function trendPct(rate: number, prev: number | null): number | null {
  if (prev === null || prev === 0) return null;
  return round(((rate - prev) / prev) * 100, 2);
}

/** The UTC offset of `tz` at `t`, in minutes (east positive). */
export function offsetMinutes(t: Date, tz: string): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' })
    .formatToParts(t)
    .find((p) => p.type === 'timeZoneName')!.value;
  const m = /^GMT([+-])(\d{2}):?(\d{2})?$/.exec(name);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

/** ISO 8601 local time with its offset: `2026-03-29T03:00:00+02:00`. */
export function localIso(t: Date, tz: string): string {
  const off = offsetMinutes(t, tz);
  const local = new Date(t.getTime() + off * 60_000).toISOString().slice(0, 19);
  const a = Math.abs(off);
  const sign = off < 0 ? '-' : '+';
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}
