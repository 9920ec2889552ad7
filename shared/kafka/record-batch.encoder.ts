/**
 * An uncompressed Kafka record batch written in one pass into one buffer, with a native CRC32C,
 * in place of kafkajs 2.2.4's encoder for produce requests.
 *
 * kafkajs encodes each record into an Encoder of its own (a zero-filled 512-byte buffer at
 * least, grown by copying), computes varlong sizes with BigInt-backed Longs, copies every record
 * into the batch body, the body into the batch, the batch into a length-prefixed frame, and
 * checksums the body with a JavaScript CRC32C: in ingest's profile about 15% of its CPU, a third
 * of it buffer copies, plus the garbage. Here a record is kept as its fields until the batch is
 * encoded, the batch's size is computed exactly first, and key and value bytes are copied once.
 *
 * Applied at import by swapping two module exports kafkajs's produce request (v3, which v4–v7
 * reuse) binds when it is first loaded: `recordBatch/record/v0` (now giving the fields) and
 * `recordBatch/v0`'s `RecordBatch`. The bytes are the same as kafkajs's (a unit test compares
 * them on random batches); compressed batches, which Goalpost does not produce, still take
 * kafkajs's own path. If the produce request was loaded before this module or the internals
 * changed shape, nothing is swapped and `recordBatchEncoderApplied` is false (a test fails).
 */
import { createRequire } from 'node:module';
import { crc32c } from '@node-rs/crc32';

const require = createRequire(import.meta.url);

interface LongLike {
  value: bigint;
}
/** kafkajs passes int64s as numbers, BigInts, its Long, or decimal text (an idempotent producer's id). */
type Int64 = number | bigint | string | LongLike;
type Bytes = Buffer | string | null | undefined;

interface RecordFields {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, Bytes | Bytes[]>;
}

interface BatchOptions {
  compression?: number;
  firstOffset?: Int64;
  firstTimestamp?: number;
  maxTimestamp?: number;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: Int64;
  producerEpoch?: number;
  firstSequence?: number;
  records?: unknown[];
}

/** The shape of kafkajs's Encoder this module relies on. */
interface EncoderLike {
  buf: Buffer;
  offset: number;
}

/** A record not encoded yet: what `recordBatch/record/v0` gives once the encoder is applied. */
class PendingRecord {
  constructor(readonly fields: RecordFields) {}
}

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;
/** Batch bytes before the records: offset, length, epoch, magic, CRC, attributes … count. */
const BATCH_HEADER = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** Where the CRC'd part of the batch starts (after offset, length, epoch, magic, CRC). */
const CRC_FROM = 8 + 4 + 4 + 1 + 4;

const zigzag32 = (v: number) => ((v << 1) ^ (v >> 31)) >>> 0;

function varIntSize(v: number): number {
  let u = zigzag32(v);
  let n = 1;
  while (u >= 0x80) {
    u >>>= 7;
    n++;
  }
  return n;
}

function writeVarInt(buf: Buffer, o: number, v: number): number {
  let u = zigzag32(v);
  while (u >= 0x80) {
    buf[o++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[o++] = u;
  return o;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Zigzag of a 64-bit value as an unsigned BigInt (for values beyond int32). */
const zigzag64 = (v: bigint) => BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));

function varLongSize(v: number): number {
  if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return varIntSize(v);
  let u = zigzag64(BigInt(v));
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

function writeVarLong(buf: Buffer, o: number, v: number): number {
  if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return writeVarInt(buf, o, v);
  let u = zigzag64(BigInt(v));
  while (u >= 0x80n) {
    buf[o++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[o++] = Number(u);
  return o;
}

const bigOf = (v: Int64 | undefined, fallback: bigint): bigint =>
  v === undefined
    ? fallback
    : typeof v === 'bigint'
      ? v
      : typeof v === 'number'
        ? BigInt(Math.trunc(v))
        : typeof v === 'string'
          ? BigInt(v)
          : BigInt(v.value);

/** Bytes of a key, value or header value as kafkajs writes them (null: none). */
function bytesOf(v: Bytes): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

interface Prepared {
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[Buffer, Buffer | null]>;
  offsetDelta: number;
  timestampDelta: number;
  bodySize: number;
}

function prepare(f: RecordFields): Prepared {
  const key = bytesOf(f.key);
  const value = bytesOf(f.value);
  const headers: Array<[Buffer, Buffer | null]> = [];
  for (const [k, v] of Object.entries(f.headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      headers.push([Buffer.from(k, 'utf8'), bytesOf(one)]);
    }
  }
  const offsetDelta = f.offsetDelta ?? 0;
  const timestampDelta = f.timestampDelta ?? 0;
  let bodySize =
    1 +
    varLongSize(timestampDelta) +
    varIntSize(offsetDelta) +
    (key === null ? 1 : varIntSize(key.length) + key.length) +
    (value === null ? 1 : varIntSize(value.length) + value.length) +
    varIntSize(headers.length);
  for (const [hk, hv] of headers) {
    bodySize += varIntSize(hk.length) + hk.length;
    bodySize += hv === null ? 1 : varIntSize(hv.length) + hv.length;
  }
  return { key, value, headers, offsetDelta, timestampDelta, bodySize };
}

function writeBytes(buf: Buffer, o: number, b: Buffer | null): number {
  if (b === null) return writeVarInt(buf, o, -1);
  o = writeVarInt(buf, o, b.length);
  b.copy(buf, o);
  return o + b.length;
}

/** The batch, framed as kafkajs's RecordBatch returns it (int64 offset, int32 length, batch). */
function encodeBatch(opts: BatchOptions, records: PendingRecord[]): Buffer {
  const prepared = records.map((r) => prepare(r.fields));
  let size = BATCH_HEADER;
  for (const p of prepared) size += varIntSize(p.bodySize) + p.bodySize;
  const buf = Buffer.allocUnsafe(size);
  const now = Date.now();
  let o = 0;
  o = buf.writeBigInt64BE(bigOf(opts.firstOffset, 0n), o);
  o = buf.writeInt32BE(size - 12, o); // the batch after offset and this length
  o = buf.writeInt32BE(opts.partitionLeaderEpoch ?? 0, o);
  o = buf.writeInt8(MAGIC_BYTE, o);
  const crcAt = o;
  o += 4;
  o = buf.writeInt16BE(opts.transactional ? TRANSACTIONAL_MASK : 0, o);
  o = buf.writeInt32BE(opts.lastOffsetDelta ?? 0, o);
  o = buf.writeBigInt64BE(bigOf(opts.firstTimestamp, BigInt(now)), o);
  o = buf.writeBigInt64BE(bigOf(opts.maxTimestamp, BigInt(now)), o);
  o = buf.writeBigInt64BE(bigOf(opts.producerId, -1n), o);
  o = buf.writeInt16BE(opts.producerEpoch ?? 0, o);
  o = buf.writeInt32BE(opts.firstSequence ?? 0, o);
  o = buf.writeInt32BE(prepared.length, o);
  for (const p of prepared) {
    o = writeVarInt(buf, o, p.bodySize);
    buf[o++] = 0; // attributes
    o = writeVarLong(buf, o, p.timestampDelta);
    o = writeVarInt(buf, o, p.offsetDelta);
    o = writeBytes(buf, o, p.key);
    o = writeBytes(buf, o, p.value);
    o = writeVarInt(buf, o, p.headers.length);
    for (const [hk, hv] of p.headers) {
      o = writeBytes(buf, o, hk);
      o = writeBytes(buf, o, hv);
    }
  }
  if (o !== size) throw new Error(`record batch size ${o} differs from the computed ${size}`);
  buf.writeUInt32BE(crc32c(buf.subarray(CRC_FROM)) >>> 0, crcAt);
  return buf;
}

type RecordFn = (f: RecordFields) => unknown;
type BatchFn = (opts: BatchOptions) => Promise<EncoderLike>;

/** kafkajs's own encoders (for the comparison test), or null when not applied. */
export let kafkajsRecord: RecordFn | null = null;
export let kafkajsRecordBatch: BatchFn | null = null;
/** The encoder applied here: same contract as kafkajsRecordBatch, records from `Record`. */
export let goalpostRecordBatch: BatchFn | null = null;
export let goalpostRecord: RecordFn | null = null;

export const recordBatchEncoderApplied: boolean = (() => {
  try {
    const producePath = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
    if (require.cache[producePath]) return false; // already bound kafkajs's encoders
    const recordPath = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
    const batchModule = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
      RecordBatch: BatchFn;
    };
    const Encoder = require('kafkajs/src/protocol/encoder.js') as { prototype: object };
    const compressionNone = (
      require('kafkajs/src/protocol/message/compression/index.js') as {
        Types: { None: number };
      }
    ).Types.None;
    const originalRecord = require(recordPath) as RecordFn;
    const originalBatch = batchModule.RecordBatch;
    const recordModule = require.cache[recordPath];
    if (typeof originalRecord !== 'function' || typeof originalBatch !== 'function') return false;
    if (!recordModule) return false;

    const record: RecordFn = (fields) => new PendingRecord(fields);
    const batch: BatchFn = async (opts) => {
      const records = opts.records ?? [];
      const pending = records.every((r) => r instanceof PendingRecord);
      if ((opts.compression ?? compressionNone) !== compressionNone || !pending) {
        // kafkajs's path, with its own record encoders.
        return originalBatch({
          ...opts,
          records: records.map((r) => (r instanceof PendingRecord ? originalRecord(r.fields) : r)),
        });
      }
      const buf = encodeBatch(opts, records);
      // An Encoder holding exactly these bytes (no 512-byte zeroed buffer of its own).
      const enc = Object.create(Encoder.prototype) as EncoderLike;
      enc.buf = buf;
      enc.offset = buf.length;
      return enc;
    };
    recordModule.exports = record;
    batchModule.RecordBatch = batch;
    kafkajsRecord = originalRecord;
    kafkajsRecordBatch = originalBatch;
    goalpostRecord = record;
    goalpostRecordBatch = batch;
    return true;
  } catch {
    return false;
  }
})();
