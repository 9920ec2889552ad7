import { readFileSync } from 'node:fs';
import { Reader, type Response } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { defaultGeoDatabasePaths } from './geo.js';
import { ipBytes, MmdbFile } from './mmdb-file.js';

/** Deterministic pseudo-random addresses (xorshift), so a failure can be reproduced. */
function* addresses(family: 4 | 6, n: number): Generator<string> {
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < n; i++) {
    if (family === 4) {
      const v = next();
      yield [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
    } else {
      // Mostly inside 2000::/3 (allocated space), where the database has data.
      const g = [0x2000 | (next() & 0x0fff), next() & 0xffff, next() & 0xffff, next() & 0xffff];
      yield `${g.map((v) => v.toString(16)).join(':')}::${(next() & 0xffff).toString(16)}`;
    }
  }
}

describe('MmdbFile (search tree on disk)', () => {
  const [v4Path, v6Path] = defaultGeoDatabasePaths() as [string, string];

  it('answers exactly like maxmind’s in-memory Reader for the default DB-IP databases', async () => {
    for (const [path, family] of [
      [v4Path, 4],
      [v6Path, 6],
    ] as const) {
      const reference = new Reader<Response>(readFileSync(path));
      // A 1 MB tree cache: evictions and re-reads are exercised too (and, with lookups in
      // flight together, by the next test).
      const file = MmdbFile.open(path, { treeCacheBytes: 1024 * 1024 });
      let found = 0;
      const mismatches: string[] = [];
      for (const ip of addresses(family, 10_000)) {
        const expected = reference.get(ip);
        if (JSON.stringify(await file.get(ip)) !== JSON.stringify(expected)) mismatches.push(ip);
        if (expected !== null) found++;
      }
      expect(mismatches).toEqual([]);
      expect(found).toBeGreaterThan(1_000); // the comparison covered real records
      expect(file.metadata.ipVersion).toBe(family);
      file.close();
    }
  }, 60_000);

  it('answers concurrent lookups right while their block reads evict each other', async () => {
    const reference = new Reader<Response>(readFileSync(v4Path));
    // 16 blocks of cache for thousands of walks in flight: blocks are evicted between a read
    // arriving and the walk that waited for it resuming, and walks share pending reads.
    const file = MmdbFile.open(v4Path, { treeCacheBytes: 0 });
    const ips = [...addresses(4, 3_000)];
    const answers = await Promise.all(ips.map((ip) => file.get(ip)));
    const mismatches = ips.filter(
      (ip, i) => JSON.stringify(answers[i]) !== JSON.stringify(reference.get(ip)),
    );
    expect(mismatches).toEqual([]);
    file.close();
  }, 60_000);

  it('gives null for an address of the other family or a non-address', async () => {
    const file = MmdbFile.open(v4Path);
    expect(await file.get('2a00:1450:4001:80b::200e')).toBeNull();
    expect(await file.get('garbage')).toBeNull();
    file.close();
  });

  it('parses IPv6 text forms into the same bytes', () => {
    const hex = (ip: string) => Buffer.from(ipBytes(ip)!).toString('hex');
    expect(hex('::ffff:81.2.69.142')).toBe('00000000000000000000ffff5102458e');
    expect(hex('::ffff:5102:458e')).toBe('00000000000000000000ffff5102458e');
    expect(hex('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(hex('2001:db8:0:0:0:0:0:1')).toBe('20010db8000000000000000000000001');
    expect(hex('::')).toBe('00000000000000000000000000000000');
    expect(hex('fe80::1%eth0')).toBe('fe800000000000000000000000000001');
    expect(hex('81.2.69.142')).toBe('5102458e');
    expect(ipBytes('1.2.3')).toBeNull();
  });
});
