import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  goalpostRecord,
  goalpostRecordBatch,
  kafkajsRecord,
  kafkajsRecordBatch,
  recordBatchEncoderApplied,
} from './record-batch.encoder.js';

const Types = (
  createRequire(import.meta.url)('kafkajs/src/protocol/message/compression/index.js') as {
    Types: { None: number; GZIP: number };
  }
).Types;

const bytes = fc.oneof(
  fc.constant(null),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.uint8Array({ maxLength: 700 }).map((a) => Buffer.from(a)),
);

const record = fc.record({
  key: bytes,
  value: bytes,
  headers: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 10 }),
    fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    ),
    { maxKeys: 3 },
  ),
  timestampDelta: fc.oneof(
    fc.integer({ min: 0, max: 5_000 }),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  ),
});

const batchOptions = fc.record({
  firstTimestamp: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  maxTimestamp: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  transactional: fc.boolean(),
  // An idempotent producer's id comes as decimal text from kafkajs; others leave it out.
  producerId: fc.oneof(
    fc.constant(undefined),
    fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  ),
  producerEpoch: fc.integer({ min: 0, max: 32_767 }),
  firstSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  partitionLeaderEpoch: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

type Fields = Parameters<NonNullable<typeof kafkajsRecord>>[0];

async function bothEncodings(
  records: Fields[],
  opts: Record<string, unknown>,
): Promise<[Buffer, Buffer]> {
  const withDeltas = records.map((r, i) => ({ ...r, offsetDelta: i }));
  const common = { ...opts, lastOffsetDelta: records.length - 1 };
  const ours = (await goalpostRecordBatch!({
    ...common,
    records: withDeltas.map((r) => goalpostRecord!(r)),
  })) as unknown as { buffer: Buffer };
  const theirs = (await kafkajsRecordBatch!({
    ...common,
    records: withDeltas.map((r) => kafkajsRecord!(r)),
  })) as unknown as { buffer: Buffer };
  return [ours.buffer, theirs.buffer];
}

describe('record batch encoder', () => {
  it('is applied to the pinned kafkajs version', () => {
    expect(recordBatchEncoderApplied).toBe(true);
  });

  it('writes the same bytes as kafkajs for any uncompressed batch', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 1, maxLength: 30 }),
        batchOptions,
        async (records, opts) => {
          const [ours, theirs] = await bothEncodings(records, opts);
          expect(ours.equals(theirs)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves compressed batches to kafkajs’s own encoder', async () => {
    const [ours, theirs] = await bothEncodings(
      [{ key: 'k', value: Buffer.from('v'.repeat(500)) }],
      {
        compression: Types.GZIP,
        firstTimestamp: 1_700_000_000_000,
        maxTimestamp: 1_700_000_000_000,
      },
    );
    expect(ours.equals(theirs)).toBe(true);
  });
});
