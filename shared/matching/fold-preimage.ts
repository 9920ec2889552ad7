import { normalizeSet } from './char-set.js';
import { foldCase } from './goal-matcher.js';
import { postgresSet } from './regex.js';

/**
 * Case-insensitive plain operators in SQL. The matcher compares `foldCase(subject)` with the
 * folded match value; PostgreSQL cannot run `foldCase` (its `lower`/`upper` depend on the
 * collation and never expand `ß` to `ss`). But `foldCase` maps each code point on its own
 * (final sigma is normalized to `σ`), so the raw strings whose folded form is a given text are a
 * regular language: at each position, any code point whose folded form is the next one, two or
 * three characters. This module writes that language as a PostgreSQL pattern over the raw
 * column, from a table built by running `foldCase` itself: the same rule, one definition.
 */

/** Cased characters all lie below this (Unicode has none beyond the first two planes). */
const CASED_LIMIT = 0x20000;
/** Longest pattern written; beyond it the caller falls back to the in-process matcher. */
const MAX_PATTERN_LENGTH = 16_000;

interface FoldTable {
  /** Folded text → code points folding to exactly it (code points that fold to themselves omitted). */
  byImage: Map<string, number[]>;
  /** Code points whose folded form is two or three characters, with that form. */
  multi: Array<[number, string]>;
}

let table: FoldTable | null = null;

function foldTable(): FoldTable {
  if (table) return table;
  const byImage = new Map<string, number[]>();
  const multi: Array<[number, string]> = [];
  for (let cp = 0; cp < CASED_LIMIT; cp += 1) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    const f = foldCase(c);
    if (f === c) continue;
    const list = byImage.get(f);
    if (list) list.push(cp);
    else byImage.set(f, [cp]);
    if ([...f].length > 1) multi.push([cp, f]);
  }
  table = { byImage, multi };
  return table;
}

/** Code points whose folded form is exactly `image`. */
function preimages(image: string): number[] {
  const t = foldTable();
  const out = [...(t.byImage.get(image) ?? [])];
  const cps = [...image];
  if (cps.length === 1 && foldCase(image) === image) out.push(image.codePointAt(0)!);
  return out;
}

const bracket = (cps: number[]) => postgresSet(normalizeSet(cps.map((c) => [c, c] as const)));

class TooLarge extends Error {}

/**
 * The pattern (for `column COLLATE "C" ~ pattern`) of raw strings `s` such that
 * `foldCase(s)` equals / starts with / ends with / contains `folded` (itself a `foldCase`
 * output), or null when it would be too long.
 */
export function foldPreimageRegex(
  folded: string,
  op: 'equals' | 'starts_with' | 'ends_with' | 'contains',
): string | null {
  const t = foldTable();
  const L = [...folded];
  const n = L.length;
  const open = op === 'starts_with' || op === 'contains'; // the last character may overshoot
  const memo = new Map<number, string>();
  // body(i): raw text whose folded form is L[i..] (with `open`, may go on past the end inside
  // one character's folded form).
  const body = (i: number): string => {
    if (i === n) return '';
    const hit = memo.get(i);
    if (hit !== undefined) return hit;
    const options: string[] = [];
    for (let k = 1; k <= 3 && i + k <= n; k += 1) {
      const cps = preimages(L.slice(i, i + k).join(''));
      if (cps.length > 0) options.push(bracket(cps) + body(i + k));
    }
    if (open) {
      const rest = L.slice(i).join('');
      const over = t.multi.filter(([, f]) => f.length > rest.length && f.startsWith(rest));
      if (over.length > 0) options.push(bracket(over.map(([c]) => c)));
    }
    const text =
      options.length === 0
        ? '[^\\u0001-\\U0010ffff]'
        : options.length === 1
          ? options[0]!
          : `(?:${options.join('|')})`;
    if (text.length > MAX_PATTERN_LENGTH) throw new TooLarge();
    memo.set(i, text);
    return text;
  };
  try {
    let core = body(0);
    if (op === 'ends_with' || op === 'contains') {
      // The first character may start inside one character's folded form.
      const heads: string[] = [core];
      for (let j = 1; j <= 2 && j <= n; j += 1) {
        const prefix = L.slice(0, j).join('');
        const cps = t.multi
          .filter(([, f]) => [...f].length > j && f.endsWith(prefix))
          .map(([c]) => c);
        if (cps.length > 0) heads.push(bracket(cps) + body(j));
      }
      if (op === 'contains') {
        // One character whose folded form holds the whole value strictly inside.
        const inside = t.multi
          .filter(([, f]) => {
            const at = f.indexOf(folded, 1);
            return at > 0 && at + folded.length < f.length;
          })
          .map(([c]) => c);
        if (inside.length > 0) heads.push(bracket(inside));
      }
      core = heads.length === 1 ? core : `(?:${heads.join('|')})`;
    }
    if (core.length > MAX_PATTERN_LENGTH) return null;
    if (op === 'equals') return `^(?:${core})$`;
    if (op === 'starts_with') return `^(?:${core})`;
    if (op === 'ends_with') return `(?:${core})$`;
    return core === '' ? '' : `(?:${core})`;
  } catch (err) {
    if (err instanceof TooLarge) return null;
    throw err;
  }
}
