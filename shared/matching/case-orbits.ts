import { RE2JS } from 're2js';
import { normalizeSet, setHas, type CharSet } from './char-set.js';

/**
 * The case-folding orbits of the regex engine (RE2's simple case folding, as re2js applies it
 * to case-insensitive regexes): `k`, `K` and the Kelvin sign `K` are one orbit, `s`, `S`, `ſ`
 * another, `σ`, `ς`, `Σ` another; `ß` and `ẞ` are one orbit but never equal `ss`; `İ` and `ı`
 * are alone. The PostgreSQL emitter expands case-insensitive regexes with these orbits instead
 * of using `~*`, whose folding is collation-dependent and asymmetric.
 *
 * The table is derived at first use from the engine itself: candidate groups come from the
 * JavaScript case mappings (plus the few simple-folding pairs no single-character mapping
 * links), and each candidate pair is kept only when re2js says the two fold together. So the
 * SQL rendering cannot drift from the engine that runs in process.
 */

/** Pairs that Unicode's simple case folding joins but no single-code-point case mapping does. */
const EXTRA_CANDIDATES: Array<[number, number]> = [
  [0x1e9e, 0xdf], // ẞ ß
  [0x390, 0x1fd3], // ΐ ΐ
  [0x3b0, 0x1fe3], // ΰ ΰ
  [0xfb05, 0xfb06], // ﬅ ﬆ
  [0x130, 0x69], // İ i (expected to be refused by the engine)
  [0x131, 0x49], // ı I (expected to be refused by the engine)
];

/** Cased characters all lie below this (Unicode has none beyond the first two planes). */
const CASED_LIMIT = 0x20000;

let orbitByCodePoint: Map<number, readonly number[]> | null = null;

function singleCodePoint(s: string): number | null {
  const cp = s.codePointAt(0);
  if (cp === undefined) return null;
  return s.length === (cp > 0xffff ? 2 : 1) ? cp : null;
}

function buildOrbits(): Map<number, readonly number[]> {
  // Union-find over candidate links.
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const link = (a: number, b: number): void => {
    if (a === b) return;
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  for (let cp = 0; cp < CASED_LIMIT; cp += 1) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    const lower = singleCodePoint(c.toLowerCase());
    const upper = singleCodePoint(c.toUpperCase());
    if (lower !== null) link(cp, lower);
    if (upper !== null) link(cp, upper);
  }
  for (const [a, b] of EXTRA_CANDIDATES) link(a, b);
  const groups = new Map<number, number[]>();
  for (const cp of parent.keys()) {
    const r = find(cp);
    const g = groups.get(r);
    if (g) g.push(cp);
    else groups.set(r, [cp]);
  }
  const out = new Map<number, readonly number[]>();
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    members.sort((x, y) => x - y);
    // Split the candidate group into the engine's orbits.
    const left = new Set(members);
    for (const m of members) {
      if (!left.has(m)) continue;
      const re = RE2JS.compile(`^\\x{${m.toString(16)}}$`, RE2JS.CASE_INSENSITIVE);
      const orbit = members.filter((o) => left.has(o) && re.test(String.fromCodePoint(o)));
      for (const o of orbit) left.delete(o);
      if (orbit.length > 1) for (const o of orbit) out.set(o, orbit);
    }
  }
  return out;
}

/** The code points a case-insensitive regex treats as equal to `cp` (itself included). */
export function caseOrbit(cp: number): readonly number[] {
  orbitByCodePoint ??= buildOrbits();
  return orbitByCodePoint.get(cp) ?? [cp];
}

/** Every code point that has an orbit of two or more, in ascending order. */
export function casedCodePoints(): number[] {
  orbitByCodePoint ??= buildOrbits();
  return [...orbitByCodePoint.keys()].sort((a, b) => a - b);
}

/** `set` plus every code point that folds together with a member: RE2's folded class. */
export function foldClosure(set: CharSet): CharSet {
  orbitByCodePoint ??= buildOrbits();
  const extra: Array<[number, number]> = [];
  for (const [cp, orbit] of orbitByCodePoint) {
    if (setHas(set, cp)) for (const o of orbit) extra.push([o, o]);
  }
  return extra.length === 0 ? set : normalizeSet([...set, ...extra]);
}
