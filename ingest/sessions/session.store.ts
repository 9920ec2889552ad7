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
 * The same script also claims the event's idempotency key (`event_id`) when it has one: a key
 * already marked `done` means the event is already in Kafka (acknowledge, do not produce); a
 * key `pending` means another request is producing it right now. A claim is a `pending:<token>`
 * marker with a TTL longer than the produce timeout; it becomes `done` (24 h) only after Kafka
 * acknowledged, and is released (compare-and-delete on the token) when the produce failed, so a
 * failed produce never swallows the client's retry. A crash between the Kafka ack and `done`
 * leaves a pending marker that expires; a later retry is then produced again, and the database
 * drops it if it carries the same (event_id, event_time), i.e. when the client sent a timestamp.
 *
 * Keys are plain (no hash tags): one Redis or a primary with replicas, not Redis Cluster.
 */
// KEYS: per event, its session key and its claim key ('' = no event_id).
// ARGV: gap ms, state TTL ms, pending TTL ms, pending marker, then per event: time ms, candidate id.
// Returns per event: status ('ok' | 'duplicate' | 'pending'), session id.
const ASSIGN_LUA = `
local gap = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local skey = KEYS[2 * i - 1]
  local claim = KEYS[2 * i]
  local t = tonumber(ARGV[3 + 2 * i])
  local candidate = ARGV[4 + 2 * i]
  local status = 'ok'
  if claim ~= '' then
    if not redis.call('SET', claim, ARGV[4], 'NX', 'PX', ARGV[3]) then
      if redis.call('GET', claim) == 'done' then status = 'duplicate' else status = 'pending' end
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
  out[2 * i - 1] = status
  out[2 * i] = sid
end
return out
`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
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
  { status: 'ok'; sessionId: string } | { status: 'duplicate' } | { status: 'pending' };

export interface SessionStoreOptions {
  keyPrefix?: string;
  /** How long session state lives without events (must exceed the gap). */
  stateTtlMs?: number;
  /** Lifetime of a `pending` claim; must exceed the produce timeout. */
  pendingTtlMs: number;
  /** How long an accepted event_id is remembered. */
  doneTtlMs?: number;
}

interface ScriptedRedis {
  gpAssignSession(...args: Array<string | number>): Promise<string[]>;
  gpReleaseClaim(key: string, token: string): Promise<number>;
}

/** Session assignment and event_id claims in Redis (see the notes above). */
export class SessionStore {
  private readonly prefix: string;
  private readonly stateTtlMs: number;
  private readonly doneTtlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly opts: SessionStoreOptions,
  ) {
    this.prefix = opts.keyPrefix ?? 'gp:';
    this.stateTtlMs = opts.stateTtlMs ?? 6 * 3_600_000;
    this.doneTtlMs = opts.doneTtlMs ?? 24 * 3_600_000;
    if (!('gpAssignSession' in redis)) {
      // The key count varies per call: it is the first argument.
      redis.defineCommand('gpAssignSession', { lua: ASSIGN_LUA });
      redis.defineCommand('gpReleaseClaim', { numberOfKeys: 1, lua: RELEASE_LUA });
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
    const flat = await (this.redis as unknown as ScriptedRedis).gpAssignSession(
      keys.length,
      ...keys,
      SESSION_GAP_MS,
      this.stateTtlMs,
      this.opts.pendingTtlMs,
      `pending:${token}`,
      ...perEvent,
    );
    return items.map((_, i): SessionResult => {
      const status = flat[2 * i];
      if (status === 'duplicate') return { status: 'duplicate' };
      if (status === 'pending') return { status: 'pending' };
      return { status: 'ok', sessionId: flat[2 * i + 1]! };
    });
  }

  /** Marks claims as done after Kafka acknowledged their events. */
  async markDone(claimKeys: readonly string[]): Promise<void> {
    if (claimKeys.length === 0) return;
    const p = this.redis.pipeline();
    for (const k of claimKeys) p.set(k, 'done', 'PX', this.doneTtlMs);
    await p.exec();
  }

  /** Releases this request's claims after a failed produce, so a retry is produced. */
  async release(claimKeys: readonly string[], token: string): Promise<void> {
    if (claimKeys.length === 0) return;
    const redis = this.redis as unknown as ScriptedRedis;
    await Promise.all(claimKeys.map((k) => redis.gpReleaseClaim(k, `pending:${token}`)));
  }
}
