import {
  ANY_CHAR,
  DIGIT_SET,
  JS_SPACE_SET,
  normalizeSet,
  RE2_SPACE_SET,
  WORD_SET,
  type CharSet,
} from './char-set.js';

/**
 * The one parser of Goalpost regular expressions, in two dialects:
 *
 * - `goalpost`: what goals and statistics filters accept from now on. RE2 syntax, restricted
 *   to a subset whose meaning is the same in the in-process engine (re2js) and, through
 *   {@link toPostgresRegex}, in PostgreSQL. See `docs` in shared/README.md.
 * - `javascript`: the JavaScript (`u` flag) reading that goals stored before issue 12 were
 *   validated and run with. Only the stored-goal classifier uses it, to rewrite a stored
 *   pattern into the `goalpost` dialect with the same meaning, or to say why it cannot.
 *
 * Both produce the same tree, in which every character class, `.`, `\d`… is an explicit set of
 * code points, so meaning never depends on how an engine reads an escape.
 */

export const MAX_REPEAT = 255;

/** A Unicode property class kept by name (general category or script, RE2 spelling). */
export interface PropertyRef {
  name: string;
  negated: boolean;
}

interface Span {
  /** Where the node is in the source text (UTF-16 offsets). */
  start: number;
  end: number;
  /** The node's source text means the same in RE2 syntax (the stored-goal rewrite keeps it). */
  portable: boolean;
}

/** One member of a class: `set`, or everything but `set` (`\W`, `\D`, `\S`). */
export interface ClassItem {
  set: CharSet;
  negated: boolean;
}

export type RegexNode = Span &
  (
    | { kind: 'literal'; cp: number }
    /**
     * One character of `(negated ? complement : identity)(⋃ items ∪ props)`. Items keep their
     * own negation (`\W`), because case folding applies to an item before it is negated.
     */
    | { kind: 'class'; negated: boolean; items: ClassItem[]; props: PropertyRef[] }
    | { kind: 'assert'; what: 'begin' | 'end' | 'word' | 'not_word' }
    | { kind: 'group'; capture: boolean; name: string | null; body: RegexNode }
    | { kind: 'alt'; options: RegexNode[] }
    | { kind: 'seq'; items: RegexNode[] }
    | { kind: 'repeat'; min: number; max: number; lazy: boolean; body: RegexNode }
  );

export class RegexSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'RegexSyntaxError';
  }
}

export type RegexDialect = 'goalpost' | 'javascript';

/** What the tree uses that matters for classification. */
export interface ParsedRegex {
  root: RegexNode;
  /** `\b` or `\B` somewhere. */
  wordBoundary: boolean;
  /** A negated property class (`\P{…}`) somewhere: JS folds it differently under `i`. */
  negatedProperty: boolean;
  /** Any `\p`/`\P` class: PostgreSQL has none. */
  property: boolean;
}

/** RE2's general categories (`\p{L}`, `\pL`) and `Any`. */
const RE2_CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs Any'.split(
    ' ',
  ),
);

/** JavaScript's long General_Category names → RE2's short ones. */
const JS_CATEGORY_ALIASES: Record<string, string> = {
  Other: 'C',
  Control: 'Cc',
  Format: 'Cf',
  Private_Use: 'Co',
  Surrogate: 'Cs',
  Letter: 'L',
  Lowercase_Letter: 'Ll',
  Modifier_Letter: 'Lm',
  Other_Letter: 'Lo',
  Titlecase_Letter: 'Lt',
  Uppercase_Letter: 'Lu',
  Mark: 'M',
  Combining_Mark: 'M',
  Spacing_Mark: 'Mc',
  Enclosing_Mark: 'Me',
  Nonspacing_Mark: 'Mn',
  Number: 'N',
  Decimal_Number: 'Nd',
  digit: 'Nd',
  Letter_Number: 'Nl',
  Other_Number: 'No',
  Punctuation: 'P',
  punct: 'P',
  Connector_Punctuation: 'Pc',
  Dash_Punctuation: 'Pd',
  Close_Punctuation: 'Pe',
  Final_Punctuation: 'Pf',
  Initial_Punctuation: 'Pi',
  Other_Punctuation: 'Po',
  Open_Punctuation: 'Ps',
  Symbol: 'S',
  Currency_Symbol: 'Sc',
  Modifier_Symbol: 'Sk',
  Math_Symbol: 'Sm',
  Other_Symbol: 'So',
  Separator: 'Z',
  Line_Separator: 'Zl',
  Paragraph_Separator: 'Zp',
  Space_Separator: 'Zs',
};

/** A script name both JavaScript (`\p{Script=X}`) and RE2 (`\p{X}`, long names) know. */
function isScriptName(name: string): boolean {
  if (!/^[A-Z][A-Za-z_]*$/.test(name)) return false;
  try {
    new RegExp(`\\p{Script=${name}}`, 'u');
    return true;
  } catch {
    return false;
  }
}

const NEWLINE: CharSet = [[0x0a, 0x0a]];
const JS_LINE_TERMINATORS: CharSet = normalizeSet([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]);
const item = (set: CharSet): ClassItem => ({ set, negated: false });

const SYNTAX_CHARS = new Set([...'\\^$.|?*+()[]{}']);
const isAsciiAlnum = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9]$/.test(c);
const isAsciiPunctOrSpace = (c: string | undefined) =>
  c !== undefined && /^[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/.test(c);

const CONTROL_ESCAPES: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13 };

/** An escape inside or outside a class: one code point, or a set (with its props). */
type EscapeResult =
  | { kind: 'cp'; cp: number; portable: boolean }
  | { kind: 'set'; items: ClassItem[]; props: PropertyRef[]; portable: boolean }
  | { kind: 'assert'; what: 'begin' | 'end' | 'word' | 'not_word'; portable: boolean };

class Parser {
  private pos = 0;
  wordBoundary = false;
  negatedProperty = false;
  property = false;

  constructor(
    private readonly src: string,
    private readonly dialect: RegexDialect,
  ) {}

  private fail(message: string, at = this.pos): never {
    throw new RegexSyntaxError(message, at);
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
    if (cp === undefined) this.fail('unexpected end of pattern');
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  parse(): RegexNode {
    const node = this.disjunction();
    if (this.pos < this.src.length) {
      this.fail(
        `unmatched ${this.src[this.pos]}${this.src[this.pos] === ')' ? '' : ' (escape it)'}`,
      );
    }
    return node;
  }

  private disjunction(): RegexNode {
    const start = this.pos;
    const options = [this.alternative()];
    while (this.eat('|')) options.push(this.alternative());
    if (options.length === 1) return options[0]!;
    return {
      kind: 'alt',
      options,
      start,
      end: this.pos,
      portable: options.every((o) => o.portable),
    };
  }

  private alternative(): RegexNode {
    const start = this.pos;
    const items: RegexNode[] = [];
    while (this.pos < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      items.push(this.term());
    }
    return { kind: 'seq', items, start, end: this.pos, portable: items.every((i) => i.portable) };
  }

  private term(): RegexNode {
    const start = this.pos;
    const atom = this.atom();
    const q = this.quantifier();
    if (q === null) return atom;
    if (atom.kind === 'assert') this.fail('an anchor or \\b cannot be repeated', start);
    const node: RegexNode = {
      kind: 'repeat',
      ...q,
      body: atom,
      start,
      end: this.pos,
      portable: atom.portable,
    };
    if (this.isQuantifierStart()) this.fail('a repetition cannot be repeated (use a group)');
    return node;
  }

  private isQuantifierStart(): boolean {
    const c = this.peek();
    if (c === '*' || c === '+' || c === '?') return true;
    return c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.pos));
  }

  private quantifier(): { min: number; max: number; lazy: boolean } | null {
    let min: number;
    let max: number;
    const at = this.pos;
    if (this.eat('*')) [min, max] = [0, Infinity];
    else if (this.eat('+')) [min, max] = [1, Infinity];
    else if (this.eat('?')) [min, max] = [0, 1];
    else if (this.peek() === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
      if (m === null)
        this.fail('{ must start a repetition {n}, {n,} or {n,m} (escape a literal {)');
      this.pos += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) {
        this.fail(`repetition counts are limited to ${MAX_REPEAT}`, at);
      }
      if (max < min) this.fail('repetition {n,m} needs n ≤ m', at);
    } else return null;
    const lazy = this.eat('?');
    return { min, max, lazy };
  }

  private atom(): RegexNode {
    const start = this.pos;
    const c = this.peek()!;
    const done = <T extends object>(n: T, portable = true): RegexNode =>
      ({ ...n, start, end: this.pos, portable }) as unknown as RegexNode;
    switch (c) {
      case '^':
        this.pos += 1;
        return done({ kind: 'assert', what: 'begin' });
      case '$':
        this.pos += 1;
        return done({ kind: 'assert', what: 'end' });
      case '.':
        this.pos += 1;
        // `.` is "anything but the line terminators": a negated class, so it prints as one.
        return this.dialect === 'javascript'
          ? done(
              { kind: 'class', negated: true, items: [item(JS_LINE_TERMINATORS)], props: [] },
              false,
            )
          : done({ kind: 'class', negated: true, items: [item(NEWLINE)], props: [] });
      case '(':
        return this.group();
      case '[':
        return this.characterClass();
      case '\\': {
        this.pos += 1;
        const e = this.escape(false);
        if (e.kind === 'cp') return done({ kind: 'literal', cp: e.cp }, e.portable);
        if (e.kind === 'set') {
          return done(
            { kind: 'class', negated: false, items: e.items, props: e.props },
            e.portable,
          );
        }
        return done({ kind: 'assert', what: e.what }, e.portable);
      }
      case '*':
      case '+':
      case '?':
        this.fail(`nothing to repeat before ${c}`);
        break;
      case '{':
        if (/^\{\d+(,\d*)?\}/.test(this.src.slice(this.pos)))
          this.fail('nothing to repeat before {');
        this.fail('a literal { must be escaped (\\{)');
        break;
      case '}':
      case ']':
        this.fail(`a literal ${c} must be escaped (\\${c})`);
        break;
      default:
        break;
    }
    const cp = this.nextCodePoint();
    return done({ kind: 'literal', cp });
  }

  private group(): RegexNode {
    const start = this.pos;
    this.pos += 1; // (
    let capture = true;
    let name: string | null = null;
    let portable = true;
    if (this.eat('?')) {
      if (this.eat(':')) capture = false;
      else if (this.peek() === 'P' && this.peek(1) === '<' && this.dialect === 'goalpost') {
        this.pos += 2;
        name = this.groupName();
      } else if (this.peek() === '<' && this.peek(1) !== '=' && this.peek(1) !== '!') {
        this.pos += 1;
        name = this.groupName();
        if (!/^[A-Za-z0-9_]+$/.test(name)) portable = false;
      } else if (/^(=|!|<=|<!)/.test(this.src.slice(this.pos))) {
        this.fail('lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported', start);
      } else {
        this.fail(
          'inline flags and other (? groups are not supported (use the goal’s case setting)',
          start,
        );
      }
    }
    const body = this.disjunction();
    if (!this.eat(')')) this.fail('missing )', start);
    return {
      kind: 'group',
      capture,
      name,
      body,
      start,
      end: this.pos,
      portable: portable && body.portable,
    };
  }

  private readonly groupNames = new Set<string>();

  private groupName(): string {
    const at = this.pos;
    const close = this.src.indexOf('>', this.pos);
    if (close === -1) this.fail('unterminated group name');
    const name = this.src.slice(this.pos, close);
    if (this.dialect === 'goalpost' && !/^[A-Za-z0-9_]+$/.test(name)) {
      this.fail('group names are letters, digits and _');
    }
    if (name === '') this.fail('empty group name');
    if (this.groupNames.has(name)) this.fail(`duplicate group name ${name}`, at);
    this.groupNames.add(name);
    this.pos = close + 1;
    return name;
  }

  private characterClass(): RegexNode {
    const start = this.pos;
    this.pos += 1; // [
    const negated = this.eat('^');
    let portable = true;
    const ranges: Array<readonly [number, number]> = [];
    const items: ClassItem[] = [];
    const props: PropertyRef[] = [];
    if (this.peek() === ']') {
      if (this.dialect === 'goalpost') {
        this.fail('an empty class [] or [^] is not supported; a literal ] in a class is \\]');
      }
      // JavaScript: `[]` matches nothing, `[^]` anything.
      this.pos += 1;
      return {
        kind: 'class',
        negated,
        items: [],
        props: [],
        start,
        end: this.pos,
        portable: false,
      };
    }
    for (;;) {
      if (this.pos >= this.src.length) this.fail('missing ]', start);
      if (this.eat(']')) break;
      if (this.dialect === 'goalpost' && this.peek() === '[' && /[:.=]/.test(this.peek(1) ?? '')) {
        this.fail('POSIX classes such as [[:alpha:]] are not supported (write [A-Za-z])');
      }
      const from = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        const dashAt = this.pos;
        this.pos += 1;
        const to = this.classAtom();
        if (from.kind !== 'cp' || to.kind !== 'cp') {
          this.fail('a range needs a single character at each end (escape a literal -)', dashAt);
        }
        if (to.cp < from.cp) this.fail('range out of order', dashAt);
        ranges.push([from.cp, to.cp]);
        portable &&= from.portable && to.portable;
        continue;
      }
      portable &&= from.portable;
      if (from.kind === 'cp') ranges.push([from.cp, from.cp]);
      else if (from.kind === 'set') {
        items.push(...from.items);
        props.push(...from.props);
      } else this.fail('an anchor cannot be in a class');
    }
    return {
      kind: 'class',
      negated,
      items: ranges.length === 0 ? items : [item(normalizeSet(ranges)), ...items],
      props,
      start,
      end: this.pos,
      portable,
    };
  }

  private classAtom(): EscapeResult {
    if (this.eat('\\')) return this.escape(true);
    const c = this.peek();
    if (c === '[') {
      // RE2 reads `[[` literally, PostgreSQL may read `[.` `[=` `[:`; keep it unambiguous.
      if (this.dialect === 'goalpost') this.fail('a literal [ in a class must be escaped (\\[)');
      return { kind: 'cp', cp: this.nextCodePoint(), portable: false };
    }
    return { kind: 'cp', cp: this.nextCodePoint(), portable: true };
  }

  private escape(inClass: boolean): EscapeResult {
    const at = this.pos - 1;
    const c = this.peek();
    if (c === undefined) this.fail('trailing backslash', at);
    const js = this.dialect === 'javascript';
    const set = (s: CharSet, negated: boolean, portable = true): EscapeResult => ({
      kind: 'set',
      items: [{ set: s, negated }],
      props: [],
      portable,
    });
    this.pos += 1;
    switch (c) {
      case 'd':
        return set(DIGIT_SET, false);
      case 'D':
        return set(DIGIT_SET, true);
      case 'w':
        return set(WORD_SET, false);
      case 'W':
        return set(WORD_SET, true);
      case 's':
        return js ? set(JS_SPACE_SET, false, false) : set(RE2_SPACE_SET, false);
      case 'S':
        return js ? set(JS_SPACE_SET, true, false) : set(RE2_SPACE_SET, true);
      case 'p':
      case 'P':
        return this.propertyEscape(c === 'P', at);
      case 'b':
        if (inClass) {
          if (js) return { kind: 'cp', cp: 8, portable: false };
          this.fail('[\\b] is not supported (write \\x08)', at);
        }
        this.wordBoundary = true;
        return { kind: 'assert', what: 'word', portable: true };
      case 'B':
        if (inClass) this.fail('\\B cannot be in a class', at);
        this.wordBoundary = true;
        return { kind: 'assert', what: 'not_word', portable: true };
      case 'A':
      case 'z':
        if (js || inClass) break;
        return { kind: 'assert', what: c === 'A' ? 'begin' : 'end', portable: true };
      case 't':
      case 'n':
      case 'v':
      case 'f':
      case 'r':
        return { kind: 'cp', cp: CONTROL_ESCAPES[c]!, portable: true };
      case 'x':
        return { kind: 'cp', cp: this.hexEscape(at), portable: true };
      case '0':
        if (js && !/\d/.test(this.peek() ?? '')) return { kind: 'cp', cp: 0, portable: false };
        break;
      case 'u':
        if (js) return { kind: 'cp', cp: this.unicodeEscape(at), portable: false };
        this.fail('\\u… is JavaScript syntax; write \\x{…} (e.g. \\x{e9})', at);
        break;
      case 'c':
        if (js && /^[A-Za-z]$/.test(this.peek() ?? '')) {
          return { kind: 'cp', cp: this.nextCodePoint() % 32, portable: false };
        }
        break;
      case '-':
        // JavaScript allows `\-` only in a class; RE2 anywhere: same meaning.
        return { kind: 'cp', cp: 0x2d, portable: true };
      default:
        break;
    }
    if (c >= '1' && c <= '9') this.fail('backreferences (\\1, \\k<name>) are not supported', at);
    if (c === 'k' && this.peek() === '<') {
      this.fail('backreferences (\\1, \\k<name>) are not supported', at);
    }
    if (js ? SYNTAX_CHARS.has(c) || c === '/' : isAsciiPunctOrSpace(c)) {
      return { kind: 'cp', cp: c.codePointAt(0)!, portable: true };
    }
    if (isAsciiAlnum(c)) this.fail(`unsupported escape \\${c}`, at);
    this.fail(`unsupported escape \\${c} (only ASCII punctuation may be escaped)`, at);
  }

  private hexEscape(at: number): number {
    if (this.dialect === 'goalpost' && this.eat('{')) {
      const m = /^([0-9A-Fa-f]{1,6})\}/.exec(this.src.slice(this.pos));
      if (m === null) this.fail('\\x{…} needs 1–6 hex digits', at);
      this.pos += m[0].length;
      const cp = parseInt(m[1]!, 16);
      if (cp > 0x10ffff) this.fail('code point beyond U+10FFFF', at);
      if (cp >= 0xd800 && cp <= 0xdfff) this.fail('surrogate code points are not characters', at);
      return cp;
    }
    const m = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.pos));
    if (m === null) this.fail('\\x needs two hex digits or \\x{…}', at);
    this.pos += 2;
    return parseInt(m[0], 16);
  }

  /** JavaScript `\uXXXX` (a surrogate pair is one code point) or `\u{X…}`. */
  private unicodeEscape(at: number): number {
    if (this.eat('{')) {
      const m = /^([0-9A-Fa-f]+)\}/.exec(this.src.slice(this.pos));
      if (m === null) this.fail('bad \\u{…} escape', at);
      this.pos += m[0].length;
      return parseInt(m[1]!, 16);
    }
    const hex4 = (): number => {
      const m = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.pos));
      if (m === null) this.fail('bad \\u escape', at);
      this.pos += 4;
      return parseInt(m[0], 16);
    };
    const first = hex4();
    if (
      first >= 0xd800 &&
      first <= 0xdbff &&
      /^\\u[dD][c-fC-F][0-9A-Fa-f]{2}/.test(this.src.slice(this.pos))
    ) {
      this.pos += 2;
      const second = hex4();
      return 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
    }
    return first;
  }

  private propertyEscape(negated: boolean, at: number): EscapeResult {
    let name: string;
    if (this.eat('{')) {
      const close = this.src.indexOf('}', this.pos);
      if (close === -1) this.fail('unterminated \\p{…}', at);
      name = this.src.slice(this.pos, close);
      this.pos = close + 1;
    } else if (this.dialect === 'goalpost' && /^[A-Z]$/.test(this.peek() ?? '')) {
      name = this.peek()!;
      this.pos += 1;
    } else {
      this.fail('\\p needs a name: \\p{L}, \\p{Greek}', at);
    }
    this.property = true;
    let portable = true;
    let resolved: string | null = null;
    if (this.dialect === 'javascript') {
      const eq = name.indexOf('=');
      const [key, value] = eq === -1 ? [null, name] : [name.slice(0, eq), name.slice(eq + 1)];
      if (key === null) {
        if (value === 'ASCII') {
          return {
            kind: 'set',
            items: [{ set: [[0, 0x7f]], negated }],
            props: [],
            portable: false,
          };
        }
        if (RE2_CATEGORIES.has(value)) resolved = value;
        else if (JS_CATEGORY_ALIASES[value] !== undefined) {
          resolved = JS_CATEGORY_ALIASES[value];
          portable = false;
        }
      } else if (key === 'General_Category' || key === 'gc') {
        resolved = RE2_CATEGORIES.has(value) ? value : (JS_CATEGORY_ALIASES[value] ?? null);
        portable = false;
      } else if ((key === 'Script' || key === 'sc') && isScriptName(value)) {
        resolved = value;
        portable = false;
      }
      if (resolved === null) this.fail(`the property \\p{${name}} has no RE2 equivalent`, at);
    } else {
      if (RE2_CATEGORIES.has(name) || isScriptName(name)) resolved = name;
      else
        this.fail(
          `unknown Unicode class \\p{${name}} (general categories like L, Lu and script names like Greek)`,
          at,
        );
    }
    if (resolved === 'Any')
      return { kind: 'set', items: [{ set: ANY_CHAR, negated }], props: [], portable };
    if (negated) this.negatedProperty = true;
    return { kind: 'set', items: [], props: [{ name: resolved, negated }], portable };
  }
}

/** Parses `src` in `dialect`; throws {@link RegexSyntaxError}. */
export function parseRegex(src: string, dialect: RegexDialect): ParsedRegex {
  const p = new Parser(src, dialect);
  const root = p.parse();
  return {
    root,
    wordBoundary: p.wordBoundary,
    negatedProperty: p.negatedProperty,
    property: p.property,
  };
}
