import { describe, expect, it } from 'vitest';
import type { PropertyFilterOperator, PropertyValue } from '../goals/goal-definition.js';
import { compareCodePoints, compareProperty, stringForm } from './compare.js';

type Case = [
  what: string,
  actual: unknown,
  op: PropertyFilterOperator,
  expected: PropertyValue | undefined,
  result: boolean,
];

describe('compareProperty', () => {
  it.each<Case>([
    // equals: strings, case-sensitive
    ['same string', 'pro', 'equals', 'pro', true],
    ['different string', 'pro', 'equals', 'free', false],
    ['strings are case-sensitive', 'Pro', 'equals', 'pro', false],
    ['unicode string', 'café', 'equals', 'café', true],
    ['empty string equals empty string', '', 'equals', '', true],
    ['empty string is not numeric zero', '', 'equals', 0, false],
    // equals: numbers and numeric strings compare as numbers
    ['number equals number', 10, 'equals', 10, true],
    ['numeric string equals number', '10', 'equals', 10, true],
    ['number equals numeric string', 10, 'equals', '10', true],
    ['numeric strings compare numerically', '10.0', 'equals', '10', true],
    ['exponent numeral', '1e3', 'equals', 1000, true],
    ['decimal string vs float', '49.99', 'equals', 49.99, true],
    ['negative', '-3', 'equals', -3, true],
    ['leading zeros are numeric', '007', 'equals', 7, true],
    [
      'exact: no float collision on long digit strings',
      '12345678901234567890',
      'equals',
      '12345678901234567891',
      false,
    ],
    ['whitespace makes it text', ' 10', 'equals', 10, false],
    ['hex is text', '0x10', 'equals', 16, false],
    ['Infinity string is text', 'Infinity', 'equals', 'Infinity', true],
    ['NaN number is text "NaN"', NaN, 'equals', 'NaN', true],
    ['number vs non-numeric text', 10, 'equals', '10abc', false],
    // equals: booleans
    ['boolean equals boolean', true, 'equals', true, true],
    ['boolean differs', true, 'equals', false, false],
    ['boolean equals "true"', true, 'equals', 'true', true],
    ['"false" equals boolean false', 'false', 'equals', false, true],
    ['boolean vs "True" (case-sensitive)', true, 'equals', 'True', false],
    ['boolean is not 1', true, 'equals', 1, false],
    ['"1" is not true', '1', 'equals', true, false],
    // equals: objects and arrays by JSON
    ['object by JSON', { a: 1 }, 'equals', '{"a":1}', true],
    ['array by JSON', [1, 'x'], 'equals', '[1,"x"]', true],
    ['array is not its join', [1, 2], 'equals', '1,2', false],
    // not_equals is exactly !equals
    ['not_equals different', 'pro', 'not_equals', 'free', true],
    ['not_equals same', 'pro', 'not_equals', 'pro', false],
    ['not_equals numeric', '10', 'not_equals', 10, false],
    ['not_equals boolean/string', false, 'not_equals', 'false', false],
    // contains
    ['contains substring', 'summer-sale', 'contains', 'sale', true],
    ['contains is case-sensitive', 'Summer', 'contains', 'summer', false],
    ['contains: % and _ are literal', 'get 50%_off now', 'contains', '50%_off', true],
    ['contains: % is not a wildcard', 'get 50 off', 'contains', '50%off', false],
    ['contains on a stringified number', 15, 'contains', '5', true],
    ['contains with a number value', 'abc123', 'contains', 12, true],
    ['contains on a boolean', true, 'contains', 'ru', true],
    ['contains on JSON', { plan: 'pro' }, 'contains', '"plan"', true],
    ['contains empty string', 'x', 'contains', '', true],
    ['contains unicode', '日本語', 'contains', '本', true],
    // ordering: numeric when both numeric
    ['"10" gt 9 (numeric, not "10" < "9")', '10', 'gt', 9, true],
    ['9 lt "10"', 9, 'lt', '10', true],
    ['gt equal', 10, 'gt', 10, false],
    ['gte equal', 10, 'gte', '10.00', true],
    ['lte equal', '1e1', 'lte', 10, true],
    ['lt negative', -5, 'lt', '-4', true],
    ['gt decimals', '49.99', 'gt', '49.9', true],
    // ordering: strings by code point
    ['"abc" lt "abd"', 'abc', 'lt', 'abd', true],
    ['"abd" gt "abc"', 'abd', 'gt', 'abc', true],
    ['ISO dates order as strings', '2024-03-01', 'gt', '2024-02-29', true],
    ['uppercase sorts before lowercase', 'Z', 'lt', 'a', true],
    ['prefix is smaller', 'ab', 'lt', 'abc', true],
    ['gte equal strings', 'x', 'gte', 'x', true],
    ['code point order, not UTF-16 order', '\u{1F600}', 'gt', '\uFF5E', true],
    // ordering: mixed or boolean → false, never a throw
    ['non-numeric text is not gt a number', 'N/A', 'gt', 100, false],
    ['non-numeric text is not lt a number', 'N/A', 'lt', 100, false],
    ['number is not ordered against text', 100, 'lt', 'abc', false],
    ['booleans have no order (gt)', true, 'gt', false, false],
    ['booleans have no order (gte same)', true, 'gte', true, false],
    ['boolean vs number has no order', true, 'gt', 0, false],
    ['object vs text orders by JSON', { a: 1 }, 'lt', '{"b":1}', true],
    // exists
    ['exists on a string', 'x', 'exists', undefined, true],
    ['exists on an empty string', '', 'exists', undefined, true],
    ['exists on false', false, 'exists', undefined, true],
    ['exists on 0', 0, 'exists', undefined, true],
    ['exists ignores a value given by mistake', 'x', 'exists', 'y', true],
    ['exists on null', null, 'exists', undefined, false],
    ['exists on missing', undefined, 'exists', undefined, false],
    // missing property: fails everything except not_equals
    ['missing: equals', undefined, 'equals', 'x', false],
    ['missing: equals ""', undefined, 'equals', '', false],
    ['missing: not_equals is true', undefined, 'not_equals', 'x', true],
    ['missing: contains', undefined, 'contains', '', false],
    ['missing: gt', undefined, 'gt', 0, false],
    ['missing: gte', undefined, 'gte', 0, false],
    ['missing: lt', undefined, 'lt', 0, false],
    ['missing: lte', undefined, 'lte', 0, false],
    ['null is missing: equals "null"', null, 'equals', 'null', false],
    ['null is missing: not_equals', null, 'not_equals', 'x', true],
    // malformed filters
    ['no value: equals never matches', 'x', 'equals', undefined, false],
    ['no value: not_equals never matches', 'x', 'not_equals', undefined, false],
    ['no value: gt never matches', 5, 'gt', undefined, false],
    ['unknown operator never matches', 'x', 'matches' as PropertyFilterOperator, 'x', false],
  ])('%s: %j %s %j → %j', (_what, actual, op, expected, result) => {
    expect(compareProperty(actual, op, expected)).toBe(result);
  });

  const samples: unknown[] = [
    undefined,
    null,
    '',
    'x',
    'X',
    '10',
    '10.0',
    10,
    9,
    true,
    'true',
    false,
    [1],
    { a: 1 },
    NaN,
  ];
  const values: PropertyValue[] = ['x', '10', 10, 'true', true, false, ''];

  it('not_equals is the exact negation of equals for every combination', () => {
    for (const a of samples) {
      for (const v of values) {
        expect(compareProperty(a, 'not_equals', v)).toBe(!compareProperty(a, 'equals', v));
      }
    }
  });

  it('gte is gt or equals, lte is lt or equals, whenever the pair is ordered', () => {
    for (const a of samples) {
      for (const v of values) {
        const gt = compareProperty(a, 'gt', v);
        const lt = compareProperty(a, 'lt', v);
        const gte = compareProperty(a, 'gte', v);
        const lte = compareProperty(a, 'lte', v);
        expect(gt && lt).toBe(false);
        if (gt) expect(gte).toBe(true);
        if (lt) expect(lte).toBe(true);
        if (gte && !gt) expect(lte).toBe(true);
      }
    }
  });

  it('never throws on values that cannot be serialized', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(compareProperty(cyclic, 'equals', 'x')).toBe(false);
    expect(compareProperty(Symbol('s'), 'contains', 'x')).toBe(false);
    expect(compareProperty(10n, 'gt', 9)).toBe(true);
  });
});

describe('stringForm', () => {
  it.each([
    ['x', 'x'],
    [1.5, '1.5'],
    [1e21, '1e+21'],
    [true, 'true'],
    [null, 'null'],
    [{ a: [1, 'b'] }, '{"a":[1,"b"]}'],
  ])('%j → %j', (value, expected) => {
    expect(stringForm(value)).toBe(expected);
  });
});

describe('compareCodePoints', () => {
  it.each([
    ['a', 'b', -1],
    ['b', 'a', 1],
    ['a', 'a', 0],
    ['', 'a', -1],
    ['\uFF5E', '\u{1F600}', -1],
    ['\u{1F600}', '\u{1F601}', -1],
    ['x\u{1F600}', 'x\uFFFF', 1],
  ])('%j vs %j → %i', (a, b, expected) => {
    expect(compareCodePoints(a, b)).toBe(expected);
  });
});

describe('property conditions run in linear time', () => {
  it('a long numeral with an inner zero run compares quickly (replace(/0+$/) was quadratic)', () => {
    // 64 K digits: about 3 s with the old trailing-zero regex, well under a millisecond now.
    const v = `1${'0'.repeat(64_000)}1`;
    const t = performance.now();
    expect(compareProperty(v, 'gt', '5')).toBe(true);
    expect(compareProperty(v, 'equals', v)).toBe(true);
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
