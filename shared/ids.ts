import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `n` characters of [0-9a-z] from a CSPRNG, without modulo bias. */
export function randomId(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      // 252 = 7 * 36: bytes above it would bias the first characters.
      if (b < 252) out += ALPHABET[b % 36];
      if (out.length === n) break;
    }
  }
  return out;
}

export const newWebsiteId = () => `site_${randomId(10)}`;
export const newGoalId = () => `goal_${randomId(21)}`;
export const newFunnelId = () => `fun_${randomId(21)}`;
export const newEventId = () => randomUUID();

const v7pool = Buffer.alloc(16 * 512);
let v7at = v7pool.length;

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids made
 * this way grow with time, so inserting events appends at the right-hand edge of the
 * (event_id, event_time) index instead of touching a random page each time (fewer page splits
 * and fewer full-page images in the WAL). Random bytes are drawn 8 KB at a time.
 */
export function uuidV7(now = Date.now()): string {
  if (v7at === v7pool.length) {
    randomFillSync(v7pool);
    v7at = 0;
  }
  const b = v7pool.subarray(v7at, v7at + 16);
  v7at += 16;
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const WEBSITE_ID_RE = /^site_[0-9a-z]{10}$/;
export const GOAL_ID_RE = /^goal_[0-9a-z]{21}$/;
export const FUNNEL_ID_RE = /^fun_[0-9a-z]{21}$/;

/** Text patterns of the ids, for schemas (TypeBox `pattern`). */
export const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const WEBSITE_ID_PATTERN = WEBSITE_ID_RE.source;

/** A numeric id as paths and payloads carry it: 1 to 15 digits (below 2^53). */
const NUMERIC_ID_RE = /^\d{1,15}$/;

/**
 * A reference to a website or a goal as clients write it: the `site_…`/`goal_…` id, or the
 * numeric id (Rybbit's ids, also accepted in the Sparklytics paths).
 */
export type EntityRef = { id: string } | { numericId: number };

function parseRef(raw: unknown, idRe: RegExp): EntityRef | null {
  if (typeof raw === 'number') {
    return Number.isSafeInteger(raw) && raw >= 0 ? { numericId: raw } : null;
  }
  if (typeof raw !== 'string') return null;
  if (idRe.test(raw)) return { id: raw };
  if (NUMERIC_ID_RE.test(raw)) return { numericId: Number(raw) };
  return null;
}

/**
 * The one parser of website references (API paths, the live-token path, collect payloads, the
 * CLI): `site_…` or numeric, else null, so a malformed reference never reaches a lookup.
 */
export const parseWebsiteRef = (raw: unknown): EntityRef | null => parseRef(raw, WEBSITE_ID_RE);

/** The one parser of goal references in paths: `goal_…` or numeric, else null. */
export const parseGoalRef = (raw: unknown): EntityRef | null => parseRef(raw, GOAL_ID_RE);

/** The one parser of funnel references: `fun_…` or numeric (Rybbit's ids), else null. */
export const parseFunnelRef = (raw: unknown): EntityRef | null => parseRef(raw, FUNNEL_ID_RE);
