import { describe, expect, it } from 'vitest';
import {
  compareDecimals,
  decimalOf,
  formatPlainDecimal,
  parseDecimal,
  plainDecimalLength,
} from './decimal.js';
import type { Decimal } from './decimal.js';

function dec(text: string): Decimal {
  const d = parseDecimal(text);
  if (d === null) throw new Error(`test setup: ${text} is not a numeral`);
  return d;
}

describe('parseDecimal', () => {
  it.each([
    ['0', '0'],
    ['-3', '-3'],
    ['+3', '3'],
    ['49.99', '49.99'],
    ['49.90', '49.90'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['007', '7'],
    ['-0', '0'],
    ['-0.00', '0.00'],
    ['1e3', '1000'],
    ['1E3', '1000'],
    ['2.5e-4', '0.00025'],
    ['-1.5e+2', '-150'],
    ['0e5', '0'],
    ['123456789012345678901234567890', '123456789012345678901234567890'],
  ])('accepts %j (plain form %j)', (text, plain) => {
    expect(formatPlainDecimal(dec(text))).toBe(plain);
  });

  it.each([
    [''],
    [' '],
    [' 1'],
    ['1 '],
    ['.'],
    ['-'],
    ['e5'],
    ['1e'],
    ['1e+'],
    ['0x10'],
    ['1_000'],
    ['1,5'],
    ['Infinity'],
    ['-Infinity'],
    ['NaN'],
    ['abc'],
    ['12abc'],
    ['١٢'], // Arabic-Indic digits are not ASCII numerals
    ['1e99999999999999999999'],
  ])('rejects %j', (text) => {
    expect(parseDecimal(text)).toBeNull();
  });
});

describe('decimalOf', () => {
  it.each([
    [49.99, '49.99'],
    [-0, '0'],
    [1e21, '1000000000000000000000'],
    [1.5e-7, '0.00000015'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [10n, '10'],
    ['10', '10'],
  ])('%s is numeric (%j)', (value, plain) => {
    const d = decimalOf(value);
    expect(d).not.toBeNull();
    expect(formatPlainDecimal(d as Decimal)).toBe(plain);
  });

  it.each([[NaN], [Infinity], [-Infinity], [true], [null], [undefined], [{}], [[1]], ['x']])(
    '%j is not numeric',
    (value) => {
      expect(decimalOf(value)).toBeNull();
    },
  );
});

describe('compareDecimals', () => {
  it.each([
    ['10', '9', 1],
    ['9', '10', -1],
    ['10', '10.0', 0],
    ['1e1', '10', 0],
    ['0', '-0', 0],
    ['0.00', '0', 0],
    ['-1', '0', -1],
    ['-10', '-9', -1],
    ['-9', '-10', 1],
    ['1.23', '1.3', -1],
    ['1.3', '1.23', 1],
    ['0.001', '0.01', -1],
    ['12345678901234567890', '12345678901234567891', -1],
    ['100', '99.999', 1],
    ['-0.5', '0.5', -1],
  ])('%s vs %s → %i', (a, b, expected) => {
    expect(compareDecimals(dec(a), dec(b))).toBe(expected);
  });
});

describe('plainDecimalLength', () => {
  it.each([['0'], ['-0.00'], ['1e3'], ['-2.5e-4'], ['49.90'], ['.5'], ['0e9'], ['-12']])(
    'matches the formatted length of %j',
    (text) => {
      const d = dec(text);
      expect(plainDecimalLength(d)).toBe(formatPlainDecimal(d).length);
    },
  );

  it('measures huge exponents without building the text', () => {
    expect(plainDecimalLength(dec('1e-999999'))).toBe(1_000_001);
  });
});
