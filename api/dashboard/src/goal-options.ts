/**
 * The goal form's choices: one list, read from the API's own OpenAPI document (`/openapi.json`,
 * the create-goal body), so a goal type or operator the API gains appears in the form without a
 * change here. The built-in lists are the fallback when the document cannot be read, and the
 * labels and hints below only make known values nicer; an unknown value is shown humanized.
 */
import { humanize } from './format.js';

export interface GoalOptions {
  goalTypes: string[];
  matchOperators: string[];
  filterOperators: string[];
  valueModes: string[];
}

export const FALLBACK_OPTIONS: GoalOptions = {
  goalTypes: ['event', 'pageview'],
  matchOperators: ['equals', 'starts_with', 'ends_with', 'contains', 'glob', 'regex'],
  filterOperators: ['equals', 'not_equals', 'contains', 'gt', 'gte', 'lt', 'lte', 'exists'],
  valueModes: ['none', 'fixed', 'event_property'],
};

/** Spellings the API accepts as aliases of another value (not shown as choices). */
const ALIASES = new Set(['page_view']);

const LABELS: Record<string, string> = {
  event: 'Custom event',
  pageview: 'Page view',
  outbound: 'Outbound link click',
  button_click: 'Button click',
  form_submit: 'Form submit',
  copy: 'Copy',
  file_download: 'File download',
  equals: 'equals',
  not_equals: 'does not equal',
  starts_with: 'starts with',
  ends_with: 'ends with',
  contains: 'contains',
  glob: 'matches glob (* and **)',
  regex: 'matches regular expression',
  any: 'any value',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  exists: 'exists',
  none: 'No value',
  fixed: 'Fixed value per conversion',
  event_property: 'From an event property',
};
export const optionLabel = (v: string): string => LABELS[v] ?? humanize(v);

/** What the match value is compared with, per goal type. */
const MATCH_HINTS: Record<string, string> = {
  event: 'The event name, e.g. signup_click.',
  pageview: 'The page path, e.g. /checkout/success.',
};
export const matchHint = (goalType: string): string =>
  MATCH_HINTS[goalType] ?? 'The value the event is compared with.';

/** Property filters apply to events; page views have none. */
export const takesPropertyFilters = (goalType: string): boolean => goalType !== 'pageview';
/** An operator that matches any value needs no match value. */
export const needsMatchValue = (operator: string): boolean => operator !== 'any';

type JsonSchema = {
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
};

/** The string values a schema allows (`enum`, `const`, and unions of them). */
function enumValues(s: JsonSchema | undefined): string[] {
  if (!s) return [];
  const out: unknown[] = [...(s.enum ?? []), ...(s.const === undefined ? [] : [s.const])];
  for (const sub of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) out.push(...enumValues(sub));
  return [...new Set(out.filter((v): v is string => typeof v === 'string' && !ALIASES.has(v)))];
}

/** Reads the choices from an OpenAPI document; any list it lacks keeps the fallback. */
export function optionsFromOpenApi(doc: unknown): GoalOptions {
  const body = (
    doc as {
      paths?: Record<
        string,
        { post?: { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } } }
      >;
    }
  )?.paths?.['/api/websites/{website_id}/goals']?.post?.requestBody?.content?.['application/json']
    ?.schema;
  const p = body?.properties ?? {};
  const pick = (found: string[], fallback: string[]) => (found.length > 0 ? found : fallback);
  return {
    goalTypes: pick(enumValues(p.goal_type), FALLBACK_OPTIONS.goalTypes),
    matchOperators: pick(enumValues(p.match_operator), FALLBACK_OPTIONS.matchOperators),
    filterOperators: pick(
      enumValues(p.property_filters?.items?.properties?.operator),
      FALLBACK_OPTIONS.filterOperators,
    ),
    valueModes: pick(enumValues(p.value_mode), FALLBACK_OPTIONS.valueModes),
  };
}

let cached: Promise<GoalOptions> | null = null;

/** The choices, fetched once per page load (the document is public). */
export function loadGoalOptions(): Promise<GoalOptions> {
  cached ??= fetch('/openapi.json')
    .then((r) => (r.ok ? (r.json() as Promise<unknown>) : null))
    .then((doc) => (doc === null ? FALLBACK_OPTIONS : optionsFromOpenApi(doc)))
    .catch(() => FALLBACK_OPTIONS);
  return cached;
}
