/**
 * Sets of Unicode code points as sorted, non-overlapping, non-adjacent inclusive ranges: what
 * a regex character class, `.`, `\d`… mean once parsed, in one explicit form that both the
 * in-process engine and the PostgreSQL emitter read.
 */
export type CharSet = ReadonlyArray<readonly [number, number]>;

export const MAX_CODE_POINT = 0x10ffff;
export const ANY_CHAR: CharSet = [[0, MAX_CODE_POINT]];

/** Sorts and merges ranges (overlapping or adjacent ones become one). */
export function normalizeSet(ranges: Iterable<readonly [number, number]>): CharSet {
  const sorted = [...ranges].filter(([lo, hi]) => lo <= hi).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function unionSets(...sets: CharSet[]): CharSet {
  return normalizeSet(sets.flat());
}

export function complementSet(set: CharSet): CharSet {
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

export function subtractSets(a: CharSet, b: CharSet): CharSet {
  return complementSet(unionSets(complementSet(a), b));
}

export function setOf(...codePoints: number[]): CharSet {
  return normalizeSet(codePoints.map((c) => [c, c] as const));
}

/** Whether `cp` is in `set` (binary search). */
export function setHas(set: CharSet, cp: number): boolean {
  let lo = 0;
  let hi = set.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = set[mid] as readonly [number, number];
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return true;
  }
  return false;
}

export const DIGIT_SET: CharSet = [[0x30, 0x39]];
/** `\w` in RE2 and in JavaScript: ASCII letters, digits and `_`. */
export const WORD_SET: CharSet = normalizeSet([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
]);
/** `\s` in RE2: tab, newline, form feed, carriage return, space (not `\v`). */
export const RE2_SPACE_SET: CharSet = setOf(0x09, 0x0a, 0x0c, 0x0d, 0x20);
/** `\s` in JavaScript: the WhiteSpace and LineTerminator code points. */
export const JS_SPACE_SET: CharSet = normalizeSet([
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
