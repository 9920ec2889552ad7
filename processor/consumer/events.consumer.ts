import type { Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import {
  conversionRepository,
  type ConversionRow,
} from '../../shared/db/repositories/conversion.repository.js';
import {
  eventRepository,
  eventRowOf,
  type EventRow,
} from '../../shared/db/repositories/event.repository.js';
import { isUniqueViolation } from '../../shared/db/bulk.js';
import type { Db, Queryable } from '../../shared/db/pool.js';
import type { WalPosition } from '../../shared/db/wal-position.js';
import { sessionRepository } from '../../shared/db/repositories/session.repository.js';
import { PermanentError } from '../../shared/errors/errors.js';
import { decodeEvent } from '../../shared/events/event-message.js';
import type { GoalCache } from '../goals/goal.cache.js';
import { publishConversions, type LiveConversion } from '../../shared/live/live-feed.js';
import type { Logger } from '../../shared/logger.js';
import { matchEvent } from '../../shared/matching/goal-matcher.js';
import type { Redis } from '../../shared/redis/redis.js';
import { conversionRow, isPermanentDbError } from './conversions.js';
import {
  funnelWalkRepository,
  type WalkKey,
} from '../../shared/db/repositories/funnel-walk.repository.js';
import { deadLetterHeaders } from './dead-letter.headers.js';
import { DurableCommits } from './durable-commits.js';
import { ProcessorMetrics } from './processor.metrics.js';
import { buildSessionDeltas } from './session-deltas.js';

export interface EventsConsumerDeps {
  consumer: Consumer;
  /** Used for dead letters only. */
  producer: Producer;
  db: Db;
  goals: GoalCache;
  /** Live feed publication (after commit, best effort); omitted → no live feed. */
  live?: Redis;
  logger: Logger;
  topic: string;
  dlqTopic: string;
  subBatchSize: number;
  partitionsConcurrently: number;
  /** Prometheus metrics (index.ts serves them); default: a set nobody reads. */
  metrics?: ProcessorMetrics;
  /**
   * Commit transactions with `synchronous_commit = off` and commit each offset once the WAL is
   * flushed past its transaction (DurableCommits); false: wait for the flush in each COMMIT.
   */
  asyncCommit?: boolean;
  /** Write events and conversions with COPY, falling back on a replay (default true). */
  copy?: boolean;
}

/** The running loop: `drain()` commits the offsets still waiting for the WAL (before leaving). */
export interface EventsConsumer {
  drain(timeoutMs?: number): Promise<void>;
}

const MAX_BACKOFF_MS = 5_000;

/** The loop's dependencies with its metrics and offset committer resolved. */
type Deps = EventsConsumerDeps & { metrics: ProcessorMetrics; commits: DurableCommits | null };

interface Item {
  message: KafkaMessage;
  row: EventRow;
}

interface Written {
  /** The goal conversions newly written (funnel step matches are written but not listed). */
  conversions: ConversionRow[];
  byEvent: Map<string, EventRow>;
  /** Where its transactions committed, one per server life (none when they committed durably). */
  wal: WalPosition[];
}

/**
 * The processor loop. Invariant: an offset is committed only after the database transaction
 * holding its message committed, so a crash replays uncommitted work only. Replays are
 * harmless: events are unique on (event_id, event_time), and sessions and conversions are
 * derived in the same transaction from the events that INSERT actually inserted, so an
 * already-stored event contributes nothing twice. Transient failures are retried in place
 * (heartbeating), never skipped. Poison messages go to the dead-letter topic before their
 * offset commits: undecodable ones at once, and a row the database rejects permanently (a
 * data exception such as a NUL character in jsonb) is isolated by bisecting its sub-batch,
 * so one bad row never blocks a partition and never drops its neighbours.
 */
export async function runEventsConsumer(deps: EventsConsumerDeps): Promise<EventsConsumer> {
  const { consumer } = deps;
  const metrics = deps.metrics ?? new ProcessorMetrics();
  const commits =
    deps.asyncCommit === false
      ? null
      : new DurableCommits({
          db: deps.db,
          consumer,
          logger: deps.logger,
          onRewind: (ranges) => metrics.rewinds.inc(ranges),
        });
  const resolved: Deps = { ...deps, metrics, commits };
  await consumer.subscribe({ topic: deps.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: deps.partitionsConcurrently,
    eachBatch: (payload) => processBatch(resolved, payload),
  });
  return { drain: (timeoutMs) => commits?.drain(timeoutMs) ?? Promise.resolve() };
}

async function processBatch(deps: Deps, payload: EachBatchPayload): Promise<void> {
  const { batch } = payload;
  const { metrics } = deps;
  const { messages } = batch;
  // Read with the first stale check, in the same tick: a rewind after this refuses the rest.
  const generation = deps.commits?.generation(batch.topic, batch.partition) ?? 0;
  for (let i = 0; i < messages.length; i += deps.subBatchSize) {
    if (!payload.isRunning() || payload.isStale()) return;
    const chunk = messages.slice(i, i + deps.subBatchSize);
    const written = await withRetry(deps.logger, payload, () =>
      processChunk(deps, batch.topic, batch.partition, chunk),
    );
    // A rewind (seek) during the retries: the partition is read again from before this chunk.
    if (written === null) return;
    const last = chunk[chunk.length - 1]!.offset;
    payload.resolveOffset(last);
    const next = BigInt(last) + 1n;
    const committed = () => {
      metrics.eventsConsumed.inc(chunk.length);
      metrics.lag.set(
        { topic: batch.topic, partition: batch.partition },
        Math.max(0, Number(BigInt(batch.highWatermark) - next)),
      );
    };
    if (deps.commits) {
      // Committed to Kafka once PostgreSQL has flushed these transactions; the loop goes on.
      deps.commits.commitWhenDurable(
        batch.topic,
        batch.partition,
        generation,
        { from: chunk[0]!.offset, next: next.toString(), wal: written.wal },
        committed,
      );
    } else {
      await deps.consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: next.toString() },
      ]);
      committed();
    }
    metrics.conversionsWritten.inc(written.conversions.length);
    await payload.heartbeat();
    await publishLive(deps, written);
  }
}

async function processChunk(
  deps: Deps,
  topic: string,
  partition: number,
  chunk: KafkaMessage[],
): Promise<Written> {
  const items: Item[] = [];
  const dead: Array<{ message: KafkaMessage; error: PermanentError }> = [];
  for (const m of chunk) {
    try {
      const row = eventRowOf(decodeEvent(m.value));
      // PostgreSQL prints uuids in lowercase; the returned ids are matched against these.
      row.event_id = row.event_id.toLowerCase();
      items.push({ message: m, row });
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      dead.push({ message: m, error: err });
    }
  }
  if (dead.length > 0) await sendToDeadLetters(deps, topic, partition, dead);
  const written: Written = { conversions: [], byEvent: new Map(), wal: [] };
  if (items.length > 0) await writeIsolatingRejects(deps, topic, partition, items, written);
  return written;
}

/**
 * Writes `items` in one transaction; when the database rejects the data itself (not a
 * transient failure), splits the set in halves and writes each, down to the single message,
 * which is dead-lettered. Every part commits in its own transaction before the offset is
 * committed, so a crash in the middle replays harmlessly.
 */
async function writeIsolatingRejects(
  deps: Deps,
  topic: string,
  partition: number,
  items: Item[],
  out: Written,
): Promise<void> {
  try {
    const w = await writeItems(deps, items);
    out.conversions.push(...w.conversions);
    for (const [k, v] of w.byEvent) out.byEvent.set(k, v);
    for (const p of w.wal) {
      const same = out.wal.find((o) => o.server === p.server);
      if (!same) out.wal.push(p);
      else if (p.lsn > same.lsn) same.lsn = p.lsn;
    }
  } catch (err) {
    if (!isPermanentDbError(err)) throw err;
    if (items.length === 1) {
      const code = (err as { code: string }).code;
      const error = new PermanentError(
        `database rejected the row (${code}): ${(err as Error).message}`,
        'db_rejected',
        { cause: err },
      );
      await sendToDeadLetters(deps, topic, partition, [{ message: items[0]!.message, error }]);
      return;
    }
    const mid = items.length >> 1;
    await writeIsolatingRejects(deps, topic, partition, items.slice(0, mid), out);
    await writeIsolatingRejects(deps, topic, partition, items.slice(mid), out);
  }
}

/**
 * Where one write's time went, in milliseconds: matching (before the transaction), each
 * statement, and the whole transaction (BEGIN and COMMIT included). Logged at debug level as
 * `sub_batch_written`; the processor benchmark sums these lines into its profile.
 */
interface WriteTimings {
  match_ms: number;
  events_ms: number;
  sessions_ms: number;
  conversions_ms: number;
  walks_ms: number;
  tx_ms: number;
}

async function writeItems(deps: Deps, items: Item[]): Promise<Written> {
  const t: WriteTimings = {
    match_ms: 0,
    events_ms: 0,
    sessions_ms: 0,
    conversions_ms: 0,
    walks_ms: 0,
    tx_ms: 0,
  };
  let lapAt = performance.now();
  const lap = () => {
    const at = performance.now();
    const ms = at - lapAt;
    lapAt = at;
    return ms;
  };
  // A message delivered twice in one sub-batch (producer retry) is one event. Ids are unique
  // per event at ingest, so the id alone identifies the row that INSERT reports back.
  const seen = new Set<string>();
  const rows = items
    .map((i) => i.row)
    .filter((r) => !seen.has(r.event_id) && !!seen.add(r.event_id));
  const goalsBySite = await deps.goals.getMany(rows.map((e) => e.website_id));
  // Matching is pure CPU: done before the transaction opens, kept only for inserted events.
  const candidates: ConversionRow[] = [];
  // Funnel step goals' matches are stored like conversions but are not goal conversions: they
  // are left out of what this returns (the live feed and the conversions metric).
  const steps = new Set<string>();
  for (const ev of rows) {
    const goals = goalsBySite.get(ev.website_id);
    if (!goals || goals.length === 0) continue;
    for (const { goal, value } of matchEvent(goals, ev)) {
      candidates.push(conversionRow(goal, value, ev));
      if (goal.funnel_id) steps.add(goal.id);
    }
  }
  t.match_ms = lap();
  let sessions = 0;
  /**
   * The sub-batch's transaction. With `copy`, events and conversions go in with COPY, which
   * assumes they are all new (the normal case: one delivery); a replayed event or a conversion
   * a backfill wrote first fails it with a unique violation, and the whole sub-batch is then
   * written again with the conflict-skipping inserts, which report what was new.
   */
  const write =
    (copy: boolean) =>
    async (q: Queryable): Promise<Omit<Written, 'wal'>> => {
      t.tx_ms = lap(); // connection checkout and BEGIN
      const inserted = copy
        ? (await eventRepository.copyNew(q, rows), new Set(rows.map((r) => r.event_id)))
        : await eventRepository.insertReturningIds(q, rows);
      t.events_ms = lap();
      if (inserted.size === 0) return { conversions: [], byEvent: new Map() };
      const fresh =
        inserted.size === rows.length ? rows : rows.filter((r) => inserted.has(r.event_id));
      const deltas = buildSessionDeltas(fresh);
      sessions = deltas.length;
      await sessionRepository.upsertDeltas(q, deltas);
      t.sessions_ms = lap();
      const conversions =
        inserted.size === rows.length
          ? candidates
          : candidates.filter((c) => inserted.has(c.event_id));
      let written = conversions;
      if (copy) {
        await conversionRepository.copyNew(q, conversions);
      } else {
        const keys = await conversionRepository.insertReturningKeys(q, conversions);
        written = conversions.filter((c) => keys.has(`${c.goal_id}|${c.event_id}`));
      }
      t.conversions_ms = lap();
      // The walks of the sessions whose funnel step matches this batch wrote; this
      // transaction holds their sessions' row locks (the upsert above).
      await funnelWalkRepository.refresh(q, walkKeys(written));
      t.walks_ms = lap();
      return {
        conversions: steps.size === 0 ? written : written.filter((c) => !steps.has(c.goal_id)),
        byEvent: new Map(fresh.map((r) => [r.event_id, r])),
      };
    };
  const commit = async (copy: boolean): Promise<Written> =>
    deps.commits
      ? await deps.db
          .txAsyncCommit(write(copy))
          .then(({ result, wal }) => ({ ...result, wal: [wal] }))
      : { ...(await deps.db.tx(write(copy))), wal: [] };
  let written: Written;
  try {
    written = await commit(deps.copy !== false);
  } catch (err) {
    if (deps.copy === false || !isUniqueViolation(err)) throw err;
    written = await commit(false);
  }
  t.tx_ms += t.events_ms + t.sessions_ms + t.conversions_ms + t.walks_ms + lap();
  deps.metrics.transactionSeconds.observe(t.tx_ms / 1000);
  if (deps.logger.isLevelEnabled('debug')) {
    deps.logger.debug(
      { rows: rows.length, conversions: candidates.length, sessions, ...t },
      'sub_batch_written',
    );
  }
  return written;
}

/** After the commit: at most once, never blocks or fails the partition. */
async function publishLive(deps: Deps, written: Written): Promise<void> {
  if (!deps.live || written.conversions.length === 0) return;
  const entries: Array<LiveConversion & { website_id: string }> = written.conversions.map((c) => {
    const ev = written.byEvent.get(c.event_id);
    return {
      website_id: c.website_id,
      goal_id: c.goal_id,
      event_id: c.event_id,
      value: c.value,
      currency: c.currency,
      time: c.event_time,
      country: ev?.country ?? null,
      page: ev?.path ?? null,
    };
  });
  try {
    await publishConversions(deps.live, entries);
  } catch (err) {
    deps.logger.warn(
      { err: (err as Error).message, conversions: entries.length },
      'live_publish_failed',
    );
  }
}

async function sendToDeadLetters(
  deps: Deps,
  topic: string,
  partition: number,
  dead: Array<{ message: KafkaMessage; error: PermanentError }>,
): Promise<void> {
  await deps.producer.send({
    topic: deps.dlqTopic,
    acks: -1,
    messages: dead.map(({ message, error }) => ({
      key: message.key,
      value: message.value,
      headers: deadLetterHeaders(message.headers, {
        reason: error.reason,
        error: error.message,
        topic,
        partition,
        offset: message.offset,
        at: new Date(),
      }),
    })),
  });
  for (const { message, error } of dead) {
    deps.metrics.deadLetters.inc({ reason: error.reason });
    deps.logger.warn(
      { topic, partition, offset: message.offset, reason: error.reason, err: error.message },
      'message_dead_lettered',
    );
  }
}

/**
 * Retries `fn` with exponential backoff while the consumer is running, heartbeating so the
 * group does not evict us during a database or Redis outage. Nothing is committed meanwhile.
 * Resolves to null when a seek makes the batch stale: the caller stops it.
 */
async function withRetry<T>(
  logger: Logger,
  payload: Pick<EachBatchPayload, 'heartbeat' | 'isRunning' | 'isStale'>,
  fn: () => Promise<T>,
): Promise<T | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!payload.isRunning()) throw err;
      // A seek (a rewind) is pending: the partition is read again from before this chunk.
      if (payload.isStale()) return null;
      const delay = Math.min(100 * 2 ** (attempt - 1), MAX_BACKOFF_MS);
      logger.warn({ err: (err as Error).message, attempt, delay }, 'batch_failed_retrying');
      await new Promise((r) => setTimeout(r, delay));
      await payload.heartbeat().catch(() => undefined);
    }
  }
}

/** The (funnel, session) pairs of these conversions' step matches, in lock order. */
function walkKeys(rows: readonly ConversionRow[]): WalkKey[] {
  const keys = new Map<string, WalkKey>();
  for (const c of rows) {
    if (c.funnel_id === null) continue;
    const k = `${c.funnel_id}\u0000${c.session_id}`;
    if (!keys.has(k)) {
      keys.set(k, { funnel_id: c.funnel_id, session_id: c.session_id, website_id: c.website_id });
    }
  }
  return [...keys.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}
