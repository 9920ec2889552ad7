import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterRegexSql } from '../../shared/db/session-filters.sql.js';
import { SqlParams } from '../../shared/db/sql-params.js';
import type {
  GoalDefinition,
  MatchOperator,
  PropertyFilter,
  PropertyValue,
} from '../../shared/goals/goal-definition.js';
import { goalConditionSql } from '../../shared/matching/goal-condition-sql.js';
import { compileGoal, type MatchableEvent } from '../../shared/matching/goal-matcher.js';
import { compileRegex } from '../../shared/matching/regex.js';
import { openTestDeps, type TestDeps } from '../helpers/deps.js';

/**
 * The SQL rendering of goal conditions (`shared/matching/goal-condition-sql.ts`) and of
 * statistics regex filters agrees with the in-process matcher on real PostgreSQL: random goal
 * definitions (plain operators with and without case folding, globs with `*` and `**`, regexes,
 * typed property filters) over events holding ß/SS/ẞ, İ/i̇/ı, final σ, percent-encoded and
 * malformed paths and typed property values (numerals, huge and tiny JSON numbers, booleans,
 * objects). Each condition is run over the rows of `events` and compared with
 * `compileGoal(def).matches(row)` on the same rows as read back. A null rendering (SQL cannot
 * reproduce the matcher) is allowed and counted, never wrong.
 */

const PIECES = [
  '/',
  'a',
  'b',
  'ß',
  'ss',
  'SS',
  'ẞ',
  'İ',
  'i̇',
  'i',
  'I',
  'ı',
  'σ',
  'ς',
  'Σ',
  'ΟΣ',
  'K',
  'k',
  'K',
  'ſ',
  'é',
  'É',
  'e\u0301',
  '%C3%A9',
  '%2F',
  '%',
  '%zz',
  'ﬁ',
  'fi',
  'ﬃ',
  '.',
  '-',
  '😀',
  '\n',
  '\r',
  ' ',
  '_',
];
const textArb = fc.array(fc.constantFrom(...PIECES), { maxLength: 6 }).map((xs) => xs.join(''));
const globArb = fc
  .array(fc.constantFrom(...PIECES, '*', '**', '*', '**'), { maxLength: 6 })
  .map((xs) => xs.join(''));
const REGEX_ATOMS = [
  'a',
  'ß',
  'σ',
  'k',
  'İ',
  'é',
  '/',
  '.',
  '\\d',
  '\\w',
  '\\W',
  '\\s',
  '\\S',
  '[a-z]',
  '[^/]',
  '[^\\W]',
  '\\b',
  '\\B',
  '^',
  '$',
  '\\x{e9}',
  '(?:ss|ß)',
  '(?<n>a)',
  '%',
];
const regexArb = fc
  .array(
    fc.oneof(
      fc.constantFrom(...REGEX_ATOMS),
      fc
        .tuple(
          fc.constantFrom(...REGEX_ATOMS.filter((a) => !/^(\^|\$|\\b|\\B)$/.test(a))),
          fc.constantFrom('*', '+', '?', '{1,2}'),
        )
        .map(([a, q]) => a + q),
    ),
    { minLength: 1, maxLength: 5 },
  )
  .map((xs) => xs.join(''));

const STRING_VALUES = [
  'pro',
  'Pro',
  '10',
  '10.0',
  '1e3',
  '1E+3',
  '-0',
  '0',
  '.5',
  '5.',
  '+7',
  'abc',
  'Infinity',
  '-Infinity',
  'true',
  'false',
  '',
  '{"a":1}',
  '[1]',
  '1e16',
  '99999999999999999999',
  '0.1',
  '0.30000000000000004',
  '1e1000000000000000',
  '1e999999999999999',
  '١٢',
  'ß',
  'z',
  '~',
];
const NUMBER_VALUES = [
  10,
  10.5,
  0,
  -0,
  1e21,
  1e-7,
  0.1,
  0.30000000000000004,
  12345678901234567000,
  -5,
  5e-324,
  1.7976931348623157e308,
  1e16,
  999,
  2 ** 64,
];
const propertyValueArb: fc.Arbitrary<PropertyValue> = fc.oneof(
  fc.constantFrom(...STRING_VALUES),
  fc.constantFrom(...NUMBER_VALUES),
  fc.boolean(),
);
const storedValueArb: fc.Arbitrary<unknown> = fc.oneof(
  propertyValueArb,
  fc.constant(null),
  fc.constant({ a: 1 }),
  fc.constant([1, 'x']),
);
const KEYS = ['plan', 'n', 'x'];

interface Row {
  type: string;
  event_name: string | null;
  path: string | null;
  /** JSON text as inserted (so huge and tiny numbers reach jsonb as written). */
  properties: string | null;
}

const rowArb: fc.Arbitrary<Row> = fc.record({
  type: fc.constantFrom('pageview', 'event', 'performance'),
  event_name: fc.option(textArb, { nil: null, freq: 5 }),
  path: fc.option(
    textArb.map((t) => `/${t}`),
    { nil: null, freq: 5 },
  ),
  properties: fc.option(
    fc
      .dictionary(fc.constantFrom(...KEYS), storedValueArb, { maxKeys: 3 })
      .map((o) => JSON.stringify(o)),
    { nil: null, freq: 4 },
  ),
});

const RAW_PROPERTIES = [
  '{"n": 1e400}',
  '{"n": -1e400}',
  '{"n": 1e-400}',
  '{"n": 1.0}',
  '{"n": 100000000000000000000000}',
  '{"n": 2.4703282292062327e-324}',
  '{"plan": "pro", "n": 1e-7}',
];

const filterArb: fc.Arbitrary<PropertyFilter> = fc.oneof(
  fc.record({
    key: fc.constantFrom(...KEYS),
    operator: fc.constantFrom('equals', 'not_equals', 'gt', 'gte', 'lt', 'lte', 'contains'),
    value: propertyValueArb,
  }) as fc.Arbitrary<PropertyFilter>,
  fc.record({
    key: fc.constantFrom(...KEYS),
    operator: fc.constant('exists'),
  }) as fc.Arbitrary<PropertyFilter>,
);

const defArb: fc.Arbitrary<GoalDefinition> = fc
  .record({
    goal_type: fc.constantFrom<GoalDefinition['goal_type']>('pageview', 'event'),
    match_operator: fc.constantFrom<MatchOperator>(
      'equals',
      'starts_with',
      'ends_with',
      'contains',
      'glob',
      'regex',
    ),
    text: textArb,
    glob: globArb,
    regex: regexArb,
    case_sensitive: fc.boolean(),
    property_filters: fc.array(filterArb, { maxLength: 2 }),
  })
  .map((r) => ({
    id: 'goal_000000000000000000001',
    website_id: 'site_0000000001',
    goal_type: r.goal_type,
    match_operator: r.match_operator,
    match_value:
      r.match_operator === 'glob'
        ? r.glob
        : r.match_operator === 'regex'
          ? r.regex
          : r.text === ''
            ? 'a'
            : r.text,
    case_sensitive: r.case_sensitive,
    property_filters: r.property_filters,
    value_mode: 'none',
    fixed_value: null,
    value_property_key: null,
    currency: 'USD',
    definition_version: 1,
  }));

describe('goal conditions as SQL agree with the matcher (real PostgreSQL)', () => {
  let deps: TestDeps;
  const websiteId = `site_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  let rows: Array<MatchableEvent & { event_id: string }> = [];

  beforeAll(async () => {
    deps = openTestDeps('goal-condition');
    const generated = fc.sample(rowArb, { numRuns: 240, seed: 12 });
    const handPicked: Row[] = [
      ...RAW_PROPERTIES.map((p) => ({
        type: 'event',
        event_name: 'buy',
        path: '/',
        properties: p,
      })),
      { type: 'pageview', event_name: null, path: '/STRASSE', properties: null },
      { type: 'pageview', event_name: null, path: '/straße', properties: null },
      { type: 'pageview', event_name: null, path: '/ΟΔΟΣ', properties: null },
      { type: 'pageview', event_name: null, path: '/οδος', properties: null },
      { type: 'pageview', event_name: null, path: '/İstanbul', properties: null },
      { type: 'pageview', event_name: null, path: '/café', properties: null },
      { type: 'pageview', event_name: null, path: '/50%_off', properties: null },
    ];
    for (const r of [...generated, ...handPicked]) {
      await deps.db.query(
        'test.insert_event',
        `INSERT INTO events (event_id, event_time, received_at, website_id, session_id,
           visitor_id, type, event_name, path, properties)
         VALUES ($1, now(), now(), $2, 's', 'v', $3, $4, $5, $6::jsonb)`,
        [randomUUID(), websiteId, r.type, r.event_name, r.path, r.properties],
      );
    }
    const read = await deps.db.query<MatchableEvent & { event_id: string }>(
      'test.read_events',
      `SELECT event_id, type, event_name, path, properties FROM events WHERE website_id = $1`,
      [websiteId],
    );
    rows = read.rows;
  });

  afterAll(async () => {
    await deps.db.query('test.cleanup', 'DELETE FROM events WHERE website_id = $1', [websiteId]);
    await deps.close();
  });

  async function sqlMatches(def: GoalDefinition): Promise<Set<string> | null> {
    const params = new SqlParams();
    params.add(websiteId);
    const cond = goalConditionSql(def, params);
    if (cond === null) return null;
    const res = await deps.db.query<{ event_id: string }>(
      'test.goal_condition',
      `SELECT e.event_id FROM events e WHERE e.website_id = $1 AND ${cond}`,
      params.values,
    );
    return new Set(res.rows.map((r) => r.event_id));
  }

  it('property: random goals select exactly the events the matcher matches', async () => {
    let rendered = 0;
    let total = 0;
    await fc.assert(
      fc.asyncProperty(defArb, async (def) => {
        total += 1;
        const got = await sqlMatches(def);
        if (got === null) return;
        rendered += 1;
        const goal = compileGoal(def);
        const want = new Set(rows.filter((r) => goal.matches(r)).map((r) => r.event_id));
        const diff = rows
          .filter((r) => got.has(r.event_id) !== want.has(r.event_id))
          .map((r) => ({ sql: got.has(r.event_id), matcher: want.has(r.event_id), r }));
        expect(diff, JSON.stringify(def)).toEqual([]);
      }),
      { numRuns: 1500 },
    );
    // Most definitions render; the rest fall back by contract.
    expect(rendered / total).toBeGreaterThan(0.6);
  });

  it('case-insensitive plain operators render over the raw column, ß/SS and σ/ς included', async () => {
    for (const [op, value, path] of [
      ['equals', '/STRASSE', '/straße'],
      ['equals', '/straße', '/STRASSE'],
      ['contains', 's', '/straße'],
      ['ends_with', 'SE', '/straße'],
      ['equals', '/ΟΔΟΣ', '/οδος'],
      ['starts_with', '/i̇', '/İstanbul'],
    ] as const) {
      const def = fc.sample(defArb, 1)[0]!;
      Object.assign(def, {
        goal_type: 'pageview',
        match_operator: op,
        match_value: value,
        case_sensitive: false,
        property_filters: [],
      });
      const got = await sqlMatches(def);
      expect(got, `${op} ${value}`).not.toBeNull();
      const row = rows.find((r) => r.path === path)!;
      expect(got!.has(row.event_id), `${op} ${value} on ${path}`).toBe(true);
    }
  });

  it('property: statistics regex filters select what the goal regex matches', async () => {
    await fc.assert(
      fc.asyncProperty(regexArb, fc.boolean(), async (pattern, ci) => {
        const params = new SqlParams();
        params.add(websiteId);
        let pg: string;
        try {
          pg = filterRegexSql(pattern, 'filters[0].value[0]', ci);
        } catch {
          return; // refused (e.g. a duplicate group name): a 400, not a query
        }
        const res = await deps.db.query<{ event_id: string }>(
          'test.filter_regex',
          `SELECT e.event_id FROM events e
            WHERE e.website_id = $1 AND e.path COLLATE "C" ~ ${params.add(pg)}`,
          params.values,
        );
        const got = new Set(res.rows.map((r) => r.event_id));
        const re = compileRegex(pattern, ci);
        for (const r of rows) {
          if (r.path === null) continue;
          expect(got.has(r.event_id), `${pattern} ${ci} ${JSON.stringify(r.path)}`).toBe(
            re.test(r.path),
          );
        }
      }),
      { numRuns: 600 },
    );
  });
});
