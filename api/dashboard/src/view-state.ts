/**
 * The statistics settings of a view, read from and written to the URL query: the date range
 * (a preset or custom dates), time zone, bots and the API's `filter_*` parameters, which the
 * URL carries under the API's own names.
 */

export const RANGE_PRESETS = [
  { id: 'today', label: 'Today', days: 1, offset: 0 },
  { id: 'yesterday', label: 'Yesterday', days: 1, offset: 1 },
  { id: '7d', label: 'Last 7 days', days: 7, offset: 0 },
  { id: '30d', label: 'Last 30 days', days: 30, offset: 0 },
  { id: '90d', label: 'Last 90 days', days: 90, offset: 0 },
] as const;
export const DEFAULT_PRESET = '7d';

/** The API's session filters (`filter_*`), with a label each. */
export const FILTERS = [
  ['filter_country', 'Country (ISO code)'],
  ['filter_region', 'Region'],
  ['filter_city', 'City'],
  ['filter_page', 'Page contains'],
  ['filter_hostname', 'Hostname'],
  ['filter_referrer', 'Referrer domain'],
  ['filter_browser', 'Browser'],
  ['filter_os', 'Operating system'],
  ['filter_device', 'Device'],
  ['filter_language', 'Language'],
  ['filter_utm_source', 'UTM source'],
  ['filter_utm_medium', 'UTM medium'],
  ['filter_utm_campaign', 'UTM campaign'],
] as const;

export interface ViewState {
  /** A preset id, or `custom`. */
  preset: string;
  start: string;
  end: string;
  timezone: string;
  /** `true` / `false`, or null for the website's bot policy. */
  bots: 'true' | 'false' | null;
  filters: Record<string, string>;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Today's date (YYYY-MM-DD) in a time zone. */
export function todayIn(tz: string, now = new Date()): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(now);
  } catch {
    return now.toISOString().slice(0, 10);
  }
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export const daysBetween = (start: string, end: string): number =>
  Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000) + 1;

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The view's settings from the URL; the website's time zone when the URL names none. */
export function readView(q: URLSearchParams, siteTimezone: string, now = new Date()): ViewState {
  const tzParam = q.get('timezone');
  const timezone = tzParam && isValidTimeZone(tzParam) ? tzParam : siteTimezone;
  const rawBots = q.get('include_bots');
  const bots: ViewState['bots'] =
    rawBots === 'true' ? 'true' : rawBots === 'false' ? 'false' : null;
  const filters: Record<string, string> = {};
  for (const [name] of FILTERS) {
    const v = q.get(name);
    if (v) filters[name] = v;
  }
  const base = {
    timezone,
    bots,
    filters,
  };
  const start = q.get('start_date');
  const end = q.get('end_date');
  if (start && end && DATE_RE.test(start) && DATE_RE.test(end) && start <= end) {
    return { ...base, preset: 'custom', start, end };
  }
  const preset = RANGE_PRESETS.find((p) => p.id === q.get('range')) ?? RANGE_PRESETS[2];
  const last = addDays(todayIn(timezone, now), -preset.offset);
  return { ...base, preset: preset.id, start: addDays(last, 1 - preset.days), end: last };
}

/** The API query of a view (dates, time zone, bots, filters). */
export function statsQuery(v: ViewState): Record<string, string> {
  return {
    start_date: v.start,
    end_date: v.end,
    timezone: v.timezone,
    ...(v.bots === null ? {} : { include_bots: v.bots }),
    ...v.filters,
  };
}

/** The period of the same length just before the view's. */
export function previousRange(v: ViewState): { start: string; end: string } {
  const len = daysBetween(v.start, v.end);
  return { start: addDays(v.start, -len), end: addDays(v.start, -1) };
}

/** The query parameters that carry a view's settings from one page to another. */
export function carriedQuery(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const k of [
    'range',
    'start_date',
    'end_date',
    'timezone',
    'include_bots',
    ...FILTERS.map((f) => f[0]),
  ]) {
    const v = q.get(k);
    if (v) out.set(k, v);
  }
  return out;
}
