import { describe, expect, it } from 'vitest';
import { nextSliceWidth } from './slices.js';

describe('nextSliceWidth', () => {
  it('scales the width towards the target duration', () => {
    expect(nextSliceWidth(1_000, 800, 400)).toBe(500);
    expect(nextSliceWidth(1_000, 200, 400)).toBe(2_000);
  });

  it('moves at most 4× either way, and never below 1', () => {
    expect(nextSliceWidth(1_000, 1, 400)).toBe(4_000);
    expect(nextSliceWidth(1_000, 0, 400)).toBe(4_000);
    expect(nextSliceWidth(1_000, 60_000, 400)).toBe(250);
    expect(nextSliceWidth(1, 60_000, 400)).toBe(1);
  });
});
