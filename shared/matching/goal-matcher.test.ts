import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { GoalDefinition, MatchOperator, PropertyFilter } from '../goals/goal-definition.js';
import { compileGoal, compileGoals, decimalValue, foldCase, matchEvent } from './goal-matcher.js';
import type { MatchableEvent } from './goal-matcher.js';
import { pathFromUrl } from './url-path.js';

function goal(overrides: Partial<GoalDefinition> = {}): GoalDefinition {
  return {
    id: 'goal_000000000000000000001',
    website_id: 'site_0000000001',
    goal_type: 'pageview',
    match_operator: 'equals',
    match_value: '/',
    case_sensitive: true,
    property_filters: [],
    value_mode: 'none',
    fixed_value: null,
    value_property_key: null,
    currency: 'USD',
    definition_version: 1,
    ...overrides,
  };
}

function pageview(
  path: string | null,
  properties: Record<string, unknown> | null = null,
): MatchableEvent {
  return { type: 'pageview', event_name: null, path, properties };
}

function event(
  name: string | null,
  properties: Record<string, unknown> | null = null,
): MatchableEvent {
  return { type: 'event', event_name: name, path: '/checkout', properties };
}

describe('glob literals', () => {
  it('every regex metacharacter stands for itself', () => {
    const literal = '/^$.+?()[]{}|\\-/';
    const g = compileGoal(goal({ match_operator: 'glob', match_value: literal }));
    expect(g.matches(pageview(literal))).toBe(true);
    expect(g.matches(pageview('/x'))).toBe(false);
  });
});

type PathCase = [what: string, op: MatchOperator, value: string, path: string, matches: boolean];

describe('pageview goals: subject operators on the path', () => {
  it.each<PathCase>([
    // equals and the trailing slash
    ['equals exact', 'equals', '/pricing', '/pricing', true],
    ['trailing slash is significant (path has it)', 'equals', '/pricing', '/pricing/', false],
    ['trailing slash is significant (value has it)', 'equals', '/pricing/', '/pricing', false],
    ['equals is case-sensitive by default', 'equals', '/Pricing', '/pricing', false],
    ['equals root', 'equals', '/', '/', true],
    // starts_with / ends_with / contains
    ['starts_with', 'starts_with', '/blog', '/blog/post-1', true],
    ['starts_with miss', 'starts_with', '/blog', '/news/blog', false],
    ['ends_with', 'ends_with', '/thank-you', '/shop/thank-you', true],
    ['ends_with miss on trailing slash', 'ends_with', '/thank-you', '/shop/thank-you/', false],
    ['contains', 'contains', 'checkout', '/shop/checkout/done', true],
    ['contains miss', 'contains', 'checkout', '/shop/cart', false],
    // LIKE wildcards are plain characters
    ['contains: % and _ are literal', 'contains', '50%_off', '/sale/50%_off', true],
    ['contains: _ is not "any character"', 'contains', 'a_c', '/abc', false],
    ['equals: % is not "anything"', 'equals', '/%', '/anything', false],
    ['starts_with: % literal', 'starts_with', '/100%', '/100%-guarantee', true],
    // percent-encoding: the path is decoded, the match value is decoded too
    ['decoded value vs decoded path', 'equals', '/café', '/café', true],
    ['encoded value matches decoded path', 'equals', '/caf%C3%A9', '/café', true],
    ['encoded value in contains', 'contains', 'caf%C3%A9', '/menu/café/', true],
    ['malformed escape in value stays literal', 'equals', '/50%_off', '/50%_off', true],
    ['%25 in value means %', 'equals', '/100%25', '/100%', true],
    // unicode
    ['CJK path', 'starts_with', '/日本', '/日本語/ページ', true],
    ['emoji path', 'equals', '/😀', '/😀', true],
    [
      'composed é does not equal decomposed é (no normalization)',
      'equals',
      '/caf\u00e9',
      '/cafe\u0301',
      false,
    ],
    // glob: * vs **
    ['* matches one segment', 'glob', '/blog/*', '/blog/a', true],
    ['* needs at least one character', 'glob', '/blog/*', '/blog/', false],
    ['* does not cross /', 'glob', '/blog/*', '/blog/a/b', false],
    ['* does not match the bare prefix', 'glob', '/blog/*', '/blog', false],
    ['** crosses /', 'glob', '/blog/**', '/blog/a/b', true],
    ['** matches nothing', 'glob', '/blog/**', '/blog/', true],
    ['** matches one segment', 'glob', '/blog/**', '/blog/a', true],
    ['** still needs the literal /', 'glob', '/blog/**', '/blog', false],
    ['* in the middle', 'glob', '/product/*/reviews', '/product/42/reviews', true],
    ['* in the middle, two segments', 'glob', '/product/*/reviews', '/product/4/2/reviews', false],
    ['** in the middle', 'glob', '/docs/**/intro', '/docs/v2/en/intro', true],
    ['glob is anchored at the start', 'glob', '/blog/*', '/en/blog/a', false],
    ['glob is anchored at the end', 'glob', '/blog', '/blog/a', false],
    ['* inside a segment', 'glob', '/post-*', '/post-42', true],
    ['. is literal in glob', 'glob', '/a.b', '/axb', false],
    ['. literal matches itself', 'glob', '/a.b', '/a.b', true],
    ['+ is literal in glob', 'glob', '/a+', '/aa', false],
    ['? is literal in glob', 'glob', '/a?', '/a', false],
    ['parentheses and pipes are literal', 'glob', '/(a|b)', '/(a|b)', true],
    ['brackets are literal', 'glob', '/[ab]', '/a', false],
    ['unicode in glob', 'glob', '/café/*', '/café/menu', true],
    ['encoded glob is decoded like the path', 'glob', '/caf%C3%A9/*', '/café/menu', true],
    ['** spans a decoded line break', 'glob', '/**', pathFromUrl('/a%0Ab'), true],
    ['hash route with glob', 'glob', '/app#/settings/*', '/app#/settings/billing', true],
    // regex: JavaScript syntax, unanchored, not decoded
    ['regex unanchored', 'regex', 'pricing', '/en/pricing/', true],
    ['regex anchored', 'regex', '^/pricing/?$', '/pricing/', true],
    ['regex anchored miss', 'regex', '^/pricing/?$', '/en/pricing', false],
    ['regex digits', 'regex', '^/order/\\d+$', '/order/123', true],
    ['regex unicode class', 'regex', '^/\\p{L}+$', '/café', true],
    ['regex . matches one code point', 'regex', '^/.$', '/😀', true],
    ['regex on a decoded path', 'regex', 'é', '/café', true],
    ['regex value is not decoded', 'regex', '%C3%A9', '/café', false],
    ['regex is case-sensitive by default', 'regex', '^/Pricing$', '/pricing', false],
    // empty match values
    ['contains "" matches every path', 'contains', '', '/anything', true],
    ['equals "" matches no path', 'equals', '', '/', false],
  ])('%s: %s %j on %j → %j', (_what, op, value, path, expected) => {
    const g = compileGoal(goal({ match_operator: op, match_value: value }));
    expect(g.matches(pageview(path))).toBe(expected);
  });

  it('matches the path pathFromUrl produces from real URLs', () => {
    const g = compileGoal(goal({ match_operator: 'equals', match_value: '/café/' }));
    expect(g.matches(pageview(pathFromUrl('https://a.com/caf%C3%A9/?utm_source=x#top')))).toBe(
      true,
    );
    expect(g.matches(pageview(pathFromUrl('https://a.com/caf%C3%A9?x=1')))).toBe(false);
  });
});

type FoldCase = [what: string, op: MatchOperator, value: string, path: string, matches: boolean];

describe('case-insensitive goals (case_sensitive: false)', () => {
  it.each<FoldCase>([
    ['ASCII equals', 'equals', '/Pricing', '/PRICING', true],
    ['starts_with', 'starts_with', '/BLOG', '/blog/x', true],
    ['ends_with', 'ends_with', '/Thank-You', '/shop/THANK-you', true],
    ['contains', 'contains', 'CheckOut', '/shop/checkout', true],
    ['accented letters', 'equals', '/CAFÉ', '/café', true],
    ['ß equals SS', 'equals', '/straße', '/STRASSE', true],
    ['ẞ equals ss', 'equals', '/STRAẞE', '/strasse', true],
    ['ß contained in ss text', 'contains', 'ß', '/gross', true],
    ['ſ equals s', 'equals', '/ſale', '/SALE', true],
    ['Greek Σ σ ς all equal', 'equals', '/ΟΔΟΣ', '/οδος', true],
    ['final ς equals medial σ', 'equals', '/οδοσ', '/οδος', true],
    ['contains across final-sigma position', 'contains', 'ΟΣ', '/ΟΣΑ', true],
    ['İ equals i + combining dot', 'equals', '/İstanbul', '/i\u0307stanbul', true],
    ['İ does not equal plain i', 'equals', '/İstanbul', '/istanbul', false],
    ['Kelvin sign equals k', 'equals', '/\u212Aelvin', '/kelvin', true],
    ['ﬁ ligature equals fi', 'equals', '/ﬁle', '/FILE', true],
    ['glob folds like the plain operators', 'glob', '/BLOG/*', '/blog/Post', true],
    ['glob: ß matches SS', 'glob', '/straße/*', '/STRASSE/x', true],
    ['glob: folding keeps * from crossing /', 'glob', '/BLOG/*', '/blog/a/b', false],
    ['regex uses iu', 'regex', '^/pricing$', '/PRICING', true],
    ['regex iu: É matches é', 'regex', '^/CAFÉ$', '/café', true],
    ['regex iu: ſ matches s', 'regex', '^/ſ$', '/S', true],
    ['regex iu: σ matches ς', 'regex', '^/σ$', '/ς', true],
    ['regex iu is simple folding: ß does not match ss', 'regex', '^/ß$', '/ss', false],
    ['still not a substring match for equals', 'equals', '/pricing', '/PRICING/', false],
  ])('%s: %s %j on %j → %j', (_what, op, value, path, expected) => {
    const g = compileGoal(goal({ match_operator: op, match_value: value, case_sensitive: false }));
    expect(g.matches(pageview(path))).toBe(expected);
  });

  it('the same goal is case-sensitive when case_sensitive is true', () => {
    const g = compileGoal(goal({ match_value: '/straße', case_sensitive: true }));
    expect(g.matches(pageview('/STRASSE'))).toBe(false);
    expect(g.matches(pageview('/straße'))).toBe(true);
  });
});

describe('foldCase', () => {
  it.each([
    ['ABC', 'abc'],
    ['Straße', 'strasse'],
    ['ẞ', 'ss'],
    ['ſ', 's'],
    ['Σ', 'σ'],
    ['ς', 'σ'],
    ['ΟΔΟΣ', 'οδοσ'],
    ['İ', 'i\u0307'],
    ['ı', 'i'],
    ['ﬁ', 'fi'],
    ['\u212A', 'k'],
    ['日本', '日本'],
  ])('%j → %j', (input, folded) => {
    expect(foldCase(input)).toBe(folded);
  });
});

describe('event goals', () => {
  it.each<
    [
      what: string,
      op: MatchOperator,
      value: string,
      caseSensitive: boolean,
      name: string | null,
      matches: boolean,
    ]
  >([
    ['equals name', 'equals', 'signup', true, 'signup', true],
    ['other name', 'equals', 'signup', true, 'login', false],
    ['name case-sensitive', 'equals', 'Signup', true, 'signup', false],
    ['name case-insensitive', 'equals', 'Signup', false, 'SIGNUP', true],
    ['starts_with', 'starts_with', 'checkout_', true, 'checkout_done', true],
    ['contains', 'contains', 'click', true, 'cta_click_hero', true],
    ['event names are not percent-decoded', 'equals', 'a%20b', true, 'a b', false],
    ['event name with literal %', 'equals', 'a%20b', true, 'a%20b', true],
    ['glob on names', 'glob', 'video_*', true, 'video_play', true],
    ['regex on names', 'regex', '^(signup|sign_up)$', true, 'sign_up', true],
    ['null name never matches', 'contains', '', true, null, false],
  ])('%s → %j', (_what, op, value, caseSensitive, name, expected) => {
    const g = compileGoal(
      goal({
        goal_type: 'event',
        match_operator: op,
        match_value: value,
        case_sensitive: caseSensitive,
      }),
    );
    expect(g.matches(event(name))).toBe(expected);
  });

  type FilterCase = [
    what: string,
    filters: PropertyFilter[],
    props: Record<string, unknown> | null,
    matches: boolean,
  ];
  it.each<FilterCase>([
    ['no filters', [], { plan: 'pro' }, true],
    ['no filters, no properties', [], null, true],
    [
      'one filter holds',
      [{ key: 'plan', operator: 'equals', value: 'pro' }],
      { plan: 'pro' },
      true,
    ],
    [
      'one filter fails',
      [{ key: 'plan', operator: 'equals', value: 'pro' }],
      { plan: 'free' },
      false,
    ],
    [
      'all filters must hold (AND)',
      [
        { key: 'plan', operator: 'equals', value: 'pro' },
        { key: 'seats', operator: 'gte', value: 5 },
      ],
      { plan: 'pro', seats: '10' },
      true,
    ],
    [
      'one failing filter fails the goal',
      [
        { key: 'plan', operator: 'equals', value: 'pro' },
        { key: 'seats', operator: 'gte', value: 5 },
      ],
      { plan: 'pro', seats: 2 },
      false,
    ],
    [
      'numeric string vs number: "10" gt 9',
      [{ key: 'amount', operator: 'gt', value: 9 }],
      { amount: '10' },
      true,
    ],
    [
      'string order: "abc" lt "abd"',
      [{ key: 'code', operator: 'lt', value: 'abd' }],
      { code: 'abc' },
      true,
    ],
    [
      'boolean vs "true"',
      [{ key: 'trial', operator: 'equals', value: 'true' }],
      { trial: true },
      true,
    ],
    [
      'boolean vs boolean',
      [{ key: 'trial', operator: 'equals', value: false }],
      { trial: false },
      true,
    ],
    [
      'missing property fails equals',
      [{ key: 'plan', operator: 'equals', value: 'pro' }],
      {},
      false,
    ],
    [
      'missing property passes not_equals',
      [{ key: 'plan', operator: 'not_equals', value: 'pro' }],
      {},
      true,
    ],
    [
      'null properties: not_equals holds',
      [{ key: 'plan', operator: 'not_equals', value: 'pro' }],
      null,
      true,
    ],
    ['null properties: exists fails', [{ key: 'plan', operator: 'exists' }], null, false],
    ['exists', [{ key: 'coupon', operator: 'exists' }], { coupon: '' }, true],
    ['exists on null value', [{ key: 'coupon', operator: 'exists' }], { coupon: null }, false],
    [
      'keys are top-level only',
      [{ key: 'a.b', operator: 'equals', value: 1 }],
      { a: { b: 1 } },
      false,
    ],
    [
      'dotted key is a plain key',
      [{ key: 'a.b', operator: 'equals', value: 1 }],
      { 'a.b': 1 },
      true,
    ],
    ['inherited keys are not properties', [{ key: 'constructor', operator: 'exists' }], {}, false],
    [
      'toString is not a property',
      [{ key: 'toString', operator: 'contains', value: 'function' }],
      {},
      false,
    ],
    [
      'filter values are case-sensitive even on a case-insensitive goal',
      [{ key: 'plan', operator: 'equals', value: 'Pro' }],
      { plan: 'pro' },
      false,
    ],
  ])('%s → %j', (_what, filters, props, expected) => {
    const g = compileGoal(
      goal({
        goal_type: 'event',
        match_value: 'purchase',
        case_sensitive: false,
        property_filters: filters,
      }),
    );
    expect(g.matches(event('purchase', props))).toBe(expected);
  });

  it('pageview goals compare their property filters with query-string parameters', () => {
    const g = compileGoal(
      goal({
        match_value: '/x',
        property_filters: [{ key: 'variant', operator: 'equals', value: 'b' }],
      }),
    );
    const page = (qs: string | null): MatchableEvent => ({
      ...pageview('/x', { variant: 'b' }),
      querystring: qs,
    });
    expect(g.matches(page('?variant=b'))).toBe(true);
    expect(g.matches(page('?variant=a&variant=b'))).toBe(false); // the first value counts
    expect(g.matches(page('?other=1'))).toBe(false); // properties are not read
    expect(g.matches(page(null))).toBe(false);
    expect(g.matches(page('?variant=%62'))).toBe(true); // decoded
  });
});

describe('event types', () => {
  it.each<[what: string, goalType: 'pageview' | 'event', ev: MatchableEvent, matches: boolean]>([
    ['pageview goal on a pageview', 'pageview', pageview('/x'), true],
    [
      'pageview goal ignores custom events on the same path',
      'pageview',
      { type: 'event', event_name: '/x', path: '/x', properties: null },
      false,
    ],
    ['event goal on an event', 'event', event('/x'), true],
    [
      'event goal ignores pageviews',
      'event',
      { type: 'pageview', event_name: '/x', path: '/x', properties: null },
      false,
    ],
    [
      'performance events never match a pageview goal',
      'pageview',
      { type: 'performance', event_name: '/x', path: '/x', properties: null },
      false,
    ],
    [
      'performance events never match an event goal',
      'event',
      { type: 'performance', event_name: '/x', path: '/x', properties: null },
      false,
    ],
    ['null path never matches', 'pageview', pageview(null), false],
  ])('%s → %j', (_what, goalType, ev, expected) => {
    const g = compileGoal(goal({ goal_type: goalType, match_value: '/x' }));
    expect(g.matches(ev)).toBe(expected);
  });
});

describe('broken or outdated definitions never match and never throw', () => {
  it.each<[what: string, overrides: Partial<GoalDefinition>]>([
    ['invalid regex', { match_operator: 'regex', match_value: '(' }],
    ['regex with a lookahead', { match_operator: 'regex', match_value: '^/(?=a)' }],
    ['regex with a backreference', { match_operator: 'regex', match_value: '(a)\\1' }],
    ['exponential regex', { match_operator: 'regex', match_value: '(a+)+$' }],
    ['regex invalid only in Unicode mode', { match_operator: 'regex', match_value: '\\-' }],
    ['unknown operator', { match_operator: 'like' as MatchOperator, match_value: '/' }],
    ['unknown goal type', { goal_type: 'click' as 'event', match_value: '/' }],
  ])('%s', (_what, overrides) => {
    const g = compileGoal(goal(overrides));
    expect(g.matches(pageview('/'))).toBe(false);
    expect(g.matches(pageview(`${'a'.repeat(20)}!`))).toBe(false);
    expect(g.matches(event('/'))).toBe(false);
  });

  it('a stored pattern marked by the stored-pattern check never runs', () => {
    const g = compileGoal(
      goal({ match_operator: 'regex', match_value: 'a', pattern_issue: 'reads differently' }),
    );
    expect(g.matches(pageview('/a'))).toBe(false);
  });
});

/**
 * Issue 12: matching runs in time linear in the input. Each case took seconds to minutes with
 * the backtracking translation (measured before the change: the five-`**` glob on 400
 * characters about 8 s, `.*.*.*.*.*=` on 80 characters about 1 s, both growing with the fifth
 * power of the length). The caps are generous wall-clock bounds for inputs at the documented
 * maximum lengths, not timing targets: the linear matcher needs well under a millisecond.
 */
describe('matching runs in linear time on hostile patterns', () => {
  const cap = (ms: number, fn: () => void): void => {
    const t = performance.now();
    fn();
    expect(performance.now() - t).toBeLessThan(ms);
  };

  it.each<[what: string, overrides: Partial<GoalDefinition>, subject: string]>([
    ['five ** globs on a 400-char path', { match_value: '/**/**/**/**/**/x' }, '/a'.repeat(200)],
    ['five ** globs on a max path', { match_value: '/**/**/**/**/**/x' }, '/a'.repeat(1024)],
    ['**a** chains on a max path', { match_value: '**a**a**a**a**a**b' }, 'a'.repeat(2048)],
    ['*a* chains on a max path', { match_value: '*a*a*a*a*b' }, 'a'.repeat(2048)],
    [
      'case-insensitive glob on a folded max path',
      { match_value: '/**/**/**/**/x', case_sensitive: false },
      '/ß'.repeat(1024),
    ],
  ])('glob: %s', (_what, overrides, path) => {
    const g = compileGoal(goal({ match_operator: 'glob', ...overrides }));
    cap(2000, () => expect(g.matches(pageview(path))).toBe(false));
  });

  it.each<[pattern: string, subject: string]>([
    ['.*.*.*.*.*=', 'a'.repeat(200)],
    ['(a|a)*b', 'a'.repeat(200)],
    ['(a+)+!$', `!${'a'.repeat(199)}`],
    ['^(\\w+\\s?)*$', `${'a'.repeat(199)}!`],
    ['.*\\.(pdf|zip)$', `${'x.'.repeat(100)}`],
  ])('regex %j on a max-length event name', (pattern, name) => {
    const g = compileGoal(
      goal({ goal_type: 'event', match_operator: 'regex', match_value: pattern }),
    );
    cap(2000, () => expect(g.matches(event(name))).toBe(false));
  });

  it('regexes at the program-size cap stay cheap on max-length paths', () => {
    for (const pattern of ['[ab]*a[ab]{250}c', '(?:.*/){80}x', '(.*a){60}']) {
      const g = compileGoal(goal({ match_operator: 'regex', match_value: pattern }));
      const path = '/' + Array.from({ length: 2047 }, (_, i) => 'ab/'[i % 3]).join('');
      cap(2000, () => {
        for (let i = 0; i < 20; i += 1) g.matches(pageview(path));
      });
    }
  });
});

describe('regexes are compiled once, at compile time', () => {
  it('does not construct a RegExp per event', () => {
    const g = compileGoal(goal({ match_operator: 'regex', match_value: '^/a' }));
    const original = globalThis.RegExp;
    let constructed = 0;
    globalThis.RegExp = new Proxy(original, {
      construct(target, args: [string, string]) {
        constructed += 1;
        return new target(...args);
      },
    });
    try {
      for (let i = 0; i < 100; i += 1) g.matches(pageview(`/a${i}`));
    } finally {
      globalThis.RegExp = original;
    }
    expect(constructed).toBe(0);
  });
});

type ValueCase = [
  what: string,
  overrides: Partial<GoalDefinition>,
  props: Record<string, unknown> | null,
  value: string | null,
];

describe('conversion values', () => {
  it.each<ValueCase>([
    // none
    ['none', { value_mode: 'none' }, { revenue: 10 }, null],
    ['none ignores a stray fixed_value', { value_mode: 'none', fixed_value: '5' }, null, null],
    // fixed
    ['fixed', { value_mode: 'fixed', fixed_value: '25.00' }, null, '25.00'],
    ['fixed ignores properties', { value_mode: 'fixed', fixed_value: '25' }, { revenue: 99 }, '25'],
    ['fixed without a value', { value_mode: 'fixed', fixed_value: null }, null, null],
    ['fixed with a non-numeral', { value_mode: 'fixed', fixed_value: 'abc' }, null, null],
    // event_property: numbers
    [
      'integer',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: 49 },
      '49',
    ],
    [
      'float',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: 49.99 },
      '49.99',
    ],
    ['zero', { value_mode: 'event_property', value_property_key: 'revenue' }, { revenue: 0 }, '0'],
    [
      'negative zero',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: -0 },
      '0',
    ],
    [
      'negative (refund)',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: -20.5 },
      '-20.5',
    ],
    [
      'large number without exponent',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: 1e21 },
      '1000000000000000000000',
    ],
    [
      'small number without exponent',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: 1.5e-7 },
      '0.00000015',
    ],
    // event_property: numeric strings keep their text
    [
      'numeric string',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '49.99' },
      '49.99',
    ],
    [
      'trailing zeros kept',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '49.90' },
      '49.90',
    ],
    [
      'more digits than a float holds',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '12345678901234567.89' },
      '12345678901234567.89',
    ],
    [
      'exponent string expanded',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '1.5e3' },
      '1500',
    ],
    [
      'leading + dropped',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '+5' },
      '5',
    ],
    [
      '.5 gets a leading zero',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '.5' },
      '0.5',
    ],
    [
      'negative string',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '-3' },
      '-3',
    ],
    // event_property: anything else is null (the conversion still counts)
    ['missing property', { value_mode: 'event_property', value_property_key: 'revenue' }, {}, null],
    [
      'null properties',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      null,
      null,
    ],
    [
      'null value',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: null },
      null,
    ],
    [
      'boolean',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: true },
      null,
    ],
    [
      'text',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: 'abc' },
      null,
    ],
    [
      'currency-formatted text',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '$49.99' },
      null,
    ],
    [
      'comma decimal',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '49,99' },
      null,
    ],
    [
      'whitespace around a number',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: ' 49.99 ' },
      null,
    ],
    [
      'empty string',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '' },
      null,
    ],
    [
      'NaN',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: NaN },
      null,
    ],
    [
      'Infinity',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: Infinity },
      null,
    ],
    [
      '"Infinity" string',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: 'Infinity' },
      null,
    ],
    [
      'object',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: { amount: 5 } },
      null,
    ],
    [
      'array',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: [5] },
      null,
    ],
    [
      'absurdly long numeral',
      { value_mode: 'event_property', value_property_key: 'revenue' },
      { revenue: '1e-5000' },
      null,
    ],
    [
      'no value_property_key',
      { value_mode: 'event_property', value_property_key: null },
      { revenue: 5 },
      null,
    ],
    [
      'inherited key is not a property',
      { value_mode: 'event_property', value_property_key: 'valueOf' },
      {},
      null,
    ],
  ])('%s → %j', (_what, overrides, props, expected) => {
    const g = compileGoal(goal({ goal_type: 'event', match_value: 'purchase', ...overrides }));
    const ev = event('purchase', props);
    expect(g.matches(ev)).toBe(true);
    expect(g.value(ev)).toBe(expected);
  });

  it('decimalValue accepts exactly what the value rule accepts', () => {
    expect(decimalValue('49.99')).toBe('49.99');
    expect(decimalValue(49.99)).toBe('49.99');
    expect(decimalValue('0x10')).toBeNull();
    expect(decimalValue(undefined)).toBeNull();
  });
});

describe('compileGoals and matchEvent', () => {
  const defs = [
    goal({ id: 'goal_a', match_operator: 'starts_with', match_value: '/shop' }),
    goal({
      id: 'goal_b',
      match_operator: 'glob',
      match_value: '/shop/*/done',
      value_mode: 'fixed',
      fixed_value: '10',
    }),
    goal({
      id: 'goal_c',
      goal_type: 'event',
      match_value: 'purchase',
      value_mode: 'event_property',
      value_property_key: 'revenue',
    }),
    goal({ id: 'goal_d', match_operator: 'regex', match_value: '(' }),
  ];
  const compiled = compileGoals(defs);

  it('compiles every definition, in order, keeping the definition', () => {
    expect(compiled.map((c) => c.goal)).toEqual(defs);
  });

  it('returns every matching goal with its value, in order', () => {
    const result = matchEvent(compiled, pageview('/shop/42/done'));
    expect(result.map((m) => [m.goal.id, m.value])).toEqual([
      ['goal_a', null],
      ['goal_b', '10'],
    ]);
  });

  it('returns the event goal with the value from its property', () => {
    const result = matchEvent(compiled, event('purchase', { revenue: '19.90' }));
    expect(result.map((m) => [m.goal.id, m.value])).toEqual([['goal_c', '19.90']]);
  });

  it('returns nothing when no goal matches', () => {
    expect(matchEvent(compiled, pageview('/about'))).toEqual([]);
    expect(
      matchEvent(compiled, {
        type: 'performance',
        event_name: null,
        path: '/shop',
        properties: null,
      }),
    ).toEqual([]);
  });

  it('handles an empty goal list', () => {
    expect(matchEvent(compileGoals([]), pageview('/'))).toEqual([]);
  });
});

describe('property: matching never throws', () => {
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom('**', '*', '/**/x', '(', '\\', '%E0%A4%A', '.*', 'ß', 'İ', 'ς', '(?i)a', '[^]'),
  );
  const defArb = fc.record({
    goal_type: fc.constantFrom('pageview', 'event', 'click') as fc.Arbitrary<
      GoalDefinition['goal_type']
    >,
    match_operator: fc.constantFrom(
      'equals',
      'starts_with',
      'ends_with',
      'contains',
      'glob',
      'regex',
      'like',
    ) as fc.Arbitrary<MatchOperator>,
    match_value: text,
    case_sensitive: fc.boolean(),
    property_filters: fc.array(
      fc.record({
        key: text,
        operator: fc.constantFrom(
          'equals',
          'not_equals',
          'contains',
          'gt',
          'gte',
          'lt',
          'lte',
          'exists',
          'nope',
        ) as fc.Arbitrary<PropertyFilter['operator']>,
        value: fc.option(fc.oneof(text, fc.double(), fc.boolean()), { nil: undefined }),
      }),
      { maxLength: 3 },
    ),
    value_mode: fc.constantFrom<GoalDefinition['value_mode']>('none', 'fixed', 'event_property'),
    fixed_value: fc.option(text, { nil: null }),
    value_property_key: fc.option(text, { nil: null }),
  });
  const eventArb = fc.record({
    type: fc.constantFrom('pageview', 'event', 'performance'),
    event_name: fc.option(text, { nil: null }),
    path: fc.option(text, { nil: null }),
    properties: fc.option(fc.dictionary(text, fc.jsonValue({ maxDepth: 2 })), { nil: null }),
  });

  it('compileGoal, matches and value never throw, whatever the definition and event', () => {
    fc.assert(
      fc.property(defArb, fc.array(eventArb, { maxLength: 5 }), (d, events) => {
        const g = compileGoal(goal(d));
        for (const ev of events) {
          if (g.matches(ev)) g.value(ev);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('typed query-string filters and hostname (pageview goals)', () => {
  const page = (
    path: string,
    querystring: string | null,
    hostname: string | null = 'shop.example',
  ): MatchableEvent => ({
    type: 'pageview',
    event_name: null,
    path,
    properties: null,
    querystring,
    hostname,
  });

  it('a number matches a numeric parameter; a boolean matches "true"/"false"', () => {
    const n = compileGoal(
      goal({ match_value: '/p', property_filters: [{ key: 'n', operator: 'equals', value: 5 }] }),
    );
    expect(n.matches(page('/p', '?n=5'))).toBe(true);
    expect(n.matches(page('/p', '?n=5.0'))).toBe(true);
    expect(n.matches(page('/p', '?n=6'))).toBe(false);
    expect(n.matches(page('/p', '?n=five'))).toBe(false);
    const b = compileGoal(
      goal({
        match_value: '/p',
        property_filters: [{ key: 'b', operator: 'equals', value: true }],
      }),
    );
    expect(b.matches(page('/p', '?b=true'))).toBe(true);
    expect(b.matches(page('/p', '?b=1'))).toBe(false);
  });

  it('hostname is exact equality; absent or empty means any host', () => {
    const g = compileGoal(goal({ match_value: '/p', hostname: 'shop.example' }));
    expect(g.matches(page('/p', null))).toBe(true);
    expect(g.matches(page('/p', null, 'www.shop.example'))).toBe(false);
    expect(g.matches(page('/p', null, 'SHOP.example'))).toBe(false);
    expect(g.matches(page('/p', null, null))).toBe(false);
    expect(
      compileGoal(goal({ match_value: '/p', hostname: null })).matches(page('/p', null, null)),
    ).toBe(true);
    expect(
      compileGoal(goal({ match_value: '/p', hostname: '' })).matches(page('/p', null, 'x')),
    ).toBe(true);
  });
});

describe('autocapture goal types', () => {
  const auto = (type: string, properties: Record<string, unknown> | null): MatchableEvent => ({
    type,
    event_name: null,
    path: '/page',
    properties,
  });

  it('each type matches only events of its own type, on its own property', () => {
    const cases: Array<[GoalDefinition['goal_type'], Record<string, unknown>]> = [
      ['outbound', { url: 'https://other.example/a' }],
      ['file_download', { url: 'https://cdn.example/a.pdf' }],
      ['button_click', { text: 'Buy now' }],
      ['copy', { text: 'COUPON-1' }],
      ['form_submit', { formName: 'signup', formId: '', formAction: 'https://x.example/s' }],
    ];
    for (const [type, props] of cases) {
      const g = compileGoal(goal({ goal_type: type, match_operator: 'any', match_value: '' }));
      for (const [other, otherProps] of cases) {
        expect(g.matches(auto(other, otherProps)), `${type} on ${other}`).toBe(other === type);
      }
      expect(g.matches({ ...auto('event', props), event_name: type })).toBe(false);
    }
  });

  it('old custom events named outbound match event goals, not outbound goals', () => {
    const old: MatchableEvent = {
      type: 'event',
      event_name: 'outbound',
      path: '/',
      properties: { url: 'https://x.example/' },
    };
    const fresh = auto('outbound', { url: 'https://x.example/' });
    const eventGoal = compileGoal(goal({ goal_type: 'event', match_value: 'outbound' }));
    const outboundGoal = compileGoal(
      goal({ goal_type: 'outbound', match_operator: 'any', match_value: '' }),
    );
    expect(eventGoal.matches(old)).toBe(true);
    expect(eventGoal.matches(fresh)).toBe(false);
    expect(outboundGoal.matches(old)).toBe(false);
    expect(outboundGoal.matches(fresh)).toBe(true);
  });

  it('value globs: * crosses / and needs one character, ** may be empty, anchored', () => {
    const g = compileGoal(
      goal({ goal_type: 'outbound', match_operator: 'glob', match_value: 'https://*.example/*' }),
    );
    expect(g.matches(auto('outbound', { url: 'https://a.b.example/x/y' }))).toBe(true);
    expect(g.matches(auto('outbound', { url: 'https://a.example/' }))).toBe(false);
    expect(g.matches(auto('outbound', { url: 'xhttps://a.example/x' }))).toBe(false);
    const c = compileGoal(
      goal({ goal_type: 'copy', match_operator: 'glob', match_value: 'coupon-*' }),
    );
    expect(c.matches(auto('copy', { text: 'coupon-a/b' }))).toBe(true);
    expect(c.matches(auto('copy', { text: 'coupon-' }))).toBe(false);
    const d = compileGoal(
      goal({ goal_type: 'copy', match_operator: 'glob', match_value: 'coupon-**' }),
    );
    expect(d.matches(auto('copy', { text: 'coupon-' }))).toBe(true);
  });

  it('form goals match the form name, id or action; only string values are read', () => {
    const g = compileGoal(goal({ goal_type: 'form_submit', match_value: 'signup' }));
    expect(g.matches(auto('form_submit', { formName: 'signup', formId: 'f' }))).toBe(true);
    expect(g.matches(auto('form_submit', { formName: '', formId: 'signup' }))).toBe(true);
    expect(g.matches(auto('form_submit', { formAction: 'signup' }))).toBe(true);
    expect(
      g.matches(auto('form_submit', { formName: 'login', formId: 'x', formAction: 'y' })),
    ).toBe(false);
    const n = compileGoal(goal({ goal_type: 'button_click', match_value: '5' }));
    expect(n.matches(auto('button_click', { text: 5 }))).toBe(false);
    expect(n.matches(auto('button_click', { text: '5' }))).toBe(true);
  });

  it('a value is required unless the operator is any; property filters are typed', () => {
    const g = compileGoal(
      goal({
        goal_type: 'button_click',
        match_operator: 'contains',
        match_value: 'buy',
        case_sensitive: false,
        property_filters: [{ key: 'price', operator: 'gte', value: 10 }],
      }),
    );
    expect(g.matches(auto('button_click', { text: 'BUY now', price: '12' }))).toBe(true);
    expect(g.matches(auto('button_click', { text: 'BUY now', price: 12 }))).toBe(true);
    expect(g.matches(auto('button_click', { text: 'BUY now', price: '9' }))).toBe(false);
    expect(g.matches(auto('button_click', { price: 12 }))).toBe(false);
    expect(g.matches(auto('button_click', null))).toBe(false);
  });

  it('property: an any-goal matches exactly the events of its type', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('outbound', 'file_download', 'button_click', 'form_submit', 'copy'),
        fc.constantFrom(
          'outbound',
          'file_download',
          'button_click',
          'form_submit',
          'copy',
          'event',
          'pageview',
          'input_change',
        ),
        fc.option(
          fc.dictionary(
            fc.constantFrom('url', 'text', 'formId'),
            fc.oneof(fc.string(), fc.integer()),
          ),
          { nil: null },
        ),
        (goalType, evType, props) => {
          const g = compileGoal(
            goal({ goal_type: goalType, match_operator: 'any', match_value: '' }),
          );
          expect(g.matches(auto(evType, props))).toBe(goalType === evType);
        },
      ),
    );
  });
});
