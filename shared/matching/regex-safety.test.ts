import { describe, expect, it } from 'vitest';
import { MAX_REGEX_LENGTH, checkRegex } from './regex-safety.js';

describe('checkRegex accepts', () => {
  it.each([
    ['anchored path', '^/blog/.*$'],
    ['alternation of prefixes', '^/(en|de|fr)/pricing/?$'],
    ['disjoint alternatives repeated', '(a|b|c)*d'],
    ['repeated words that start differently', '(foo|bar)+'],
    ['factored common prefix', '(a(b|c))*'],
    ['bounded repetition', '^/product/\\d{1,6}$'],
    ['named group', '^/(?<year>\\d{4})/'],
    ['non-ASCII group name', '(?<année>\\d{4})'],
    ['unicode property escape', '^/\\p{L}+$'],
    ['code point escape followed by a quantifier', '\\u{10}+'],
    ['surrogate pair escape', '(\\uD83D\\uDE00|b)+'],
    ['escaped parenthesis before ?= is not a lookahead', '\\(?='],
    ['(?= inside a character class is not a lookahead', '[(?=]'],
    ['(?<! inside a character class', '[(?<!]x'],
    ['escaped backslash then a group', '\\\\(a)'],
    ['\\0 is NUL, not a backreference', 'a\\0'],
    ['literal unicode', '^/café$'],
    ['optional group without nested quantifier', '^/(www\\.)?a'],
    ['negated class alternated with a char', '[^a]|b'],
    ['empty pattern', ''],
    ['exactly the length limit', 'a'.repeat(MAX_REGEX_LENGTH)],
    ['character class with escapes', '^[\\w.\\-]+@[\\w.\\-]+$'],
    ['event name regex', '^(signup|sign_up)_completed$'],
  ])('%s: %j', (_what, pattern) => {
    expect(checkRegex(pattern)).toBeNull();
  });
});

describe('checkRegex refuses', () => {
  it.each([
    ['too long', 'a'.repeat(MAX_REGEX_LENGTH + 1), /too long \(501 characters; the limit is 500\)/],
    ['unterminated group', '(', /Not a valid JavaScript regular expression/],
    ['unterminated class', '[', /Not a valid JavaScript regular expression/],
    ['dangling quantifier', '*', /Not a valid JavaScript regular expression/],
    [
      '\\- outside a class is invalid in Unicode mode',
      '\\-',
      /Not a valid JavaScript regular expression/,
    ],
    ['lone brace is invalid in Unicode mode', 'a{', /Not a valid JavaScript regular expression/],
    [
      '\\1 without a group is invalid in Unicode mode',
      'a\\1',
      /Not a valid JavaScript regular expression/,
    ],
    ['inline flags are not JavaScript', '(?i)abc', /Not a valid JavaScript regular expression/],
    ['numbered backreference', '(a)\\1', /Backreferences/],
    ['backreference after an escaped paren', '\\((a)\\1', /Backreferences/],
    ['named backreference', '(?<n>a)\\k<n>', /Backreferences/],
    ['lookahead', '^/a(?=b)', /Lookahead and lookbehind/],
    ['negative lookahead', '^(?!/admin)', /Lookahead and lookbehind/],
    ['lookbehind', '(?<=/)x', /Lookahead and lookbehind/],
    ['negative lookbehind', '(?<!a)b', /Lookahead and lookbehind/],
    ['lookahead after a class containing (?=', '[(?=](?=x)', /Lookahead and lookbehind/],
    ['lookahead after an escaped backslash', '\\\\(?=a)', /Lookahead and lookbehind/],
    ['lookahead after a class ending in an escaped ]', '[\\]](?!x)', /Lookahead and lookbehind/],
    ['nested quantifier (a+)+$', '(a+)+$', /exponential time.*nests quantifiers/],
    ['nested star', '(a*)*', /exponential time.*nests quantifiers/],
    ['nested quantifier in a digit group', '^(\\d+)*$', /exponential time.*nests quantifiers/],
    ['optional inside a repeated group', '(x?)+', /exponential time.*nests quantifiers/],
    ['safe-regex2 is conservative about ? inside ?', '(https?://)?example', /nests quantifiers/],
    ['more than 25 quantifiers', 'a?'.repeat(26), /more than 25/],
    [
      'identical alternatives repeated',
      '(a|a)*',
      /alternatives that can start with the same character/,
    ],
    ['prefix alternatives repeated', '(a|aa)+', /alternatives that can start/],
    ['overlapping classes repeated', '(\\w|\\d)+$', /alternatives that can start/],
    ['dot or space repeated', '(.|\\s)*', /alternatives that can start/],
    ['alternatives differing only by case', '(a|A)*', /alternatives that can start/],
    ['nested inside a sequence in a repetition', '(x(a|ab))*', /alternatives that can start/],
    ['bounded but large repetition', '(a|a){100}', /alternatives that can start/],
    [
      'same code point spelled two ways',
      '(\\u{1F600}|\\uD83D\\uDE00)+',
      /alternatives that can start/,
    ],
    ['conservative: shared first character only', '(ab|ac)*', /alternatives that can start/],
  ])('%s: %j', (_what, pattern, message) => {
    const result = checkRegex(pattern);
    expect(result).toMatch(message);
  });

  it('does not mind alternatives that overlap outside any repetition', () => {
    expect(checkRegex('^/(a|ab)/$')).toBeNull();
    expect(checkRegex('^/(a|ab)?$')).toBeNull();
  });

  it('refuses a non-string without throwing', () => {
    expect(checkRegex(42 as unknown as string)).toMatch(/must be a string/);
  });

  it('accepts only patterns that compile with the flags the matcher uses', () => {
    for (const pattern of ['^/blog/.*$', '(?<année>\\d{4})', '^/\\p{L}+$', '\\u{10}+']) {
      expect(checkRegex(pattern)).toBeNull();
      expect(() => new RegExp(pattern, 'u')).not.toThrow();
      expect(() => new RegExp(pattern, 'iu')).not.toThrow();
    }
  });
});
