import type { Redis } from '../redis/redis.js';

/**
 * The live conversion feed in Redis, written by the processor after each database commit and
 * read by the statistics API's SSE endpoint.
 *
 * Keys:
 * - `goalpost:live:conversions:<website_id>`: a Redis stream, one entry per conversion newly
 *   written by the live processor. Entry ids are Redis stream ids (`<ms>-<seq>`, monotonic per
 *   website), usable as SSE `id` and for `Last-Event-ID` resumption with `XRANGE key (<id> +`.
 *   Each entry has one field `c` holding the JSON of a {@link LiveConversion}. Entries older
 *   than {@link STREAM_KEEP_MS} are trimmed (approximately, `MINID ~`) on every write; the key
 *   expires a day after the last write.
 * - `goalpost:live:counts:<website_id>:<minute>`: a hash goal_id → conversions whose event
 *   time falls in that minute (`minute` = floor(epoch ms / 60 000)). Expires
 *   {@link COUNTS_TTL_SECONDS} after its last increment; a snapshot of the last 30 minutes is
 *   `HGETALL` of the 30 (or 31) minute keys, summed.
 *
 * Delivery is at most once: publication happens after the commit, so a crash between the two
 * loses those entries from the live feed (never from the database), and a replayed message
 * publishes nothing because its conversions are not new. Conversions written by a backfill
 * are historical and are not published.
 */
export const liveStreamKey = (websiteId: string) => `goalpost:live:conversions:${websiteId}`;
export const liveCountsKey = (websiteId: string, minute: number) =>
  `goalpost:live:counts:${websiteId}:${minute}`;

/** Stream entries are kept at least this long (SSE resumption covers the last 5 minutes). */
export const STREAM_KEEP_MS = 10 * 60_000;
export const COUNTS_TTL_SECONDS = 2 * 3600;
const STREAM_TTL_SECONDS = 24 * 3600;

/** One entry of the live stream (the SSE `conversion` event's data). */
export interface LiveConversion {
  goal_id: string;
  event_id: string;
  /** Decimal string or null. */
  value: string | null;
  currency: string | null;
  /** Event time, ISO 8601 UTC. */
  time: string;
  country: string | null;
  page: string | null;
}

export const minuteOf = (iso: string) => Math.floor(Date.parse(iso) / 60_000);

// KEYS: the streams, then the counter hashes. ARGV: MINID threshold, stream TTL s, counter
// TTL s, number of streams, number of entries, then per entry its stream's index (1-based) and
// JSON, then per counter increment its hash's index (among the counters), goal id and amount.
const PUBLISH_LUA = `
local streams = tonumber(ARGV[4])
local entries = tonumber(ARGV[5])
local at = 6
for _ = 1, entries do
  redis.call('XADD', KEYS[tonumber(ARGV[at])], 'MINID', '~', ARGV[1], '*', 'c', ARGV[at + 1])
  at = at + 2
end
for i = 1, streams do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
while at <= #ARGV do
  redis.call('HINCRBY', KEYS[streams + tonumber(ARGV[at])], ARGV[at + 1], ARGV[at + 2])
  at = at + 3
end
for i = streams + 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return entries
`;

interface PublishingRedis {
  gpPublishConversions(...args: Array<string | number>): Promise<number>;
}

/**
 * Appends conversions to their websites' streams (one entry each, so each keeps its own SSE
 * id) and increments the per-goal per-minute counters, in one script call: one command per
 * processor sub-batch instead of one per conversion. Counters older than their TTL are not
 * created.
 */
export async function publishConversions(
  redis: Redis,
  conversions: ReadonlyArray<LiveConversion & { website_id: string }>,
  now = Date.now(),
): Promise<void> {
  if (conversions.length === 0) return;
  if (!('gpPublishConversions' in redis)) {
    redis.defineCommand('gpPublishConversions', { lua: PUBLISH_LUA });
  }
  const streams = new Map<string, number>();
  const entryArgs: Array<string | number> = [];
  const counts = new Map<string, Map<string, number>>();
  for (const { website_id, ...c } of conversions) {
    const stream = liveStreamKey(website_id);
    let index = streams.get(stream);
    if (index === undefined) streams.set(stream, (index = streams.size + 1));
    entryArgs.push(index, JSON.stringify(c));
    const minute = minuteOf(c.time);
    if ((now / 60_000 - minute) * 60 > COUNTS_TTL_SECONDS) continue;
    const key = liveCountsKey(website_id, minute);
    const perGoal = counts.get(key) ?? new Map<string, number>();
    perGoal.set(c.goal_id, (perGoal.get(c.goal_id) ?? 0) + 1);
    counts.set(key, perGoal);
  }
  const countArgs: Array<string | number> = [];
  let k = 0;
  for (const perGoal of counts.values()) {
    k += 1;
    for (const [goal, n] of perGoal) countArgs.push(k, goal, n);
  }
  const keys = [...streams.keys(), ...counts.keys()];
  await (redis as unknown as PublishingRedis).gpPublishConversions(
    keys.length,
    ...keys,
    now - STREAM_KEEP_MS,
    STREAM_TTL_SECONDS,
    COUNTS_TTL_SECONDS,
    streams.size,
    conversions.length,
    ...entryArgs,
    ...countArgs,
  );
}

/** Per-goal conversions of the last `minutes` minutes (by event time), from the counters. */
export async function recentCounts(
  redis: Redis,
  websiteId: string,
  minutes = 30,
  now = Date.now(),
): Promise<Map<string, number>> {
  const last = Math.floor(now / 60_000);
  const pipeline = redis.pipeline();
  for (let m = last - minutes + 1; m <= last; m++) pipeline.hgetall(liveCountsKey(websiteId, m));
  const totals = new Map<string, number>();
  for (const [err, hash] of (await pipeline.exec()) ?? []) {
    if (err) throw err;
    for (const [goal, n] of Object.entries(hash as Record<string, string>)) {
      totals.set(goal, (totals.get(goal) ?? 0) + Number(n));
    }
  }
  return totals;
}
