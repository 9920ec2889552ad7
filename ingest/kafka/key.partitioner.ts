import { Partitioners, type ICustomPartitioner } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, which kafkajs's DefaultPartitioner also
 * implements) in 32-bit integer arithmetic. kafkajs computes it with a BigInt-backed Long,
 * which cost about 4.5 µs per message, a measurable share of ingest's CPU; every operation
 * here keeps only the low 32 bits, which is all the Long version's result (`toInt()`) depends
 * on, so both give the same hash for every key (see key-partitioner.test.ts).
 */
export function murmur2(key: string | Buffer): number {
  const data = typeof key === 'string' ? Buffer.from(key) : key;
  const length = data.length;
  let h = SEED ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= data[end + 2]! << 16;
  if (rest >= 2) h ^= data[end + 1]! << 8;
  if (rest >= 1) {
    h ^= data[end]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * kafkajs's DefaultPartitioner with the fast murmur2: a keyed message goes to the same
 * partition as before (`(murmur2(key) & 0x7fffffff) % partitions`, as the Java client), so
 * per-visitor ordering is unchanged; messages with an explicit partition or no key take the
 * default path.
 */
export const keyPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if ((message.partition === null || message.partition === undefined) && message.key != null) {
      return (murmur2(message.key) & 0x7fffffff) % partitionMetadata.length;
    }
    return fallback(args);
  };
};
