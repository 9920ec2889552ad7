import { describe, expect, it } from 'vitest';
import { RefreshingCache } from './refreshing.cache.js';

/** A source whose answers the test sets and whose loads it resolves or fails by hand. */
function source() {
  const answers = new Map<string, string | null>();
  const pending: Array<{ key: string; resolve: () => void; reject: (e: Error) => void }> = [];
  const loads: string[] = [];
  const load = (key: string) =>
    new Promise<string | null>((resolve, reject) => {
      loads.push(key);
      pending.push({
        key,
        resolve: () => resolve(answers.get(key) ?? null),
        reject,
      });
    });
  const settle = async (how: 'resolve' | 'fail' = 'resolve') => {
    for (const p of pending.splice(0)) {
      if (how === 'resolve') p.resolve();
      else p.reject(new Error('database down'));
    }
    await new Promise((r) => setImmediate(r));
  };
  return { answers, load, loads, settle, pending };
}

function cacheWith(opts: Partial<ConstructorParameters<typeof RefreshingCache>[1]> = {}) {
  const src = source();
  let t = 1_000_000;
  const cache = new RefreshingCache<string>(
    src.load,
    {
      refreshAfterMs: 15_000,
      expireAfterMs: 30_000,
      missTtlMs: 5_000,
      maxEntries: 3,
      maxMisses: 3,
      retryAfterMs: 1_000,
      ...opts,
    },
    null,
    () => t,
  );
  return { cache, src, advance: (ms: number) => (t += ms) };
}

/** Whether a promise has settled (after letting resolved callbacks run). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('RefreshingCache', () => {
  it('loads a key once for concurrent callers, then answers from memory', async () => {
    const { cache, src } = cacheWith();
    src.answers.set('a', 'A');
    const first = [cache.get('a'), cache.get('a')];
    expect(src.loads).toEqual(['a']);
    await src.settle();
    expect(await Promise.all(first)).toEqual(['A', 'A']);
    expect(await cache.get('a')).toBe('A');
    expect(src.loads).toEqual(['a']);
  });

  it('serves a stale entry at once while one background reload runs', async () => {
    const { cache, src, advance } = cacheWith();
    src.answers.set('a', 'A1');
    const p = cache.get('a');
    await src.settle();
    await p;
    src.answers.set('a', 'A2');
    advance(16_000);
    // The reload is pending (a slow database): callers are not held up by it.
    expect(await cache.get('a')).toBe('A1');
    expect(await cache.get('a')).toBe('A1');
    expect(src.loads).toEqual(['a', 'a']);
    await src.settle();
    expect(await cache.get('a')).toBe('A2');
  });

  it('keeps serving a known entry while reloads fail, retrying after a pause', async () => {
    const { cache, src, advance } = cacheWith({ expireAfterMs: Number.POSITIVE_INFINITY });
    src.answers.set('a', 'A');
    const p = cache.get('a');
    await src.settle();
    await p;
    advance(3_600_000);
    expect(await cache.get('a')).toBe('A');
    await src.settle('fail');
    expect(await cache.get('a')).toBe('A');
    expect(src.loads).toHaveLength(2); // within the retry pause: no new load
    advance(1_000);
    expect(await cache.get('a')).toBe('A');
    expect(src.loads).toHaveLength(3);
  });

  it('never serves an entry past its expiry: the caller waits for the reload', async () => {
    const { cache, src, advance } = cacheWith();
    src.answers.set('key', 'principal');
    const p = cache.get('key');
    await src.settle();
    await p;
    src.answers.set('key', null); // revoked
    advance(30_000);
    const after = cache.get('key');
    expect(await settled(after)).toBe(false);
    await src.settle();
    expect(await after).toBeNull();
  });

  it('a reload that finds nothing turns the entry into a miss', async () => {
    const { cache, src, advance } = cacheWith();
    src.answers.set('key', 'principal');
    const p = cache.get('key');
    await src.settle();
    await p;
    src.answers.set('key', null);
    advance(15_000);
    expect(await cache.get('key')).toBe('principal'); // stale, reload started
    await src.settle();
    expect(await cache.get('key')).toBeNull();
    expect(src.loads).toHaveLength(2);
  });

  it('remembers misses for their TTL, apart from found entries', async () => {
    const { cache, src, advance } = cacheWith();
    for (const k of ['a', 'b', 'c']) src.answers.set(k, k.toUpperCase());
    const found = ['a', 'b', 'c'].map((k) => cache.get(k));
    await src.settle();
    await Promise.all(found);
    // A flood of unknown keys: each costs one load, then is answered from memory...
    const unknown = ['x1', 'x2', 'x3', 'x4', 'x5'].map((k) => cache.get(k));
    await src.settle();
    expect(await Promise.all(unknown)).toEqual([null, null, null, null, null]);
    expect(await cache.get('x5')).toBeNull();
    expect(src.loads).toHaveLength(8);
    // ...and evicts none of the known ones.
    expect(await Promise.all(['a', 'b', 'c'].map((k) => cache.get(k)))).toEqual(['A', 'B', 'C']);
    expect(src.loads).toHaveLength(8);
    expect(cache.size()).toEqual({ found: 3, misses: 3 });
    advance(5_000);
    const again = cache.get('x5');
    expect(src.loads).toHaveLength(9);
    src.answers.set('x5', 'created since');
    await src.settle();
    expect(await again).toBe('created since');
  });

  it('drops the least recently loaded entry when full', async () => {
    const { cache, src, advance } = cacheWith({ expireAfterMs: Number.POSITIVE_INFINITY });
    for (const k of ['a', 'b', 'c', 'd']) src.answers.set(k, k);
    const first = ['a', 'b', 'c'].map((k) => cache.get(k));
    await src.settle();
    await Promise.all(first);
    // 'a' is reloaded, so 'b' becomes the oldest load.
    advance(15_000);
    void cache.get('a');
    await src.settle();
    const d = cache.get('d');
    await src.settle();
    await d;
    const loads = src.loads.length;
    expect(await cache.get('a')).toBe('a');
    expect(await cache.get('c')).toBe('c');
    expect(src.loads.length).toBe(loads + 1); // 'c' is stale: one background reload
    const b = cache.get('b');
    expect(await settled(b)).toBe(false); // evicted: loaded again
  });
});
