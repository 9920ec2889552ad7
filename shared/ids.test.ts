import { describe, expect, it } from 'vitest';
import { parseGoalRef, parseWebsiteRef, UUID_PATTERN, uuidV7 } from './ids.js';

describe('uuidV7', () => {
  it('is a version-7, RFC variant UUID carrying the millisecond time first', () => {
    const t = Date.UTC(2026, 10, 28, 12, 0, 0, 123);
    const id = uuidV7(t);
    expect(id).toMatch(new RegExp(UUID_PATTERN));
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]!);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(t);
  });

  it('sorts by time, and ids of one millisecond are distinct', () => {
    const a = uuidV7(1_000);
    const b = uuidV7(2_000);
    expect(a < b).toBe(true);
    const same = new Set(Array.from({ length: 5_000 }, () => uuidV7(3_000)));
    expect(same.size).toBe(5_000);
  });
});

describe('references', () => {
  it('parse site_/goal_ ids and numeric ids, and nothing else', () => {
    expect(parseWebsiteRef('site_abcdefghij')).toEqual({ id: 'site_abcdefghij' });
    expect(parseWebsiteRef('42')).toEqual({ numericId: 42 });
    expect(parseWebsiteRef(42)).toEqual({ numericId: 42 });
    for (const bad of ['\u0000', 'site_', "' OR 1=1", '1'.repeat(16), -1, 1.5, null, {}]) {
      expect(parseWebsiteRef(bad)).toBeNull();
    }
    expect(parseGoalRef(`goal_${'a'.repeat(21)}`)).toEqual({ id: `goal_${'a'.repeat(21)}` });
    expect(parseGoalRef('site_abcdefghij')).toBeNull();
  });
});
