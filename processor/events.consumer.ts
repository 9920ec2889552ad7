import type { Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import { conversionRepository, type ConversionRow } from '../shared/db/conversion.repository.js';
import { eventRepository, type EventRow } from '../shared/db/event.repository.js';
import type { Db } from '../shared/db/pool.js';
import { PermanentError } from '../shared/errors/errors.js';
import { decodeEvent, type EventMessage } from '../shared/events/event-message.js';
import type { GoalCache } from '../shared/goals/goal-cache.js';
import type { Logger } from '../shared/logger.js';
import { matchEvent } from '../shared/matching/goal-matcher.js';

export interface EventsConsumerDeps {
  consumer: Consumer;
  /** Used for dead letters only. */
  producer: Producer;
  db: Db;
  goals: GoalCache;
  logger: Logger;
  topic: string;
  dlqTopic: string;
  subBatchSize: number;
  partitionsConcurrently: number;
}

const MAX_BACKOFF_MS = 5_000;

/**
 * The processor loop. Invariant: an offset is committed only after the database transaction
 * holding its message committed, so a crash replays uncommitted work only; replays are
 * harmless because events are unique on (event_id, event_time) and conversions on
 * (goal_id, event_id, event_time). Transient failures are retried in place (heartbeating),
 * never skipped; poison messages go to the dead-letter topic before their offset commits.
 */
export async function runEventsConsumer(deps: EventsConsumerDeps): Promise<void> {
  const { consumer } = deps;
  await consumer.subscribe({ topic: deps.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: deps.partitionsConcurrently,
    eachBatch: (payload) => processBatch(deps, payload),
  });
}

async function processBatch(deps: EventsConsumerDeps, payload: EachBatchPayload): Promise<void> {
  const { batch } = payload;
  const { messages } = batch;
  for (let i = 0; i < messages.length; i += deps.subBatchSize) {
    if (!payload.isRunning() || payload.isStale()) return;
    const chunk = messages.slice(i, i + deps.subBatchSize);
    await withRetry(deps.logger, payload, () =>
      processChunk(deps, batch.topic, batch.partition, chunk),
    );
    const last = chunk[chunk.length - 1]!.offset;
    payload.resolveOffset(last);
    await deps.consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
    ]);
    await payload.heartbeat();
  }
}

async function processChunk(
  deps: EventsConsumerDeps,
  topic: string,
  partition: number,
  chunk: KafkaMessage[],
): Promise<void> {
  const events: EventMessage[] = [];
  const dead: Array<{ message: KafkaMessage; error: PermanentError }> = [];
  for (const m of chunk) {
    try {
      events.push(decodeEvent(m.value));
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      dead.push({ message: m, error: err });
    }
  }
  if (dead.length > 0) await sendToDeadLetters(deps, topic, partition, dead);

  const goalsBySite = await deps.goals.getMany(events.map((e) => e.website_id));
  const rows: EventRow[] = [];
  const conversions: ConversionRow[] = [];
  for (const ev of events) {
    const { v: _v, ...row } = ev;
    rows.push(row);
    const goals = goalsBySite.get(ev.website_id);
    if (!goals || goals.length === 0) continue;
    for (const { goal, value } of matchEvent(goals, ev)) {
      conversions.push({
        goal_id: goal.id,
        event_id: ev.event_id,
        event_time: ev.event_time,
        website_id: ev.website_id,
        session_id: ev.session_id,
        value,
        currency: goal.value_mode === 'none' ? null : goal.currency,
        is_bot: ev.is_bot,
        definition_version: goal.definition_version,
      });
    }
  }
  if (rows.length === 0) return;
  await deps.db.tx(async (q) => {
    await eventRepository.insertMany(q, rows);
    await conversionRepository.insertMany(q, conversions);
  });
}

async function sendToDeadLetters(
  deps: EventsConsumerDeps,
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
      headers: {
        ...message.headers,
        'x-goalpost-dlq-reason': error.reason,
        'x-goalpost-dlq-error': error.message.slice(0, 500),
        'x-goalpost-source-topic': topic,
        'x-goalpost-source-partition': String(partition),
        'x-goalpost-source-offset': message.offset,
        'x-goalpost-dlq-at': new Date().toISOString(),
      },
    })),
  });
  for (const { message, error } of dead) {
    deps.logger.warn(
      { topic, partition, offset: message.offset, reason: error.reason, err: error.message },
      'message_dead_lettered',
    );
  }
}

/**
 * Retries `fn` with exponential backoff while the consumer is running, heartbeating so the
 * group does not evict us during a database or Redis outage. Nothing is committed meanwhile.
 */
async function withRetry(
  logger: Logger,
  payload: Pick<EachBatchPayload, 'heartbeat' | 'isRunning' | 'isStale'>,
  fn: () => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!payload.isRunning() || payload.isStale()) throw err;
      const delay = Math.min(100 * 2 ** (attempt - 1), MAX_BACKOFF_MS);
      logger.warn({ err: (err as Error).message, attempt, delay }, 'batch_failed_retrying');
      await new Promise((r) => setTimeout(r, delay));
      await payload.heartbeat().catch(() => undefined);
    }
  }
}
