import {
  AUTOCAPTURE_VALUE_KEYS,
  isAutocaptureGoalType,
  type GoalDefinition,
  type PropertyFilter,
} from '../goals/goal-definition.js';
import { ANY_CHAR, complementSet, setOf } from './char-set.js';
import { stringForm, compareCodePoints } from './compare.js';
import { compareDecimals, decimalOf, type Decimal } from './decimal.js';
import { foldPreimageRegex } from './fold-preimage.js';
import { parseGlob } from './glob.js';
import { compileRegex, postgresSet, toPostgresRegex } from './regex.js';
import { decodePercentTolerant } from './url-path.js';
import { foldCase } from './goal-matcher.js';

/**
 * A goal's condition as SQL over the `events` table: the matcher's own rules (decoding,
 * folding, glob and regex translation, the comparison rule of property filters) rendered for
 * PostgreSQL, for set-based work (a backfill as one `INSERT … SELECT`, goal previews, funnel
 * analysis). The contract, checked by property tests on the real database
 * (`test/db/goal-condition.test.ts`): for every row of `events` within the documented input
 * limits, the condition is true exactly when {@link compileGoal}`(def).matches(row)` is, with
 * the row as the backfill reads it back (`properties` parsed from jsonb).
 *
 * It returns null, and the caller matches in process (or answers 400), when SQL cannot
 * reproduce the matcher exactly:
 * - a regex with `\p{…}` classes (PostgreSQL has no Unicode property classes);
 * - a case-insensitive glob (folding can split one character's folded form across `*`);
 * - a case-insensitive plain operator whose folded value has too many spellings to list;
 * - a `contains` property filter (JavaScript's number and JSON formatting cannot be rebuilt);
 * - an `equals`, `gt`… property filter on a value starting with `{` or `[` (it could equal or
 *   sort against the JSON text of an object property);
 * - a match value or filter value holding NUL or a lone surrogate (PostgreSQL text cannot);
 * - a pageview goal with property filters (query-string parameters: `URLSearchParams`
 *   decoding is not rebuilt in SQL).
 */

/** What the renderer needs from a statement builder; `shared/db`'s `SqlParams` is one. */
export interface SqlParamSink {
  /** Appends a parameter and returns its placeholder (`$3`), with `::cast` when given. */
  add(value: unknown, cast?: string): string;
}

/** SQL expressions for the event columns the condition reads. */
export interface EventColumns {
  type: string;
  event_name: string;
  path: string;
  properties: string;
  hostname: string;
}

/** The columns of `events` aliased `e`. */
export const EVENTS_ALIAS_E: EventColumns = {
  type: 'e.type',
  event_name: 'e.event_name',
  path: 'e.path',
  properties: 'e.properties',
  hostname: 'e.hostname',
};

class Unrenderable extends Error {}

/** PostgreSQL text cannot hold NUL or lone surrogates. */
function checkText(s: string): string {
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c === 0) throw new Unrenderable();
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new Unrenderable();
      i += 1;
    } else if (c >= 0xdc00 && c <= 0xdfff) throw new Unrenderable();
  }
  return s;
}

/**
 * The SQL condition for `def` (see the module notes), or null when only the in-process matcher
 * can decide. Values become parameters of `params`.
 */
export function goalConditionSql(
  def: GoalDefinition,
  params: SqlParamSink,
  cols: EventColumns = EVENTS_ALIAS_E,
): string | null {
  // Rendered against placeholders of our own first: a definition that turns out unrenderable
  // leaves the caller's parameters untouched, and only parameters the text uses are added.
  const pending: Array<{ value: unknown; cast?: string }> = [];
  const local: SqlParamSink = {
    add(value, cast) {
      pending.push({ value, cast });
      return `$goalpost_param_${pending.length - 1}$`;
    },
  };
  let text: string;
  try {
    text = render(def, local, cols);
  } catch (err) {
    if (err instanceof Unrenderable) return null;
    throw err;
  }
  const placed = new Map<number, string>();
  return text.replace(/\$goalpost_param_(\d+)\$/g, (_, i: string) => {
    const n = Number(i);
    let p = placed.get(n);
    if (p === undefined) {
      const { value, cast } = pending[n]!;
      p = params.add(value, cast);
      placed.set(n, p);
    }
    return p;
  });
}

function render(def: GoalDefinition, params: SqlParamSink, cols: EventColumns): string {
  const gt = def.goal_type;
  if (def.pattern_issue != null) return 'false';
  const filters = Array.isArray(def.property_filters) ? def.property_filters : [];
  if (isAutocaptureGoalType(gt)) {
    const parts = [`${cols.type} = '${gt}'`];
    if (def.match_operator !== 'any') {
      const alternatives = AUTOCAPTURE_VALUE_KEYS[gt].map((k) => {
        const v = `(${cols.properties} -> '${k}')`;
        const subject = subjectSql(def, `(${cols.properties} ->> '${k}')`, params);
        return `(jsonb_typeof(${v}) = 'string' AND ${subject})`;
      });
      parts.push(`(${alternatives.join(' OR ')})`);
    }
    for (const f of filters) parts.push(filterSql(f, cols.properties, params));
    return `(${parts.join(' AND ')})`;
  }
  const type = gt === 'pageview' ? 'pageview' : gt === 'event' ? 'event' : null;
  if (type === null) return 'false';
  const subjectCol = type === 'pageview' ? cols.path : cols.event_name;
  const subject = subjectSql(def, subjectCol, params);
  if (subject === 'false') return 'false';
  const parts = [`${cols.type} = '${type}'`, `${subjectCol} IS NOT NULL`, subject];
  if (type === 'pageview') {
    if (filters.length > 0) throw new Unrenderable();
    if (typeof def.hostname === 'string' && def.hostname !== '') {
      parts.push(`${cols.hostname} = ${params.add(checkText(def.hostname), 'text')}`);
    }
  } else {
    for (const f of filters) parts.push(filterSql(f, cols.properties, params));
  }
  return `(${parts.join(' AND ')})`;
}

const regexMatch = (col: string, pattern: string, params: SqlParamSink) =>
  `${col} COLLATE "C" ~ ${params.add(pattern)}`;

function subjectSql(def: GoalDefinition, col: string, params: SqlParamSink): string {
  if (def.match_operator === 'any') return 'true';
  const raw = typeof def.match_value === 'string' ? def.match_value : '';
  const ci = !def.case_sensitive;
  if (def.match_operator === 'regex') {
    let re;
    try {
      re = compileRegex(raw, ci);
    } catch {
      return 'false'; // the matcher never runs a refused pattern
    }
    const pg = toPostgresRegex(re);
    if (pg === null) throw new Unrenderable();
    return regexMatch(col, pg, params);
  }
  const decoded = checkText(def.goal_type === 'pageview' ? decodePercentTolerant(raw) : raw);
  if (def.match_operator === 'glob') {
    if (ci) throw new Unrenderable();
    return globSql(col, decoded, !isAutocaptureGoalType(def.goal_type), params);
  }
  if (!['equals', 'starts_with', 'ends_with', 'contains'].includes(def.match_operator)) {
    return 'false';
  }
  if (ci) {
    const op = def.match_operator;
    const pattern = foldPreimageRegex(foldCase(decoded), op);
    if (pattern === null) throw new Unrenderable();
    return regexMatch(col, pattern, params);
  }
  const v = params.add(decoded);
  switch (def.match_operator) {
    case 'equals':
      return `${col} = ${v}`;
    case 'starts_with':
      return `starts_with(${col}, ${v})`;
    case 'ends_with':
      return `right(${col}, length(${v})) = ${v}`;
    default:
      return `strpos(${col}, ${v}) > 0`;
  }
}

/**
 * A glob as SQL over `col`. A literal head with at most one wildcard at its end (the common
 * `/blog/**`, `/docs/*`) is plain string functions; anything else is the anchored pattern of
 * {@link globPattern}, behind a check of its literal head, which most rows fail without
 * running the regex. (PostgreSQL text holds no NUL or lone surrogate, the only characters the
 * pattern's `*` and `**` sets leave out besides `/`.)
 */
function globSql(col: string, glob: string, slashSeparates: boolean, params: SqlParamSink) {
  const tokens = parseGlob(glob);
  let n = 0;
  let head = '';
  for (; n < tokens.length; n++) {
    const t = tokens[n]!;
    if (t.kind !== 'literal') break;
    head += String.fromCodePoint(t.cp);
  }
  const rest = tokens.slice(n);
  if (rest.length === 0) return `${col} = ${params.add(head, 'text')}`;
  const h = params.add(head, 'text');
  const starts = `starts_with(${col}, ${h})`;
  if (rest.length === 1 && rest[0]!.kind === 'globstar') return starts;
  if (rest.length === 1 && rest[0]!.kind === 'star') {
    const more = `length(${col}) > length(${h})`;
    return slashSeparates
      ? `(${starts} AND ${more} AND strpos(substr(${col}, length(${h}) + 1), '/') = 0)`
      : `(${starts} AND ${more})`;
  }
  return `(${starts} AND ${regexMatch(col, globPattern(glob, slashSeparates), params)})`;
}

const NOT_SLASH = postgresSet(complementSet(setOf(0x2f)));
const ANY = postgresSet(ANY_CHAR);

/**
 * A glob as an anchored PostgreSQL pattern, from the same tokens the automaton runs; without
 * `slashSeparates` (value globs) `*` is one or more of any character.
 */
export function globPattern(glob: string, slashSeparates = true): string {
  const star = slashSeparates ? NOT_SLASH : ANY;
  const body = parseGlob(glob)
    .map((t) =>
      t.kind === 'globstar' ? `${ANY}*` : t.kind === 'star' ? `${star}+` : postgresSet(setOf(t.cp)),
    )
    .join('');
  return `^${body}$`;
}

// ---------------------------------------------------------------------------------------------
// Property filters: compareProperty over jsonb

/** 2^1024 − 2^970: JSON numbers at least this large parse to ±Infinity in JavaScript. */
const DOUBLE_OVERFLOW = (2n ** 1024n - 2n ** 970n).toString();
/** 2^-1075 as exact decimal text: JSON numbers at most this small parse to 0. */
const DOUBLE_UNDERFLOW = (() => {
  const digits = (5n ** 1075n).toString();
  return `0.${digits.padStart(1075, '0')}`;
})();

/** The numeral pattern of `parseDecimal` (ASCII digits), for `regexp_match`. */
const NUMERAL = '^([+-]?)([0-9]*)(?:\\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$';

interface Expected {
  dec: Decimal | null;
  str: string;
  bool: boolean;
}

/** Sign (-1, 0, 1), position of the leading digit, significant digits: `compareDecimals`' key. */
function decimalKey(d: Decimal): { sign: number; top: bigint; sig: string } {
  const coeff = d.coefficient.replace(/^0+/, '');
  let end = coeff.length;
  while (end > 0 && coeff.charCodeAt(end - 1) === 0x30) end -= 1;
  const sig = coeff.slice(0, end);
  const sign = sig === '' ? 0 : d.negative ? -1 : 1;
  return { sign, top: BigInt(coeff.length) + BigInt(d.exponent), sig };
}

/** Whether the text `s` is a numeral to `parseDecimal` (see {@link numeralCompareSql}). */
function isNumeralSql(s: string, params: SqlParamSink): string {
  return `COALESCE((SELECT x.m IS NOT NULL AND (x.m[2] <> '' OR coalesce(x.m[3], '') <> '')
      AND abs(coalesce(x.m[4], '0')::numeric) <= 1e15
    FROM (SELECT regexp_match(${s} COLLATE "C", ${params.add(NUMERAL)}) AS m) x), false)`;
}

/**
 * Three-way comparison (-1, 0, 1; NULL when `s` is not a numeral) of the numeral text `s` with
 * the expected decimal, computed from the text like `compareDecimals` (never through
 * `numeric`, whose range is smaller than the numerals JavaScript accepts).
 */
function numeralCompareSql(s: string, e: Decimal, params: SqlParamSink): string {
  const k = decimalKey(e);
  const eTop = params.add(k.top.toString(), 'numeric');
  const eSig = params.add(k.sig, 'text');
  const m = `regexp_match(${s} COLLATE "C", ${params.add(NUMERAL)})`;
  // x.m: the match; digits without leading zeros, significant digits, sign, top.
  return `(SELECT CASE
      WHEN y.sign <> ${k.sign} THEN CASE WHEN y.sign < ${k.sign} THEN -1 ELSE 1 END
      WHEN y.sign = 0 THEN 0
      ELSE y.sign * CASE
        WHEN y.top <> ${eTop} THEN CASE WHEN y.top < ${eTop} THEN -1 ELSE 1 END
        WHEN y.sig = ${eSig} THEN 0
        WHEN y.sig COLLATE "C" < ${eSig} THEN -1 ELSE 1 END
      END
    FROM (SELECT CASE WHEN rtrim(z.digits, '0') = '' THEN 0 WHEN z.m[1] = '-' THEN -1 ELSE 1 END AS sign,
                 length(z.digits) + z.ex - length(z.frac) AS top,
                 rtrim(z.digits, '0') AS sig
            FROM (SELECT x.m, ltrim(x.m[2] || coalesce(x.m[3], ''), '0') AS digits,
                         coalesce(x.m[3], '') AS frac, coalesce(x.m[4], '0')::numeric AS ex
                    FROM (SELECT ${m} AS m) x
                   WHERE x.m IS NOT NULL AND (x.m[2] <> '' OR coalesce(x.m[3], '') <> '')
                     AND abs(coalesce(x.m[4], '0')::numeric) <= 1e15) z) y)`;
}

/**
 * Three-way comparison of a finite JSON number `n` (numeric), as the JavaScript double it
 * parses to and then as the decimal of that double's shortest text, with the expected decimal.
 * Doubles are ordered like their shortest texts, and a double below (above) the double nearest
 * the expected value has a shortest text below (above) it; only that nearest double needs the
 * exact comparison, done here once.
 */
function numberCompareSql(n: string, e: Decimal, params: SqlParamSink): string {
  const nearest = Number(`${e.negative ? '-' : ''}${e.coefficient}e${e.exponent}`);
  const tie = Number.isFinite(nearest) ? compareDecimals(decimalOf(nearest)!, e) : 0;
  const d0 = params.add(String(nearest), 'float8');
  const dbl = `(CASE WHEN abs(${n}) <= ${params.add(DOUBLE_UNDERFLOW, 'numeric')} THEN 0::float8 ELSE ${n}::float8 END)`;
  return `(CASE WHEN ${dbl} < ${d0} THEN -1 WHEN ${dbl} > ${d0} THEN 1 ELSE ${tie} END)`;
}

function filterSql(f: PropertyFilter, props: string, params: SqlParamSink): string {
  if (typeof f.key !== 'string') return 'false';
  const v = `(${props} -> ${params.add(checkText(f.key), 'text')})`;
  const t = `jsonb_typeof(${v})`;
  const missing = `(${v} IS NULL OR ${t} = 'null')`;
  if (f.operator === 'exists') return `NOT ${missing}`;
  if (f.value === undefined || f.value === null) return 'false';
  const e: Expected = {
    dec: decimalOf(f.value),
    str: checkText(stringForm(f.value)),
    bool: typeof f.value === 'boolean',
  };
  const text = `(${v} #>> '{}')`;
  const num = `(${v})::numeric`;
  const big = params.add(DOUBLE_OVERFLOW, 'numeric');
  const finite = `abs(${num}) < ${big}`;
  const jsonLike = e.str.startsWith('{') || e.str.startsWith('[');
  switch (f.operator) {
    case 'equals':
    case 'not_equals': {
      if (jsonLike) throw new Unrenderable();
      const es = params.add(e.str, 'text');
      const eq = `CASE ${t}
        WHEN 'string' THEN ${e.dec ? `${numeralCompareSql(text, e.dec, params)} = 0` : `${text} = ${es}`}
        WHEN 'number' THEN ${
          e.dec
            ? `${finite} AND ${numberCompareSql(num, e.dec, params)} = 0`
            : `(${num} >= ${big} AND ${es} = 'Infinity') OR (${num} <= -${big} AND ${es} = '-Infinity')`
        }
        WHEN 'boolean' THEN ${text} = ${es}
        ELSE false END`;
      return f.operator === 'equals'
        ? `(NOT ${missing} AND COALESCE(${eq}, false))`
        : `(${missing} OR NOT COALESCE(${eq}, false))`;
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (jsonLike) throw new Unrenderable();
      const test = { gt: '> 0', gte: '>= 0', lt: '< 0', lte: '<= 0' }[f.operator];
      let cmp: string;
      if (e.dec) {
        cmp = `CASE ${t}
          WHEN 'string' THEN ${numeralCompareSql(text, e.dec, params)}
          WHEN 'number' THEN CASE WHEN ${finite} THEN ${numberCompareSql(num, e.dec, params)} END
          END`;
      } else if (e.bool) {
        return 'false';
      } else {
        const es = params.add(e.str, 'text');
        // JSON text starts with `{` or `[`; the value does not (see jsonLike), so its first
        // character decides.
        const first = e.str === '' ? '' : String.fromCodePoint(e.str.codePointAt(0)!);
        const objectCmp = compareCodePoints('{', first);
        const arrayCmp = compareCodePoints('[', first);
        cmp = `CASE ${t}
          WHEN 'string' THEN CASE WHEN ${isNumeralSql(text, params)} THEN NULL
                               WHEN ${text} = ${es} THEN 0
                               WHEN ${text} COLLATE "C" < ${es} THEN -1 ELSE 1 END
          WHEN 'number' THEN CASE WHEN ${num} >= ${big} THEN ${compareCodePoints('Infinity', e.str)}
                                  WHEN ${num} <= -${big} THEN ${compareCodePoints('-Infinity', e.str)} END
          WHEN 'object' THEN ${objectCmp}
          WHEN 'array' THEN ${arrayCmp}
          END`;
      }
      return `(NOT ${missing} AND COALESCE((${cmp}) ${test}, false))`;
    }
    default:
      // `contains` needs JavaScript's text of numbers and objects; unknown operators never match.
      if (f.operator === 'contains') throw new Unrenderable();
      return 'false';
  }
}
