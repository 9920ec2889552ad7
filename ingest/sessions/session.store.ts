import { randomUUID } from 'node:crypto';
import type { Redis } from '../../shared/redis/redis.js';

/**
 * Sessions are assigned at ingest, in Redis, and travel in the Kafka message.
 *
 * Why here and not in the processor: the session id must be the same whichever ingest or
 * processor instance handles an event, and the same when Kafka redelivers it. Assigning it once
 * at ingest, atomically in Redis (a Lua script keeps, per (website, visitor), the session id and
 * its first and last event time; one script call handles a request's events in order), makes it
 * part of the message, so redelivery, rebalances and processor
 * restarts can never re-derive a different id, and the processor stays stateless about sessions
 * (no dependency on visitor-keyed partitions or on the order partitions are consumed in).
 *
 * Rules, in event time (the client's timestamp when it sent one, else the receive time):
 * - no state, or the event is more than 30 min after the session's last event → new session;
 * - the event is at or after the last event (within 30 min) → same session, last = event time;
 * - out of order but no more than 30 min before the session's first event → same session
 *   (first is moved back), so a reordered batch or a late beacon does not split a session;
 * - older still: it belongs to an earlier session we no longer track. It gets a deterministic
 *   id (SHA-1 of the session key and the 30-minute bucket of its time, UUID-shaped) and does not touch the
 *   current state, so late events of one old visit mostly share an id, and a redelivered copy
 *   maps to the same id. Past sessions are never re-opened or merged.
 *
 * The same script also claims the event's idempotency key (`event_id`) when it has one. The
 * claim key holds the event's time from its first attempt, so every retry of an event is the
 * same (event_id, event_time) row and the database keeps it once, whatever happened to earlier
 * attempts. Its values (all kept 24 h):
 * - `p:<token>:<time>:<deadline>`: a request is producing it right now; another request with
 *   the same id is refused with 503 (retry later) until the deadline (the produce timeout plus
 *   a margin) has passed; after it the producer is presumed gone (crashed) and the claim is
 *   taken over, keeping the time;
 * - `f:<time>`: a produce failed (503). The message may still reach Kafka after its timeout
 *   (the producer retries on its own), so the retry that takes the claim over keeps the time:
 *   if both land, they are one row;
 * - `d:<time>`: Kafka acknowledged it; a repeat is acknowledged without producing.
 * (Markers of earlier versions, `pending:<token>` and `done`, are still understood.)
 *
 * Keys are plain (no hash tags): one Redis or a primary with replicas, not Redis Cluster.
 */
// KEYS: per event, its session key and its claim key ('' = no event_id).
// ARGV: gap ms, state TTL ms, claim TTL ms, token, now ms, pending deadline ms, then per event:
// time ms, candidate id.
// Returns per event: status ('ok' | 'duplicate' | 'pending'), session id, event time ms.
const ASSIGN_LUA = `
local gap = tonumber(ARGV[1])
local now = tonumber(ARGV[5])
local out = {}
for i = 1, #KEYS / 2 do
  local skey = KEYS[2 * i - 1]
  local claim = KEYS[2 * i]
  local t = tonumber(ARGV[5 + 2 * i])
  local candidate = ARGV[6 + 2 * i]
  local status = 'ok'
  if claim ~= '' then
    local v = redis.call('GET', claim)
    if v then
      local kind = string.sub(v, 1, 2)
      if v == 'done' or kind == 'd:' then
        status = 'duplicate'
      elseif kind == 'f:' then
        t = tonumber(string.sub(v, 3))
      elseif kind == 'p:' then
        local tok, pt, deadline = string.match(v, '^p:([^:]*):(%d+):(%d+)$')
        if tonumber(deadline) > now then status = 'pending' else t = tonumber(pt) end
      else
        status = 'pending'
      end
    end
    if status == 'ok' then
      redis.call('SET', claim, 'p:' .. ARGV[4] .. ':' .. string.format('%d', t) .. ':' .. ARGV[6], 'PX', ARGV[3])
    end
  end
  local sid = ''
  if status == 'ok' then
    local s = redis.call('HMGET', skey, 'sid', 'first', 'last')
    sid = s[1]
    local first = tonumber(s[2])
    local last = tonumber(s[3])
    local keep = true
    if (not sid) or (not first) or (not last) or (t - last > gap) then
      sid = candidate
      first = t
      last = t
    elseif t >= last then
      last = t
    elseif t >= first - gap then
      if t < first then first = t end
    else
      local h = redis.sha1hex(skey .. '|' .. tostring(math.floor(t / gap)))
      sid = string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-8' .. string.sub(h, 14, 16)
        .. '-' .. string.sub(h, 17, 20) .. '-' .. string.sub(h, 21, 32)
      keep = false
    end
    if keep then
      redis.call('HSET', skey, 'sid', sid, 'first', tostring(first), 'last', tostring(last))
      redis.call('PEXPIRE', skey, ARGV[2])
    end
  end
  out[3 * i - 2] = status
  out[3 * i - 1] = sid
  out[3 * i] = string.format('%d', t)
end
return out
`;

// KEYS: claim keys of one request. ARGV: token, claim TTL ms, new kind ('f' or 'd').
// Each claim still held by this token becomes `<kind>:<time>`, keeping its time.
const SETTLE_LUA = `
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    local tok, t = string.match(v, '^p:([^:]*):(%d+):%d+$')
    if tok == ARGV[1] then redis.call('SET', KEYS[i], ARGV[3] .. ':' .. t, 'PX', ARGV[2]) end
  end
end
return 0
`;

export const SESSION_GAP_MS = 30 * 60_000;

export interface SessionRequest {
  websiteId: string;
  /** The visitor's identity (client id or cookieless visitor id). */
  identity: string;
  eventTimeMs: number;
  /** The client's idempotency key, or null. */
  eventId: string | null;
}

export type SessionResult =
  | {
      status: 'ok';
      sessionId: string;
      /** The event's time: its first attempt's when it is a retry of a claimed event_id. */
      eventTimeMs: number;
    }
  | { status: 'duplicate' }
  | { status: 'pending' };

export interface SessionStoreOptions {
  keyPrefix?: string;
  /** How long session state lives without events (must exceed the gap). */
  stateTtlMs?: number;
  /** How long a claim counts as in progress; must exceed the produce timeout. */
  pendingTtlMs: number;
  /** How long a claimed event_id (and its time) is remembered. */
  claimTtlMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

interface ScriptedRedis {
  gpAssignSession(...args: Array<string | number>): Promise<string[]>;
  gpSettleClaims(...args: Array<string | number>): Promise<number>;
}

/** Session assignment and event_id claims in Redis (see the notes above). */
export class SessionStore {
  private readonly prefix: string;
  private readonly stateTtlMs: number;
  private readonly claimTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly opts: SessionStoreOptions,
  ) {
    this.prefix = opts.keyPrefix ?? 'gp:';
    this.stateTtlMs = opts.stateTtlMs ?? 6 * 3_600_000;
    this.claimTtlMs = opts.claimTtlMs ?? 24 * 3_600_000;
    this.now = opts.now ?? Date.now;
    if (!('gpAssignSession' in redis)) {
      // The key count varies per call: it is the first argument.
      redis.defineCommand('gpAssignSession', { lua: ASSIGN_LUA });
      redis.defineCommand('gpSettleClaims', { lua: SETTLE_LUA });
    }
  }

  claimKey(websiteId: string, eventId: string): string {
    return `${this.prefix}eid:${websiteId}:${eventId.toLowerCase()}`;
  }

  /**
   * Assigns a session to each event (and claims its event_id).
   * `token` identifies this request's claims. Rejects when Redis is unreachable.
   */
  async assign(items: readonly SessionRequest[], token: string): Promise<SessionResult[]> {
    if (items.length === 0) return [];
    // One script call per request (a batch of 50 is one EVALSHA, not 50). Called on the client,
    // not in a pipeline object: ioredis sends a script's full text as the first command of every
    // pipeline object, but EVALSHA on a connection that already ran it; concurrent requests
    // still share one write through the client's auto-pipelining.
    const keys: string[] = [];
    const perEvent: Array<string | number> = [];
    for (const it of items) {
      keys.push(
        `${this.prefix}sess:${it.websiteId}:${it.identity}`,
        it.eventId === null ? '' : this.claimKey(it.websiteId, it.eventId),
      );
      perEvent.push(it.eventTimeMs, randomUUID());
    }
    const now = this.now();
    const flat = await (this.redis as unknown as ScriptedRedis).gpAssignSession(
      keys.length,
      ...keys,
      SESSION_GAP_MS,
      this.stateTtlMs,
      this.claimTtlMs,
      token,
      now,
      now + this.opts.pendingTtlMs,
      ...perEvent,
    );
    return items.map((_, i): SessionResult => {
      const status = flat[3 * i];
      if (status === 'duplicate') return { status: 'duplicate' };
      if (status === 'pending') return { status: 'pending' };
      return { status: 'ok', sessionId: flat[3 * i + 1]!, eventTimeMs: Number(flat[3 * i + 2]) };
    });
  }

  /** Marks this request's claims done after Kafka acknowledged their events. */
  async markDone(claimKeys: readonly string[], token: string): Promise<void> {
    await this.settle(claimKeys, token, 'd');
  }

  /**
   * Releases this request's claims after a failed produce (or a refusal before it), so a retry
   * is produced, keeping each event's time for that retry.
   */
  async release(claimKeys: readonly string[], token: string): Promise<void> {
    await this.settle(claimKeys, token, 'f');
  }

  private async settle(claimKeys: readonly string[], token: string, kind: 'd' | 'f') {
    if (claimKeys.length === 0) return;
    await (this.redis as unknown as ScriptedRedis).gpSettleClaims(
      claimKeys.length,
      ...claimKeys,
      token,
      this.claimTtlMs,
      kind,
    );
  }
}
