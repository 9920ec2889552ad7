import safeRegex from 'safe-regex2';

/**
 * Which user-written regular expressions Goalpost accepts for goals.
 *
 * Goal regexes run in the processor against every event of a site, so a pattern that can
 * backtrack exponentially is a denial of service. They are JavaScript regexes compiled with the
 * `u` flag (plus `i` when the goal is case-insensitive): Unicode mode is stricter about syntax
 * (`\-` or a lone `{` are errors instead of silently literal), matches by code point, and is
 * what makes case-insensitive matching use Unicode simple case folding (`ſ` ~ `s`, `K` ~ `k`).
 *
 * The pattern is parsed here (Unicode-mode grammar) rather than scanned with string searches, so
 * `\(?=` (an escaped parenthesis) and `[(?=]` (a character class) are not mistaken for
 * lookaheads, and `[\1]` is not a backreference.
 */

/** Longest accepted pattern, in UTF-16 code units (`String.length`). */
export const MAX_REGEX_LENGTH = 500;

/** A set of code points as sorted, non-overlapping, non-adjacent inclusive ranges. */
type CharSet = ReadonlyArray<readonly [number, number]>;

/** The structure of a pattern, reduced to what matters for matching cost. */
type Node =
  /** Exactly one character from `set`. */
  | { kind: 'char'; set: CharSet }
  /** Consumes nothing: `^`, `$`, `\b`, lookarounds, backreferences (refused anyway). */
  | { kind: 'empty' }
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'repeat'; min: number; max: number; body: Node };

const MAX_CODE_POINT = 0x10ffff;
const ANY: CharSet = [[0, MAX_CODE_POINT]];

function normalizeSet(ranges: Array<readonly [number, number]>): CharSet {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function union(...sets: CharSet[]): CharSet {
  return normalizeSet(sets.flat());
}

function complement(set: CharSet): CharSet {
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function overlaps(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i] as readonly [number, number];
    const [blo, bhi] = b[j] as readonly [number, number];
    if (alo <= bhi && blo <= ahi) return true;
    if (ahi < bhi) i += 1;
    else j += 1;
  }
  return false;
}

/**
 * One code point and its case variants. The checker does not know whether the goal will be
 * case-insensitive, so it assumes it is: `(a|A)*` is ambiguous under the `i` flag.
 */
function charWithCase(cp: number): CharSet {
  const c = String.fromCodePoint(cp);
  const variants = [c, c.toLowerCase(), c.toUpperCase(), c.toUpperCase().toLowerCase()];
  const points = variants.filter((v) => [...v].length === 1).map((v) => v.codePointAt(0) as number);
  return normalizeSet(points.map((p) => [p, p] as const));
}

/** A class range plus its ASCII case counterpart (non-ASCII ranges are taken as written). */
function rangeWithCase(lo: number, hi: number): CharSet {
  const ranges: Array<readonly [number, number]> = [[lo, hi]];
  const shift = (from: number, to: number, delta: number): void => {
    const a = Math.max(lo, from);
    const b = Math.min(hi, to);
    if (a <= b) ranges.push([a + delta, b + delta]);
  };
  shift(0x41, 0x5a, 0x20);
  shift(0x61, 0x7a, -0x20);
  return normalizeSet(ranges);
}

const DIGIT: CharSet = [[0x30, 0x39]];
// With `iu`, \w also matches U+017F (ſ) and U+212A (Kelvin sign).
const WORD: CharSet = normalizeSet([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
  [0x17f, 0x17f],
  [0x212a, 0x212a],
]);
const SPACE: CharSet = normalizeSet([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
const DOT: CharSet = complement(
  normalizeSet([
    [0x0a, 0x0a],
    [0x0d, 0x0d],
    [0x2028, 0x2029],
  ]),
);

/** An escape or class atom: its character set and, when it is a single character, its code. */
interface Atom {
  node: Node;
  code: number | null;
}

/**
 * Recursive-descent parser for the ECMAScript Unicode-mode pattern grammar. It only runs on
 * patterns that `new RegExp(p, 'u')` accepted, so it does not re-validate syntax; it records
 * the features Goalpost refuses and builds a {@link Node} tree for the cost checks.
 */
class PatternParser {
  private pos = 0;
  hasBackreference = false;
  hasLookaround = false;

  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.disjunction();
    if (this.pos < this.src.length) throw new Error(`unexpected ${this.src[this.pos]}`);
    return node;
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  private eat(text: string): boolean {
    if (!this.src.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  private nextCodePoint(): number {
    const cp = this.src.codePointAt(this.pos);
    if (cp === undefined) throw new Error('unexpected end of pattern');
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  private disjunction(): Node {
    const options = [this.alternative()];
    while (this.eat('|')) options.push(this.alternative());
    return options.length === 1 ? (options[0] as Node) : { kind: 'alt', options };
  }

  private alternative(): Node {
    const items: Node[] = [];
    while (this.pos < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      items.push(this.term());
    }
    return { kind: 'seq', items };
  }

  private term(): Node {
    const atom = this.atom();
    const quantifier = this.quantifier();
    return quantifier === null ? atom : { kind: 'repeat', ...quantifier, body: atom };
  }

  private quantifier(): { min: number; max: number } | null {
    let q: { min: number; max: number } | null = null;
    if (this.eat('*')) q = { min: 0, max: Infinity };
    else if (this.eat('+')) q = { min: 1, max: Infinity };
    else if (this.eat('?')) q = { min: 0, max: 1 };
    else if (this.peek() === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
      if (m === null) throw new Error('bad quantifier');
      this.pos += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      q = { min, max };
    }
    if (q !== null) this.eat('?'); // lazy or greedy: same worst case
    return q;
  }

  private atom(): Node {
    if (this.eat('^') || this.eat('$')) return { kind: 'empty' };
    if (this.eat('.')) return { kind: 'char', set: DOT };
    if (this.eat('(')) return this.group();
    if (this.eat('[')) return { kind: 'char', set: this.characterClass() };
    if (this.eat('\\')) return this.escape(false).node;
    return { kind: 'char', set: charWithCase(this.nextCodePoint()) };
  }

  private group(): Node {
    let lookaround = false;
    if (this.eat('?')) {
      if (this.eat('=') || this.eat('!') || this.eat('<=') || this.eat('<!')) lookaround = true;
      else if (this.eat('<'))
        this.skipPast('>'); // named capture group
      else this.skipPast(':'); // `(?:` and modifier groups such as `(?i:`
    }
    const body = this.disjunction();
    if (!this.eat(')')) throw new Error('unterminated group');
    if (lookaround) {
      this.hasLookaround = true;
      return { kind: 'empty' };
    }
    return body;
  }

  private skipPast(ch: string): void {
    const at = this.src.indexOf(ch, this.pos);
    if (at === -1) throw new Error(`expected ${ch}`);
    this.pos = at + 1;
  }

  private characterClass(): CharSet {
    const negated = this.eat('^');
    const parts: CharSet[] = [];
    while (!this.eat(']')) {
      const from = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        this.pos += 1;
        const to = this.classAtom();
        if (from.code === null || to.code === null) throw new Error('bad class range');
        parts.push(rangeWithCase(from.code, to.code));
      } else if (from.node.kind === 'char') {
        parts.push(from.node.set);
      }
    }
    const set = union(...parts);
    return negated ? complement(set) : set;
  }

  private classAtom(): Atom {
    if (this.eat('\\')) return this.escape(true);
    const code = this.nextCodePoint();
    return { node: { kind: 'char', set: charWithCase(code) }, code };
  }

  private escape(inClass: boolean): Atom {
    const single = (code: number): Atom => ({
      node: { kind: 'char', set: charWithCase(code) },
      code,
    });
    const set = (s: CharSet): Atom => ({ node: { kind: 'char', set: s }, code: null });
    const empty: Atom = { node: { kind: 'empty' }, code: null };
    const c = this.src[this.pos];
    if (c === undefined) throw new Error('trailing backslash');
    this.pos += 1;
    switch (c) {
      case 'd':
        return set(DIGIT);
      case 'D':
        return set(complement(DIGIT));
      case 'w':
        return set(WORD);
      case 'W':
        return set(complement(WORD));
      case 's':
        return set(SPACE);
      case 'S':
        return set(complement(SPACE));
      case 'p':
      case 'P':
        // Unicode property classes are not expanded here; treating them as "any character"
        // can only make the ambiguity check stricter, never let a dangerous pattern through.
        this.skipPast('}');
        return set(ANY);
      case 'b':
        return inClass ? single(0x08) : empty;
      case 'B':
        return empty;
      case 'k':
        this.skipPast('>');
        this.hasBackreference = true;
        return empty;
      case 't':
        return single(0x09);
      case 'n':
        return single(0x0a);
      case 'v':
        return single(0x0b);
      case 'f':
        return single(0x0c);
      case 'r':
        return single(0x0d);
      case '0':
        return single(0);
      case 'c':
        return single(this.nextCodePoint() % 32);
      case 'x':
        return single(this.hex(2));
      case 'u':
        return single(this.unicodeEscape());
      default:
        if (c >= '1' && c <= '9') {
          // In Unicode mode `\N` is always a backreference (an undefined group is a syntax
          // error), except inside a class, where it is not allowed at all.
          while (/\d/.test(this.peek() ?? '')) this.pos += 1;
          this.hasBackreference = true;
          return empty;
        }
        // Identity escape of a syntax character (`\.`, `\/`, `\-` in a class, ...).
        this.pos -= 1;
        return single(this.nextCodePoint());
    }
  }

  private hex(digits: number): number {
    const text = this.src.slice(this.pos, this.pos + digits);
    if (!/^[0-9A-Fa-f]+$/.test(text) || text.length !== digits) throw new Error('bad hex escape');
    this.pos += digits;
    return parseInt(text, 16);
  }

  private unicodeEscape(): number {
    if (this.eat('{')) {
      const close = this.src.indexOf('}', this.pos);
      if (close === -1) throw new Error('bad \\u{} escape');
      const cp = parseInt(this.src.slice(this.pos, close), 16);
      this.pos = close + 1;
      return cp;
    }
    const first = this.hex(4);
    // `\uD83D\uDE00` is one code point in Unicode mode.
    if (first >= 0xd800 && first <= 0xdbff && /^\\u[dD][c-fC-F][0-9A-Fa-f]{2}/.test(this.rest())) {
      this.pos += 2;
      const second = this.hex(4);
      return 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
    }
    return first;
  }

  private rest(): string {
    return this.src.slice(this.pos);
  }
}

/** Whether `node` can match the empty string. */
function nullable(node: Node): boolean {
  switch (node.kind) {
    case 'char':
      return false;
    case 'empty':
      return true;
    case 'seq':
      return node.items.every(nullable);
    case 'alt':
      return node.options.some(nullable);
    case 'repeat':
      return node.min === 0 || nullable(node.body);
  }
}

/** The characters a match of `node` can start with. */
function firstChars(node: Node): CharSet {
  switch (node.kind) {
    case 'char':
      return node.set;
    case 'empty':
      return [];
    case 'seq': {
      const sets: CharSet[] = [];
      for (const item of node.items) {
        sets.push(firstChars(item));
        if (!nullable(item)) break;
      }
      return union(...sets);
    }
    case 'alt':
      return union(...node.options.map(firstChars));
    case 'repeat':
      return firstChars(node.body);
  }
}

/**
 * Finds an alternation inside a repetition whose alternatives can start with the same
 * character, as in `(a|a)*`, `(a|ab)+`, `(\w|\d)+`, `(.|\s)*`. Each repetition then has two
 * ways to consume the same text, so a failing match tries 2^n combinations. safe-regex2 only
 * measures quantifier nesting and does not see these.
 *
 * The test is deliberately conservative: `(ab|ac)*` is refused although the second character
 * tells the branches apart; writing it as `(a(b|c))*` is accepted. Repetitions with a maximum
 * of one (`?`) cannot multiply, so their alternatives are not checked.
 */
function hasAmbiguousRepetition(node: Node, inRepeat: boolean): boolean {
  switch (node.kind) {
    case 'char':
    case 'empty':
      return false;
    case 'seq':
      return node.items.some((item) => hasAmbiguousRepetition(item, inRepeat));
    case 'alt': {
      if (inRepeat) {
        const firsts = node.options.map(firstChars);
        for (let i = 0; i < firsts.length; i += 1) {
          for (let j = i + 1; j < firsts.length; j += 1) {
            if (overlaps(firsts[i] as CharSet, firsts[j] as CharSet)) return true;
          }
        }
      }
      return node.options.some((option) => hasAmbiguousRepetition(option, inRepeat));
    }
    case 'repeat':
      return hasAmbiguousRepetition(node.body, inRepeat || node.max > 1);
  }
}

/**
 * The pattern's structure in the plain syntax safe-regex2's parser (`ret`) understands: one
 * `a` per character, groups, alternation and quantifiers. `ret` parses the legacy, non-Unicode
 * grammar, so on the original text it would read `\u{10}` as `u` repeated ten times and fail
 * on non-ASCII group names; the skeleton has exactly the original quantifier structure.
 */
function skeleton(node: Node): string {
  switch (node.kind) {
    case 'char':
      return 'a';
    case 'empty':
      return '';
    case 'seq':
      return node.items.map(skeleton).join('');
    case 'alt':
      return `(?:${node.options.map(skeleton).join('|')})`;
    case 'repeat': {
      const max = node.max === Infinity ? '' : String(node.max);
      const range = node.max === node.min ? `{${node.min}}` : `{${node.min},${max}}`;
      return `(?:${skeleton(node.body)})${range}`;
    }
  }
}

/**
 * Checks a goal's regular expression. Returns `null` when it is acceptable, otherwise a message
 * for the user. A pattern is refused when it:
 * - is longer than {@link MAX_REGEX_LENGTH} characters;
 * - is not a valid JavaScript regex in Unicode mode (`new RegExp(pattern, 'u')`);
 * - uses backreferences (`\1`, `\k<name>`) or lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`);
 * - is flagged by safe-regex2 (nested quantifiers such as `(a+)+`, or more than 25
 *   quantifiers), which also catches harmless shapes like `(https?://)?`;
 * - repeats an alternation whose branches can start alike (`(a|a)*`, `(a|ab)+`), which
 *   safe-regex2 misses.
 *
 * Case-insensitive compilation is assumed for the last check. Never throws.
 */
export function checkRegex(pattern: string): string | null {
  if (typeof pattern !== 'string') return 'The regular expression must be a string.';
  if (pattern.length > MAX_REGEX_LENGTH) {
    return `The regular expression is too long (${pattern.length} characters; the limit is ${MAX_REGEX_LENGTH}).`;
  }
  try {
    new RegExp(pattern, 'u');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return `Not a valid JavaScript regular expression (Unicode mode): ${reason}`;
  }
  const parser = new PatternParser(pattern);
  let tree: Node;
  try {
    tree = parser.parse();
  } catch {
    // The engine accepted syntax this parser does not know (a newer ECMAScript feature).
    // Refuse rather than run a pattern nobody has checked.
    return 'The regular expression uses syntax that cannot be checked for safety.';
  }
  if (parser.hasBackreference) {
    return 'Backreferences (\\1, \\k<name>) are not supported in goal regular expressions.';
  }
  if (parser.hasLookaround) {
    return 'Lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported in goal regular expressions.';
  }
  if (!safeRegex(skeleton(tree))) {
    return 'The regular expression could take exponential time on some inputs: it nests quantifiers (as in (a+)+ or (x?)*) or uses more than 25 of them. Simplify it.';
  }
  if (hasAmbiguousRepetition(tree, false)) {
    return 'The regular expression could take exponential time on some inputs: a repeated group has alternatives that can start with the same character (as in (a|ab)*). Factor out the common start, e.g. (a(b|c))* instead of (ab|ac)*.';
  }
  return null;
}
