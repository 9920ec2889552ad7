/**
 * Glob path patterns (Rybbit's `pathPattern` syntax): `**` matches any characters including
 * `/` (possibly none), `*` matches one or more characters other than `/`, everything else is
 * literal. `/blog/*` matches `/blog/a` but not `/blog/` or `/blog/a/b`; `/blog/**` matches
 * `/blog/`, `/blog/a` and `/blog/a/b`. A run of three or more stars is read left to right as
 * `**` then `*`. Characters are code points.
 *
 * Matching runs a bit-parallel position automaton (Shift-And with self-loops): one bit per
 * consuming token, one pass over the input, O(input length × ⌈tokens / 32⌉) whatever the
 * pattern. Backtracking translations (`^.*a.*a.*b$`) took seconds on a few hundred characters.
 *
 * Value globs (autocapture goals: URLs, button texts) have no separator: there `*` is one or
 * more of any character, `/` included (`compileGlob(glob, { slashSeparates: false })`).
 */

/** One glob token: a literal code point, `*` (one or more non-`/`), `**` (anything). */
export type GlobToken = { kind: 'literal'; cp: number } | { kind: 'star' } | { kind: 'globstar' };

const SLASH_CP = 0x2f;

/** The tokens of a glob, in order (adjacent `**` merged: they mean the same as one). */
export function parseGlob(glob: string): GlobToken[] {
  const out: GlobToken[] = [];
  let i = 0;
  while (i < glob.length) {
    if (glob.startsWith('**', i)) {
      if (out[out.length - 1]?.kind !== 'globstar') out.push({ kind: 'globstar' });
      i += 2;
    } else if (glob[i] === '*') {
      out.push({ kind: 'star' });
      i += 1;
    } else {
      const cp = glob.codePointAt(i)!;
      out.push({ kind: 'literal', cp });
      i += cp > 0xffff ? 2 : 1;
    }
  }
  return out;
}

/** A glob compiled to its automaton. */
export interface CompiledGlob {
  readonly tokens: readonly GlobToken[];
  /** Whether the whole `subject` matches. */
  test(subject: string): boolean;
}

/**
 * Compiles a glob. State 0 is the start; each literal or `*` adds the next state, entered from
 * the previous one on its character (`*`: any but `/`, then a self-loop on any but `/`); `**`
 * puts a self-loop on any character on the current state. The subject matches when the last
 * state is active after its last character.
 */
export function compileGlob(glob: string, opts: { slashSeparates?: boolean } = {}): CompiledGlob {
  const tokens = parseGlob(glob);
  // Without a separator no character stops `*`: -1 is no code point.
  const SLASH = opts.slashSeparates === false ? -1 : SLASH_CP;
  const states = tokens.filter((t) => t.kind !== 'globstar').length + 1;
  const words = Math.ceil(states / 32);
  const mask = () => new Uint32Array(words);
  const setBit = (m: Uint32Array, bit: number) => {
    m[bit >>> 5]! |= 1 << (bit & 31);
  };
  const literalStep = new Map<number, Uint32Array>();
  const starStep = mask();
  const starLoop = mask();
  const anyLoop = mask();
  let state = 0;
  for (const t of tokens) {
    if (t.kind === 'globstar') {
      setBit(anyLoop, state);
      continue;
    }
    state += 1;
    if (t.kind === 'star') {
      setBit(starStep, state);
      setBit(starLoop, state);
    } else {
      let m = literalStep.get(t.cp);
      if (m === undefined) literalStep.set(t.cp, (m = mask()));
      setBit(m, state);
    }
  }
  const last = state;
  const none = mask();

  if (words === 1) {
    // The common case (globs of up to 31 tokens): the state set fits one machine word.
    const lit = new Map([...literalStep].map(([cp, m]) => [cp, m[0]!]));
    const ascii = new Int32Array(128);
    for (const [cp, m] of lit) if (cp < 128) ascii[cp] = m;
    const [ss, sl, al] = [starStep[0]!, starLoop[0]!, anyLoop[0]!];
    const accept = 2 ** last;
    return {
      tokens,
      test(subject: string): boolean {
        let d = 1;
        for (let i = 0; i < subject.length;) {
          const cp = subject.codePointAt(i)!;
          i += cp > 0xffff ? 2 : 1;
          const l = cp < 128 ? ascii[cp]! : (lit.get(cp) ?? 0);
          d = cp === SLASH ? ((d << 1) & l) | (d & al) : ((d << 1) & (l | ss)) | (d & (al | sl));
          if (d === 0) return false;
        }
        return (d & accept) !== 0;
      },
    };
  }

  return {
    tokens,
    test(subject: string): boolean {
      let d = mask();
      let next = mask();
      d[0] = 1;
      for (let i = 0; i < subject.length;) {
        const cp = subject.codePointAt(i)!;
        i += cp > 0xffff ? 2 : 1;
        const lit = literalStep.get(cp) ?? none;
        const notSlash = cp !== SLASH;
        let carry = 0;
        let alive = 0;
        for (let w = 0; w < words; w += 1) {
          const cur = d[w]!;
          const shifted = ((cur << 1) | carry) >>> 0;
          carry = cur >>> 31;
          const step = lit[w]! | (notSlash ? starStep[w]! : 0);
          const loop = anyLoop[w]! | (notSlash ? starLoop[w]! : 0);
          const v = ((shifted & step) | (cur & loop)) >>> 0;
          next[w] = v;
          alive |= v;
        }
        if (alive === 0) return false;
        [d, next] = [next, d];
      }
      return (d[last >>> 5]! & (1 << (last & 31))) !== 0;
    },
  };
}
