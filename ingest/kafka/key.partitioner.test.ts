import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { keyPartitioner, murmur2 } from './key.partitioner.js';

// kafkajs's own implementation, the reference the fast one must match bit for bit.
const require = createRequire(import.meta.url);
const reference = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: string | Buffer,
) => number;

const partitions = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

describe('murmur2', () => {
  it('matches kafkajs for keys of every length remainder, ASCII and multi-byte', () => {
    const keys = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'site_abcdefghij:v1',
      'site_0123456789:Zm9vYmFyYmF6cXV4cXV1eA',
      'größe-ü-漢字-🙂',
    ];
    for (let i = 0; i < 2000; i++) keys.push(randomBytes(i % 67).toString('base64url'));
    for (const k of keys) expect(murmur2(k), k).toBe(reference(k));
    for (let i = 0; i < 500; i++) {
      const b = randomBytes(i % 41);
      expect(murmur2(b)).toBe(reference(b));
    }
  });

  it('matches the Java client on its published test vectors', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(
      -58897971,
    );
  });
});

describe('keyPartitioner', () => {
  it('chooses the same partition as kafkajs’s DefaultPartitioner', () => {
    const ours = keyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const n of [1, 3, 6, 7, 64]) {
      const partitionMetadata = partitions(n);
      for (let i = 0; i < 500; i++) {
        const message = { key: `site_abcdefghij:${randomBytes(16).toString('base64url')}` };
        const args = { topic: 't', partitionMetadata, message: { ...message, value: 'x' } };
        expect(ours(args)).toBe(theirs(args));
      }
    }
  });

  it('keeps an explicit partition and spreads unkeyed messages over partitions', () => {
    const p = keyPartitioner();
    const partitionMetadata = partitions(6);
    expect(
      p({ topic: 't', partitionMetadata, message: { key: 'k', partition: 4, value: 'x' } }),
    ).toBe(4);
    const seen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      seen.add(p({ topic: 't', partitionMetadata, message: { value: 'x' } }));
    }
    expect(seen.size).toBe(6);
  });
});
