import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { caseOrbit, casedCodePoints } from './case-orbits.js';
import {
  checkRegex,
  classifyStoredRegex,
  compileRegex,
  MAX_PROGRAM_SIZE,
  toPostgresRegex,
} from './regex.js';

describe('the Goalpost regex dialect', () => {
  it.each([
    '^/checkout/(success|done)$',
    'signup_.*',
    '.*.*.*.*.*=',
    '(a|a)*b',
    '(a+)+$',
    '^/order/\\d+$',
    '[a-z0-9_-]+',
    '[\\w.]+@',
    '\\bfoo\\B',
    '\\Aabc\\z',
    '(?<name>a)(?P<other>b)(?:c)',
    '\\x41\\x{e9}\\x{1F600}',
    '\\p{L}+\\pN\\P{Lu}\\p{Greek}',
    'a{2}b{1,}c{0,25}d*?e+?f??',
    '\\.\\/\\-\\:\\ \\#\\{\\}\\]',
    '\\t\\n\\r\\f\\v',
    'a|',
    '()',
  ])('accepts %j', (pattern) => {
    expect(checkRegex(pattern)).toBeNull();
  });

  it.each([
    ['(', 'missing )'],
    [')', 'unmatched'],
    ['a{256}', 'limited to 255'],
    ['(a{200}){2}', 'too complex'],
    ['a'.repeat(501), 'too long'],
    ['(a)\\1', 'backreferences'],
    ['(?<n>a)\\k<n>', 'backreferences'],
    ['(?=a)', 'lookahead'],
    ['(?<=a)b', 'lookahead'],
    ['(?i)a', 'inline flags'],
    ['\\u0041', 'JavaScript syntax'],
    ['\\cA', 'unsupported escape'],
    ['[\\b]', '[\\b]'],
    ['[^]', 'empty class'],
    ['[]a]', 'empty class'],
    ['a{,3}', 'must start a repetition'],
    ['a{1,2', 'must start a repetition'],
    ['{', 'escaped'],
    ['}', 'escaped'],
    [']', 'escaped'],
    ['a**', 'cannot be repeated'],
    ['^*', 'cannot be repeated'],
    ['*a', 'nothing to repeat'],
    ['[[:alpha:]]', 'POSIX'],
    ['[[]', 'escaped'],
    ['[\\d-z]', 'single character'],
    ['[z-a]', 'out of order'],
    ['\\p{Emoji}', 'unknown Unicode class'],
    ['\\p{Script=Greek}', 'unknown Unicode class'],
    ['\\Qa\\E', 'unsupported escape'],
    ['\\y', 'unsupported escape'],
    ['\\0', 'unsupported escape'],
    ['\\é', 'unsupported escape'],
    ['(?<café>a)', 'group names'],
    ['(?P<n>a)(?P<n>b)', 'duplicate group name'],
    ['\\x{D800}', 'surrogate'],
  ])('refuses %j (%s)', (pattern, why) => {
    expect(checkRegex(pattern)).toContain(why);
  });

  it('caps the program size, not only the length', () => {
    expect(checkRegex('(.*a){60}')).toBeNull();
    expect(checkRegex('(.*a){100}')).toContain(`limit is ${MAX_PROGRAM_SIZE}`);
  });

  it('reads `.`, `\\s`, `\\b` like RE2 (documented differences from JavaScript)', () => {
    const t = (p: string, s: string, ci = false) => compileRegex(p, ci).test(s);
    expect(t('^.$', '\r')).toBe(true); // JavaScript: false
    expect(t('^.$', '\u2028')).toBe(true); // JavaScript: false
    expect(t('^.$', '\n')).toBe(false);
    expect(t('^\\s$', '\u000b')).toBe(false); // JavaScript: true
    expect(t('^\\s$', '\u00a0')).toBe(false); // JavaScript: true
    expect(t('\\bſ', 'aſ', true)).toBe(true); // JavaScript iu: false
    expect(t('^[^a]$', '\n')).toBe(true);
    expect(t('^.$', '😀')).toBe(true);
    expect(t('^k$', '\u212a', true)).toBe(true);
    expect(t('^ß$', 'ss', true)).toBe(false);
    expect(t('^ß$', 'ẞ', true)).toBe(true);
    expect(t('^\\W$', 'ſ', true)).toBe(false);
  });
});

/** Random patterns of the dialect, written as text, over letters that fold in tricky ways. */
const LETTERS = ['a', 'A', 'k', 'K', '\u212a', 's', 'S', 'ſ', 'ß', 'ẞ', 'é', 'É', 'σ', 'ς', 'Σ'];
const MORE = ['İ', 'i', 'ı', 'I', '/', '_', '1', '٣', ' ', '\n', '\r', '\u2028', '😀', '%'];
const ALPHABET = [...LETTERS, ...MORE];
const ATOMS = [
  ...LETTERS,
  'İ',
  'i',
  'ı',
  '/',
  '_',
  '1',
  ' ',
  '\\n',
  '\\r',
  '😀',
  '\\.',
  '.',
  '\\d',
  '\\D',
  '\\w',
  '\\W',
  '\\s',
  '\\S',
  '[a-z]',
  '[^a-z]',
  '[^\\W]',
  '[\\w-]',
  '[k\\x{212a}]',
  '[^s]',
  '\\b',
  '\\B',
  '^',
  '$',
  '\\x{e9}',
  '\\x{1F600}',
];

const patternArb: fc.Arbitrary<string> = fc.letrec<{ p: string }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...ATOMS),
    fc.array(tie('p'), { minLength: 1, maxLength: 4 }).map((xs) => xs.join('')),
    fc.tuple(tie('p'), tie('p')).map(([a, b]) => `(?:${a}|${b})`),
    fc
      .tuple(
        fc.constantFrom(...ATOMS.filter((a) => !/^(\^|\$|\\b|\\B)$/.test(a))),
        fc.constantFrom('*', '+', '?', '{1,3}', '{2}'),
      )
      .map(([a, q]) => `${a}${q}`),
    tie('p').map((a) => `(${a})`),
  ),
})).p;

const inputArb = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 8 }).map((xs) => xs.join(''));

describe('property: our reading of a pattern is re2js’s reading of the same text', () => {
  it('case-sensitive and case-insensitive', () => {
    fc.assert(
      fc.property(
        patternArb,
        fc.boolean(),
        fc.array(inputArb, { minLength: 1, maxLength: 6 }),
        (p, ci, inputs) => {
          const ours = compileRegex(p, ci);
          const theirs = RE2JS.compile(p, ci ? RE2JS.CASE_INSENSITIVE : 0);
          for (const s of inputs)
            expect(ours.test(s), `${p} ${ci} ${JSON.stringify(s)}`).toBe(theirs.test(s));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('stored JavaScript-era patterns', () => {
  it.each([
    ['^/checkout/(success|done)$', false, 'same'],
    ['^/order/\\d+$', true, 'same'],
    ['signup_.*', true, 'rewritten'],
    ['\\s', false, 'rewritten'],
    ['\\u00e9', false, 'rewritten'],
    ['[^]', false, 'rewritten'],
    ['\\p{Script=Greek}', false, 'rewritten'],
    ['\\bfoo', false, 'same'],
    ['\\bfoo', true, 'refused'],
    ['\\P{Lu}', true, 'refused'],
    ['a{2000}', false, 'refused'],
    ['(?<café>a)', false, 'rewritten'],
  ] as const)('%j (case-insensitive: %s) is %s', (pattern, ci, verdict) => {
    expect(classifyStoredRegex(pattern, ci).verdict).toBe(verdict);
  });

  it('writes the rewrite readably, changing only what JavaScript read differently', () => {
    expect(classifyStoredRegex('^/blog/.*$', false)).toMatchObject({
      rewrite: '^/blog/[^\\n\\r\\x{2028}-\\x{2029}]*$',
    });
  });

  /** JavaScript patterns (`u` flag) built from the spellings whose reading changed. */
  const JS_ATOMS = [
    ...LETTERS,
    '/',
    '_',
    '.',
    '\\s',
    '\\S',
    '\\d',
    '\\w',
    '\\W',
    '\\u00e9',
    '\\u{1F600}',
    '\\uD83D\\uDE00',
    '[^]',
    '[\\s\\d]',
    '[^\\s]',
    '\\p{Lu}',
    '\\p{Script=Greek}',
    '\\cM',
    '[\\b]',
    '\\b',
    '^',
    '$',
  ];
  const jsPatternArb = fc
    .array(
      fc.oneof(
        fc.constantFrom(...JS_ATOMS),
        fc
          .tuple(
            fc.constantFrom(...JS_ATOMS.filter((a) => !/^(\^|\$|\\b)$/.test(a))),
            fc.constantFrom('*', '+', '?'),
          )
          .map(([a, q]) => a + q),
      ),
      { minLength: 1, maxLength: 5 },
    )
    .map((xs) => xs.join(''));
  const jsInputArb = fc
    .array(fc.constantFrom(...ALPHABET, '\u000b', '\u00a0', '\u0008', 'α', '\ufeff'), {
      maxLength: 8,
    })
    .map((xs) => xs.join(''));

  it('property: a same or rewritten pattern matches exactly what JavaScript matched', () => {
    fc.assert(
      fc.property(
        jsPatternArb,
        fc.boolean(),
        fc.array(jsInputArb, { minLength: 1, maxLength: 6 }),
        (p, ci, inputs) => {
          const v = classifyStoredRegex(p, ci);
          if (v.verdict === 'refused') return;
          const js = new RegExp(p, ci ? 'iu' : 'u');
          const ours = compileRegex(v.verdict === 'same' ? p : v.rewrite, ci);
          for (const s of inputs)
            expect(ours.test(s), `${p} ${ci} ${JSON.stringify(s)}`).toBe(js.test(s));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('case-folding orbits (for the PostgreSQL rendering)', () => {
  it('are the engine’s: every member folds to every other, and to nothing outside', () => {
    const cased = casedCodePoints();
    expect(cased.length).toBeGreaterThan(2500);
    for (const cp of cased) {
      const orbit = caseOrbit(cp);
      const re = RE2JS.compile(`^[\\x{${cp.toString(16)}}]$`, RE2JS.CASE_INSENSITIVE);
      for (const o of orbit) expect(re.test(String.fromCodePoint(o))).toBe(true);
    }
    expect(caseOrbit(0x6b)).toEqual([0x4b, 0x6b, 0x212a]);
    expect(caseOrbit(0x3c3)).toEqual([0x3a3, 0x3c2, 0x3c3]);
    expect(caseOrbit(0xdf)).toEqual([0xdf, 0x1e9e]);
    expect(caseOrbit(0x130)).toEqual([0x130]);
    expect(caseOrbit(0x131)).toEqual([0x131]);
  });

  it('no code point outside the table folds to anything (sampled over all planes)', () => {
    const cased = new Set(casedCodePoints());
    const sample = fc.sample(fc.integer({ min: 0, max: 0x10ffff }), 3000);
    const lone = sample.filter((cp) => !cased.has(cp) && (cp < 0xd800 || cp > 0xdfff));
    // One compile: a case-insensitive class of the sampled code points must not grow.
    const cls = lone.map((cp) => `\\x{${cp.toString(16)}}`).join('');
    const folded = RE2JS.compile(`^[${cls}]$`, RE2JS.CASE_INSENSITIVE);
    for (const cp of cased) expect(folded.test(String.fromCodePoint(cp))).toBe(false);
  });

  it('case-insensitive patterns render with the orbits, never ~*', () => {
    expect(toPostgresRegex(compileRegex('k', true))).toBe('[Kk\\u212a]');
    expect(toPostgresRegex(compileRegex('\\bσ', true))).toBe('\\y[\\u03a3\\u03c2-\\u03c3]');
    expect(toPostgresRegex(compileRegex('\\p{L}', false))).toBeNull();
    expect(toPostgresRegex(compileRegex('(?<n>a)', false))).toBe('(?:a)');
  });
});
