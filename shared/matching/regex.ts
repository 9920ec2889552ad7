import { RE2JS } from 're2js';
import { foldClosure } from './case-orbits.js';
import {
  complementSet,
  normalizeSet,
  subtractSets,
  unionSets,
  WORD_SET,
  type CharSet,
} from './char-set.js';
import {
  parseRegex,
  RegexSyntaxError,
  type ClassItem,
  type ParsedRegex,
  type RegexNode,
} from './regex-syntax.js';

/**
 * Goal regular expressions (and statistics regex filters): parsed once by our own parser
 * (`regex-syntax.ts`), run in process by re2js, a linear-time RE2 engine, and rendered for
 * PostgreSQL by {@link toPostgresRegex}. Matching costs O(input length × program size), and
 * the program size is capped, so no pattern can make one event expensive.
 */

/** Longest accepted pattern, in UTF-16 code units. */
export const MAX_REGEX_LENGTH = 500;
/**
 * Largest accepted re2js program (instructions). Beyond about 600 the engine's lazy DFA can
 * run out of its memory budget on 2 KB inputs and fall back to a 100× slower NFA; at 400 the
 * worst input found costs about 0.07 ms.
 */
export const MAX_PROGRAM_SIZE = 400;

/** A pattern that cannot be run, with a message for the user. */
export class RegexRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexRefusedError';
  }
}

/** A compiled pattern. `test` is an unanchored search, like `RegExp.prototype.test`. */
export interface CompiledRegex {
  readonly parsed: ParsedRegex;
  readonly caseInsensitive: boolean;
  test(subject: string): boolean;
}

const hex = (cp: number) => cp.toString(16);
const RE2_META = new Set([...'\\^$.|?*+()[]{}']);

const CONTROL_NAMES: Record<number, string> = {
  9: '\\t',
  10: '\\n',
  11: '\\v',
  12: '\\f',
  13: '\\r',
};

/** One code point as RE2 text outside a class. */
function re2Char(cp: number): string {
  const c = String.fromCodePoint(cp);
  if (/^[A-Za-z0-9_]$/.test(c)) return c;
  if (RE2_META.has(c)) return `\\${c}`;
  if (cp > 0x20 && cp < 0x7f) return c;
  return CONTROL_NAMES[cp] ?? `\\x{${hex(cp)}}`;
}

/** One code point as RE2 text inside a class. */
function re2ClassChar(cp: number): string {
  const c = String.fromCodePoint(cp);
  if (/^[A-Za-z0-9_]$/.test(c)) return c;
  if (cp > 0x20 && cp < 0x7f && !'\\]^-['.includes(c)) return c;
  return CONTROL_NAMES[cp] ?? `\\x{${hex(cp)}}`;
}

function re2Ranges(set: CharSet): string {
  return set
    .map(([lo, hi]) => (lo === hi ? re2ClassChar(lo) : `${re2ClassChar(lo)}-${re2ClassChar(hi)}`))
    .join('');
}

const sameSet = (a: CharSet, b: CharSet) =>
  a.length === b.length && a.every(([lo, hi], i) => lo === b[i]![0] && hi === b[i]![1]);

/**
 * A class item as RE2 class text. A negated `\w` stays `\W`: under case folding RE2 folds an
 * item before negating it, and `\w` is not closed under folding (ſ, K). Every other negated
 * item (`\D`, `\S`, the JavaScript `\S`) is closed under folding, so its complement is exact.
 */
function re2Item(i: ClassItem): string {
  if (!i.negated) return re2Ranges(i.set);
  if (sameSet(i.set, WORD_SET)) return '\\W';
  return re2Ranges(complementSet(i.set));
}

function re2Quantifier(min: number, max: number): string {
  if (min === 0 && max === Infinity) return '*';
  if (min === 1 && max === Infinity) return '+';
  if (min === 0 && max === 1) return '?';
  if (max === Infinity) return `{${min},}`;
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

/**
 * The tree as RE2 text with explicit sets: what re2js compiles. `original` (the text the tree
 * was parsed from) makes it keep every portable part as the user wrote it: that is the
 * readable rewrite of a stored JavaScript-era pattern.
 */
export function toRe2Source(node: RegexNode, original?: string): string {
  if (original !== undefined && node.portable) return original.slice(node.start, node.end);
  const r = (n: RegexNode) => toRe2Source(n, original);
  switch (node.kind) {
    case 'literal':
      return re2Char(node.cp);
    case 'class': {
      const only = node.items.length + node.props.length === 1 && !node.negated;
      if (only && node.props.length === 1) return re2Prop(node.props[0]!);
      const single = node.items[0];
      if (only && single?.negated && !sameSet(single.set, WORD_SET)) {
        return `[^${re2Ranges(single.set)}]`;
      }
      const body = node.items.map(re2Item).join('') + node.props.map(re2Prop).join('');
      if (body === '') return node.negated ? '[\\x{0}-\\x{10ffff}]' : '[^\\x{0}-\\x{10ffff}]';
      return `[${node.negated ? '^' : ''}${body}]`;
    }
    case 'assert':
      return { begin: '^', end: '$', word: '\\b', not_word: '\\B' }[node.what];
    case 'group':
      return `(${node.capture ? '' : '?:'}${r(node.body)})`;
    case 'alt':
      return node.options.map(r).join('|');
    case 'seq':
      return node.items.map(r).join('');
    case 'repeat':
      return `${r(node.body)}${re2Quantifier(node.min, node.max)}${node.lazy ? '?' : ''}`;
  }
}

const re2Prop = (p: { name: string; negated: boolean }) => `\\${p.negated ? 'P' : 'p'}{${p.name}}`;

function refusalOf(err: unknown): string {
  if (err instanceof RegexSyntaxError) {
    return `${err.message} (at character ${err.position + 1})`;
  }
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/^error parsing regexp: /, '');
}

/**
 * Compiles a Goalpost regex. Throws {@link RegexRefusedError} with a message for the user when
 * it is too long, not in the dialect, or too big a program for the engine.
 */
export function compileRegex(source: string, caseInsensitive: boolean): CompiledRegex {
  if (typeof source !== 'string')
    throw new RegexRefusedError('the regular expression must be a string');
  if (source.length > MAX_REGEX_LENGTH) {
    throw new RegexRefusedError(
      `the regular expression is too long (${source.length} characters; the limit is ${MAX_REGEX_LENGTH})`,
    );
  }
  let parsed: ParsedRegex;
  try {
    parsed = parseRegex(source, 'goalpost');
  } catch (err) {
    throw new RegexRefusedError(refusalOf(err));
  }
  return compileParsed(parsed, caseInsensitive);
}

function compileParsed(parsed: ParsedRegex, caseInsensitive: boolean): CompiledRegex {
  let re: RE2JS;
  try {
    re = RE2JS.compile(toRe2Source(parsed.root), caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    throw new RegexRefusedError(refusalOf(err));
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    throw new RegexRefusedError(
      `the regular expression is too complex (program size ${size}; the limit is ${MAX_PROGRAM_SIZE}): use fewer or smaller repetitions`,
    );
  }
  return { parsed, caseInsensitive, test: (subject) => re.test(subject) };
}

/** Why `source` is refused as a goal or filter regex, or null when it is accepted. */
export function checkRegex(source: string, caseInsensitive = false): string | null {
  try {
    compileRegex(source, caseInsensitive);
    return null;
  } catch (err) {
    if (err instanceof RegexRefusedError) return err.message;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** Code points PostgreSQL text never holds (NUL, surrogates): left out of emitted sets. */
const NOT_IN_POSTGRES_TEXT: CharSet = normalizeSet([
  [0, 0],
  [0xd800, 0xdfff],
]);

function pgChar(cp: number): string {
  const c = String.fromCodePoint(cp);
  if (/^[A-Za-z0-9]$/.test(c)) return c;
  return cp > 0xffff ? `\\U${hex(cp).padStart(8, '0')}` : `\\u${hex(cp).padStart(4, '0')}`;
}

/** A set as one PostgreSQL ARE atom: a character, or a bracket of explicit code points. */
export function postgresSet(set: CharSet): string {
  const s = subtractSets(set, NOT_IN_POSTGRES_TEXT);
  if (s.length === 0) return '[^\\u0001-\\U0010ffff]';
  if (s.length === 1 && s[0]![0] === s[0]![1]) return pgChar(s[0]![0]);
  return `[${s.map(([lo, hi]) => (lo === hi ? pgChar(lo) : `${pgChar(lo)}-${pgChar(hi)}`)).join('')}]`;
}

/** The set a class node stands for, folded like RE2 when `ci`. Null when it has `\p` classes. */
function classSet(node: Extract<RegexNode, { kind: 'class' }>, ci: boolean): CharSet | null {
  if (node.props.length > 0) return null;
  const parts = node.items.map((i) => {
    const s = ci ? foldClosure(i.set) : i.set;
    return i.negated ? complementSet(s) : s;
  });
  const u = unionSets(...parts);
  return node.negated ? complementSet(u) : u;
}

function pgQuantifier(min: number, max: number): string {
  if (min === 0 && max === Infinity) return '*';
  if (min === 1 && max === Infinity) return '+';
  if (min === 0 && max === 1) return '?';
  if (max === Infinity) return `{${min},}`;
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

function pgNode(node: RegexNode, ci: boolean): string | null {
  switch (node.kind) {
    case 'literal':
      return ci
        ? postgresSet(foldClosure([[node.cp, node.cp]]))
        : postgresSet([[node.cp, node.cp]]);
    case 'class': {
      const s = classSet(node, ci);
      return s === null ? null : postgresSet(s);
    }
    case 'assert':
      // `\y`/`\Y` are PostgreSQL's word boundaries (its `\b` is a backspace); under COLLATE "C"
      // its word characters are ASCII letters, digits and `_`, like RE2's.
      return { begin: '^', end: '$', word: '\\y', not_word: '\\Y' }[node.what];
    case 'group': {
      const b = pgNode(node.body, ci);
      return b === null ? null : `(?:${b})`;
    }
    case 'alt':
    case 'seq': {
      const parts = (node.kind === 'alt' ? node.options : node.items).map((n) => pgNode(n, ci));
      if (parts.some((p) => p === null)) return null;
      const text = parts.join(node.kind === 'alt' ? '|' : '');
      return node.kind === 'seq' && text === '' ? '(?:)' : text;
    }
    case 'repeat': {
      const b = pgNode(node.body, ci);
      // Lazy and greedy repetitions accept the same strings; `~` only asks whether one matches.
      return b === null ? null : `${b}${pgQuantifier(node.min, node.max)}`;
    }
  }
}

/**
 * The PostgreSQL ARE pattern that accepts exactly the strings the compiled regex finds a match
 * in, for use as `column COLLATE "C" ~ pattern` (never `~*`: case-insensitivity is expanded
 * here with the engine's own folding orbits). Every set is written out as explicit code
 * points, so neither the collation nor PostgreSQL's reading of `\w`, `\s`, `.` or `\b` enters.
 * Null when the pattern uses `\p{…}` classes, which PostgreSQL lacks.
 */
export function toPostgresRegex(regex: CompiledRegex): string | null {
  return pgNode(regex.parsed.root, regex.caseInsensitive);
}

// ---------------------------------------------------------------------------------------------
// Stored JavaScript-era patterns

/** How the new engine reads a regex stored when goals were JavaScript (`u` flag) regexes. */
export type StoredRegexVerdict =
  /** The Goalpost dialect reads the text exactly as JavaScript did. */
  | { verdict: 'same' }
  /** The text changes, the meaning does not: `rewrite` is the Goalpost regex to store. */
  | { verdict: 'rewritten'; rewrite: string; reason: string }
  /** No Goalpost regex means the same; the goal never matches until it is changed. */
  | { verdict: 'refused'; reason: string };

/**
 * Classifies a stored regex goal pattern (JavaScript syntax, `u` flag, `iu` when
 * case-insensitive). `rewritten` covers every JavaScript spelling or meaning with an exact
 * Goalpost equivalent: `.` (which in JavaScript also excludes `\r`, U+2028, U+2029), `\s`
 * (JavaScript's larger whitespace set), `\uXXXX`, `\cX`, `[\b]`, `[^]`, `\p{Script=…}`.
 * `refused` covers patterns no Goalpost regex equals (`\b`, `\B` or `\P{…}` in a
 * case-insensitive goal, where JavaScript folds differently) and patterns the engine refuses
 * (too long, too complex, syntax it lacks).
 */
export function classifyStoredRegex(source: string, caseInsensitive: boolean): StoredRegexVerdict {
  let parsed: ParsedRegex;
  try {
    parsed = parseRegex(source, 'javascript');
  } catch (err) {
    return { verdict: 'refused', reason: refusalOf(err) };
  }
  if (caseInsensitive && parsed.wordBoundary) {
    return {
      verdict: 'refused',
      reason:
        'case-insensitive \\b or \\B: JavaScript counted ſ and K (Kelvin) as word characters, the new engine does not',
    };
  }
  if (caseInsensitive && parsed.negatedProperty) {
    return {
      verdict: 'refused',
      reason:
        'case-insensitive \\P{…}: JavaScript negated before folding, the new engine folds first',
    };
  }
  const rewrite = toRe2Source(parsed.root, source);
  try {
    compileRegex(rewrite, caseInsensitive);
  } catch (err) {
    return { verdict: 'refused', reason: (err as Error).message };
  }
  if (rewrite === source) return { verdict: 'same' };
  return {
    verdict: 'rewritten',
    rewrite,
    reason: `rewritten from ${source} so that it keeps its JavaScript meaning`,
  };
}
