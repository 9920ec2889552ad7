import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob } from './glob.js';

/**
 * The backtracking translation globs used before issue 12, kept here as the reference
 * semantics (run only on short inputs, where backtracking is harmless).
 */
function referenceGlob(glob: string): RegExp {
  let source = '^';
  let i = 0;
  while (i < glob.length) {
    if (glob.startsWith('**', i)) {
      source += '.*';
      i += 2;
    } else if (glob[i] === '*') {
      source += '[^/]+';
      i += 1;
    } else {
      const next = glob.indexOf('*', i);
      const literal = next === -1 ? glob.slice(i) : glob.slice(i, next);
      source += literal.replace(/[\\^$.+?()[\]{}|/]/g, '\\$&');
      i += literal.length;
    }
  }
  return new RegExp(`${source}$`, 'su');
}

describe('compileGlob', () => {
  it.each([
    ['/blog/*', '/blog/a', true],
    ['/blog/*', '/blog/', false],
    ['/blog/*', '/blog/a/b', false],
    ['/blog/**', '/blog/', true],
    ['/blog/**', '/blog/a/b', true],
    ['/blog/**', '/blog', false],
    ['***', 'a', true],
    ['***', '', false],
    ['', '', true],
    ['', '/', false],
    ['/😀/*', '/😀/😀', true],
    ['/a/*', '/a/\n', true],
    ['**', '\n/\r', true],
  ])('%j on %j → %s', (glob, subject, expected) => {
    expect(compileGlob(glob).test(subject)).toBe(expected);
  });

  it('handles patterns wider than one 32-bit word', () => {
    const glob = `/${'*a'.repeat(40)}`;
    expect(compileGlob(glob).test(`/${'xa'.repeat(40)}`)).toBe(true);
    expect(compileGlob(glob).test(`/${'xa'.repeat(39)}`)).toBe(false);
  });

  it('property: the automaton accepts exactly what the old translation accepted', () => {
    const piece = fc.constantFrom('a', 'b', '/', '*', '**', '.', '\\', '😀', '%', '\n', 'é');
    const glob = fc.array(piece, { maxLength: 8 }).map((xs) => xs.join(''));
    const subject = fc
      .array(fc.constantFrom('a', 'b', '/', '.', '\\', '😀', '%', '\n', '\r', 'é', '*'), {
        maxLength: 10,
      })
      .map((xs) => xs.join(''));
    fc.assert(
      fc.property(glob, fc.array(subject, { minLength: 1, maxLength: 8 }), (g, subjects) => {
        const ours = compileGlob(g);
        const ref = referenceGlob(g);
        for (const s of subjects)
          expect(ours.test(s), `${g} ${JSON.stringify(s)}`).toBe(ref.test(s));
      }),
      { numRuns: 2000 },
    );
  });
});
