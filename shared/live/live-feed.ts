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

/**
 * Appends conversions to their websites' streams and increments the per-goal per-minute
 * counters, in one pipeline. Counters older than their TTL are not created.
 */
export async function publishConversions(
  redis: Redis,
  conversions: ReadonlyArray<LiveConversion & { website_id: string }>,
  now = Date.now(),
): Promise<void> {
  if (conversions.length === 0) return;
  const pipeline = redis.pipeline();
  const streams = new Set<string>();
  const counts = new Map<string, Map<string, number>>();
  for (const { website_id, ...c } of conversions) {
    const stream = liveStreamKey(website_id);
    streams.add(stream);
    pipeline.xadd(stream, 'MINID', '~', String(now - STREAM_KEEP_MS), '*', 'c', JSON.stringify(c));
    const minute = minuteOf(c.time);
    if ((now / 60_000 - minute) * 60 > COUNTS_TTL_SECONDS) continue;
    const key = liveCountsKey(website_id, minute);
    const perGoal = counts.get(key) ?? new Map<string, number>();
    perGoal.set(c.goal_id, (perGoal.get(c.goal_id) ?? 0) + 1);
    counts.set(key, perGoal);
  }
  for (const stream of streams) pipeline.expire(stream, STREAM_TTL_SECONDS);
  for (const [key, perGoal] of counts) {
    for (const [goal, n] of perGoal) pipeline.hincrby(key, goal, n);
    pipeline.expire(key, COUNTS_TTL_SECONDS);
  }
  const results = await pipeline.exec();
  const failed = results?.find(([err]) => err !== null);
  if (failed) throw failed[0]!;
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
