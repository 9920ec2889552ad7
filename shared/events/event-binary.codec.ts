import type { EventMessage } from './event-message.js';

/**
 * The compact encoding of an event message (see `event-message.ts`, which owns the format and
 * chooses between this and JSON). Fields are written in one fixed order with no names: about
 * 40% fewer bytes than the JSON text for a typical pageview, written straight into a shared
 * buffer (no intermediate string, no copy into a buffer of its own).
 *
 * Layout (all integers big-endian):
 *   0x02 marker (a JSON message starts with `{`), layout version (1)
 *   event_id as 16 bytes; seq as uint16
 *   event_time, received_at as float64 epoch milliseconds (ingest's times have ms precision)
 *   bot_score uint8, is_bot uint8, screen_width as uint32 (0xFFFFFFFF = null)
 *   then the strings in STRING_FIELDS order: uint16 byte length (0xFFFF = null), UTF-8 bytes;
 *   `properties` is one of them, as its JSON text.
 * A decoder that meets a layout version it does not know refuses the message (dead letter):
 * layouts change only by a new version, which processors learn before ingest writes it.
 */
export const BINARY_MARKER = 0x02;
export const BINARY_LAYOUT_VERSION = 1;

/** Every string field, nullable or not, in wire order (`properties` as JSON text). */
const STRING_FIELDS = [
  'website_id',
  'session_id',
  'visitor_id',
  'user_id',
  'type',
  'event_name',
  'hostname',
  'path',
  'querystring',
  'page_title',
  'referrer',
  'referrer_domain',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'properties',
  'browser',
  'os',
  'device',
  'language',
  'country',
  'region',
  'city',
] as const;

const NULL_LENGTH = 0xffff;
const NULL_WIDTH = 0xffffffff;
/** Marker, version, id, seq, two times, bot score, is_bot, screen width. */
const FIXED_BYTES = 2 + 16 + 2 + 8 + 8 + 1 + 1 + 4;
/** Bytes of a string field's length prefix. */
const PREFIX = 2;

const SLAB_BYTES = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/** Thrown for a message that cannot be encoded (a field beyond what the layout holds). */
export class EventEncodeError extends Error {}

/**
 * The event's bytes: a view into a shared slab, valid for as long as it is referenced (slabs
 * are never reused; a full one is left to the garbage collector once its messages are gone).
 */
export function encodeEventBinary(ev: EventMessage): Buffer {
  const properties = ev.properties === null ? null : JSON.stringify(ev.properties);
  // Worst case: 3 bytes per UTF-16 unit.
  let bound = FIXED_BYTES;
  for (const f of STRING_FIELDS) {
    const v = f === 'properties' ? properties : ev[f];
    bound += PREFIX + (v === null || v === undefined ? 0 : v.length * 3);
  }
  if (SLAB_BYTES - slabUsed < bound) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bound));
    slabUsed = 0;
  }
  const buf = slab;
  const start = slabUsed;
  let o = start;
  buf[o++] = BINARY_MARKER;
  buf[o++] = BINARY_LAYOUT_VERSION;
  o = writeUuid(buf, o, ev.event_id);
  o = buf.writeUInt16BE(ev.seq ?? 0, o);
  o = buf.writeDoubleBE(timeMs(ev.event_time), o);
  o = buf.writeDoubleBE(timeMs(ev.received_at), o);
  o = buf.writeUInt8(ev.bot_score, o);
  o = buf.writeUInt8(ev.is_bot ? 1 : 0, o);
  o = buf.writeUInt32BE(ev.screen_width === null ? NULL_WIDTH : ev.screen_width, o);
  for (const f of STRING_FIELDS) {
    const v = f === 'properties' ? properties : (ev[f] as string | null | undefined);
    if (v === null || v === undefined) {
      o = buf.writeUInt16BE(NULL_LENGTH, o);
      continue;
    }
    const n = buf.write(v, o + PREFIX, 'utf8');
    if (n >= NULL_LENGTH) throw new EventEncodeError(`${f} is longer than the layout holds`);
    buf.writeUInt16BE(n, o);
    o += PREFIX + n;
  }
  slabUsed = o;
  return buf.subarray(start, o);
}

/**
 * The message's fields as the JSON decoder would give them, without `v` (the caller adds it and
 * applies the schema check to both encodings). Throws UnknownLayoutError for a layout version
 * it does not know, a plain Error for truncated or malformed bytes.
 */
export function decodeEventBinary(buf: Buffer): Record<string, unknown> {
  if (buf[1] !== BINARY_LAYOUT_VERSION) throw new UnknownLayoutError(buf[1]);
  if (buf.length < FIXED_BYTES) throw new Error('message shorter than its fixed fields');
  let o = 2;
  const hex = buf.toString('hex', o, o + 16);
  o += 16;
  const ev: Record<string, unknown> = {
    event_id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    seq: buf.readUInt16BE(o),
    event_time: isoOf(buf.readDoubleBE(o + 2)),
    received_at: isoOf(buf.readDoubleBE(o + 10)),
    bot_score: buf[o + 18],
    is_bot: buf[o + 19] === 1,
  };
  const width = buf.readUInt32BE(o + 20);
  ev.screen_width = width === NULL_WIDTH ? null : width;
  o += 24;
  for (const f of STRING_FIELDS) {
    if (o + PREFIX > buf.length) throw new Error(`message ends before ${f}`);
    const n = buf.readUInt16BE(o);
    o += PREFIX;
    if (n === NULL_LENGTH) {
      ev[f] = null;
      continue;
    }
    if (o + n > buf.length) throw new Error(`message ends inside ${f}`);
    const s = buf.toString('utf8', o, o + n);
    o += n;
    ev[f] = f === 'properties' ? (JSON.parse(s) as unknown) : s;
  }
  if (o !== buf.length) throw new Error('bytes after the last field');
  return ev;
}

/** A binary message of a layout version this decoder does not know. */
export class UnknownLayoutError extends Error {
  constructor(readonly version: number | undefined) {
    super(`unknown binary layout version ${String(version)}`);
  }
}

const isoOf = (ms: number) => new Date(ms).toISOString();

function timeMs(iso: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new EventEncodeError(`${iso} is not a time`);
  return ms;
}

const HEX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function writeUuid(buf: Buffer, o: number, id: string): number {
  if (!HEX.test(id)) throw new EventEncodeError('event_id is not a UUID');
  buf.write(id.slice(0, 8), o, 'hex');
  buf.write(id.slice(9, 13), o + 4, 'hex');
  buf.write(id.slice(14, 18), o + 6, 'hex');
  buf.write(id.slice(19, 23), o + 8, 'hex');
  buf.write(id.slice(24, 36), o + 10, 'hex');
  return o + 16;
}
