import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FILTER_OPERATORS,
  filterRegexSql,
  sessionFilterSql,
  type FilterOperator,
} from '../../shared/db/repositories/session-filters.sql.js';
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
/** Properties autocapture goals read (strings normally; numbers must not be read). */
const VALUE_KEYS = ['url', 'text', 'formName', 'formId', 'formAction'];
const AUTOCAPTURE_TYPES = ['outbound', 'file_download', 'button_click', 'form_submit', 'copy'];
const HOSTS = ['shop.example', 'SHOP.example', 'www.shop.example'];

interface Row {
  type: string;
  event_name: string | null;
  path: string | null;
  /** JSON text as inserted (so huge and tiny numbers reach jsonb as written). */
  properties: string | null;
  hostname: string | null;
}

const rowArb: fc.Arbitrary<Row> = fc.record({
  type: fc.constantFrom('pageview', 'event', 'performance', ...AUTOCAPTURE_TYPES),
  event_name: fc.option(textArb, { nil: null, freq: 5 }),
  path: fc.option(
    textArb.map((t) => `/${t}`),
    { nil: null, freq: 5 },
  ),
  properties: fc.option(
    fc
      .tuple(
        fc.dictionary(fc.constantFrom(...KEYS), storedValueArb, { maxKeys: 3 }),
        fc.dictionary(
          fc.constantFrom(...VALUE_KEYS),
          fc.oneof(
            textArb,
            textArb.map((t) => `https://x.example/${t}`),
            fc.constant(5),
          ),
          { maxKeys: 3 },
        ),
      )
      .map(([a, b]) => JSON.stringify({ ...a, ...b })),
    { nil: null, freq: 4 },
  ),
  hostname: fc.option(fc.constantFrom(...HOSTS), { nil: null, freq: 4 }),
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
    goal_type: fc.constantFrom<GoalDefinition['goal_type']>(
      'pageview',
      'event',
      'outbound',
      'file_download',
      'button_click',
      'form_submit',
      'copy',
    ),
    match_operator: fc.constantFrom<MatchOperator>(
      'equals',
      'starts_with',
      'ends_with',
      'contains',
      'glob',
      'regex',
      'any',
    ),
    hostname: fc.option(fc.constantFrom(...HOSTS), { nil: null, freq: 2 }),
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
    // Pageview filters read the query string, which SQL does not render; keep most pageview
    // definitions renderable.
    property_filters: r.goal_type === 'pageview' && r.hostname !== null ? [] : r.property_filters,
    hostname: r.hostname,
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
    const auto = (type: string, props: object): Row => ({
      type,
      event_name: null,
      path: '/',
      properties: JSON.stringify(props),
      hostname: 'shop.example',
    });
    const handPicked: Row[] = [
      auto('outbound', { url: 'https://x.example/a/b', text: 'A' }),
      auto('outbound', { url: 'https://x.example/' }),
      auto('outbound', { url: 5 }),
      auto('file_download', { url: 'https://x.example/a.pdf' }),
      auto('copy', { text: 'coupon-1' }),
      auto('form_submit', { formName: '', formId: 'signup', formAction: 'https://x.example/s' }),
      {
        type: 'pageview',
        event_name: null,
        path: '/a',
        properties: null,
        hostname: 'shop.example',
      },
      ...RAW_PROPERTIES.map((p) => ({
        type: 'event',
        event_name: 'buy',
        path: '/',
        properties: p,
        hostname: null,
      })),
      { type: 'pageview', event_name: null, path: '/STRASSE', properties: null, hostname: null },
      { type: 'pageview', event_name: null, path: '/straße', properties: null, hostname: null },
      { type: 'pageview', event_name: null, path: '/ΟΔΟΣ', properties: null, hostname: null },
      { type: 'pageview', event_name: null, path: '/οδος', properties: null, hostname: null },
      { type: 'pageview', event_name: null, path: '/İstanbul', properties: null, hostname: null },
      { type: 'pageview', event_name: null, path: '/café', properties: null, hostname: null },
      { type: 'pageview', event_name: null, path: '/50%_off', properties: null, hostname: null },
    ];
    for (const r of [...generated, ...handPicked]) {
      await deps.db.query(
        'test.insert_event',
        `INSERT INTO events (event_id, event_time, received_at, website_id, session_id,
           visitor_id, type, event_name, path, properties, hostname)
         VALUES ($1, now(), now(), $2, $3, 'v', $4, $5, $6, $7::jsonb, $8)`,
        // One session per event: the statistics filter test reads each event as a session.
        [
          randomUUID(),
          websiteId,
          randomUUID(),
          r.type,
          r.event_name,
          r.path,
          r.properties,
          r.hostname,
        ],
      );
    }
    const read = await deps.db.query<MatchableEvent & { event_id: string }>(
      'test.read_events',
      `SELECT event_id, type, event_name, path, properties, hostname, querystring
         FROM events WHERE website_id = $1`,
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

  it('autocapture goals render; pageview goals with query-string filters do not', async () => {
    const base = fc.sample(defArb, { numRuns: 1, seed: 3 })[0]!;
    const outbound: GoalDefinition = {
      ...base,
      goal_type: 'outbound',
      match_operator: 'glob',
      match_value: 'https://x.example/*',
      case_sensitive: true,
      property_filters: [],
      hostname: null,
    };
    const got = await sqlMatches(outbound);
    expect(got).not.toBeNull();
    const goal = compileGoal(outbound);
    const want = rows.filter((r) => goal.matches(r)).map((r) => r.event_id);
    expect(want.length).toBeGreaterThan(0);
    expect([...got!].sort()).toEqual(want.sort());
    const any = await sqlMatches({ ...outbound, goal_type: 'copy', match_operator: 'any' });
    expect(any!.size).toBe(rows.filter((r) => r.type === 'copy').length);
    const page: GoalDefinition = {
      ...outbound,
      goal_type: 'pageview',
      match_operator: 'equals',
      match_value: '/a',
      property_filters: [{ key: 'q', operator: 'equals', value: '1' }],
    };
    expect(await sqlMatches(page)).toBeNull();
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
        hostname: null,
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
  it('property: statistics filters with plain operators select what the same goal matches', async () => {
    // A session of one event: the filter's session row is the event's own.
    const run = async (field: 'page_path' | 'event_name', op: FilterOperator, values: string[]) => {
      const params = new SqlParams();
      params.add(websiteId);
      const cond = sessionFilterSql([{ field, operator: op, values }], params);
      const res = await deps.db.query<{ event_id: string }>(
        'test.filter_plain',
        `SELECT e0.event_id FROM events e0
           CROSS JOIN LATERAL (SELECT e0.website_id, e0.session_id,
             e0.event_time AS started_at, e0.event_time AS ended_at) s
          WHERE e0.website_id = $1 AND ${cond}`,
        params.values,
      );
      return new Set(res.rows.map((r) => r.event_id));
    };
    const subjects = rows.flatMap((r) => [r.path, r.event_name]).filter((x) => x !== null);
    // Values that hit: pieces of stored subjects, besides random texts.
    const valueArb = fc.oneof(
      textArb,
      fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([i, a, b]) => {
        const t = [...subjects[i % subjects.length]!];
        return t.slice(a % (t.length + 1), (a % (t.length + 1)) + (b % 4) + 1).join('');
      }),
    );
    let hits = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('page_path' as const, 'event_name' as const),
        // Every plain operator (regex has its own property above).
        fc.constantFrom(...FILTER_OPERATORS.filter((o) => o !== 'regex')),
        fc.array(valueArb, { minLength: 1, maxLength: 3 }),
        async (field, op, values) => {
          const got = await run(field, op, values);
          const positive = op.replace(/^not_/, '') as MatchOperator;
          // The goals with the same match values (path values are percent-decoded on both
          // sides: `%2F` is `/`).
          const goals = values.map((v) =>
            compileGoal({
              ...fc.sample(defArb, { numRuns: 1, seed: 5 })[0]!,
              goal_type: field === 'page_path' ? 'pageview' : 'event',
              match_operator: positive,
              match_value: v,
              case_sensitive: true,
              property_filters: [],
              hostname: null,
            }),
          );
          const diff = rows.filter((r) => {
            const any = goals.some((g) => g.matches(r));
            const want = op === positive ? any : !any;
            if (want && op === positive) hits += 1;
            return got.has(r.event_id) !== want;
          });
          expect(
            diff.map((r) => ({ sql: got.has(r.event_id), path: r.path, name: r.event_name })),
            `${field} ${op} ${JSON.stringify(values)}`,
          ).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
    expect(hits).toBeGreaterThan(100); // the values reach stored subjects, not only misses
  });
});
