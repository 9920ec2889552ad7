/**
 * `npm run cli -- dlq inspect [--limit N]`: prints the dead letters (source, reason, error,
 * value) from the start of the dead-letter topic, without consuming them for anyone.
 * `npm run cli -- dlq replay [--limit N]`: re-sends dead letters to the events topic (after
 * the cause was fixed) and remembers how far it got in the consumer group
 * `<KAFKA_CONSUMER_GROUP>-dlq-replay`, so a letter is replayed once; a letter that fails again
 * returns to the dead-letter topic as a new letter.
 */
import { Type } from '@sinclair/typebox';
import type { IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { KafkaEnv, LogEnv } from '../../shared/config/env.js';
import { loadConfig } from '../../shared/config/load-config.js';
import { createKafka } from '../../shared/kafka/kafka.js';
import { createLogger } from '../../shared/logger.js';
import { replayHeaders } from '../consumer/dead-letter.headers.js';

export const usage = `  dlq inspect [--limit N]   show dead letters (default the first 20)
  dlq replay [--limit N]    re-send dead letters not replayed yet to the events topic`;

const DlqConfigSchema = Type.Object({
  ...LogEnv,
  ...KafkaEnv,
  KAFKA_CONSUMER_GROUP: Type.String({ minLength: 1, default: 'goalpost-processor' }),
  KAFKA_DLQ_TOPIC: Type.String({
    pattern: '^[A-Za-z0-9._-]{1,249}$',
    default: 'goalpost.events.dlq',
  }),
});

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = (Array.isArray(v) ? v : [v]).map((x) => x.toString()).join(',');
  }
  return out;
}

/**
 * Reads the topic from `fromGroup`'s committed offsets (or the beginning) up to the high
 * watermarks as they were at the start, calling `onMessage` for at most `limit` messages.
 * Returns the next offset per partition after the last message handled.
 */
async function readUpToEnd(
  kafka: Kafka,
  topic: string,
  groupId: string,
  limit: number,
  onMessage: (m: KafkaMessage, partition: number) => Promise<void>,
): Promise<Array<{ partition: number; offset: string }>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  const next = new Map<number, bigint>();
  for (const p of ends) {
    const c = committed[0]?.partitions.find((x) => x.partition === p.partition)?.offset ?? '-1';
    next.set(p.partition, BigInt(c) >= 0n ? BigInt(c) : BigInt(p.low));
  }
  const high = new Map(ends.map((p) => [p.partition, BigInt(p.high)]));
  const remaining = () => [...high].some(([p, h]) => next.get(p)! < h);
  let handled = 0;
  if (remaining() && limit > 0) {
    const consumer = kafka.consumer({ groupId: `${groupId}-reader-${process.pid}-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ message, partition }) => {
            const offset = BigInt(message.offset);
            if (offset < next.get(partition)! || offset >= high.get(partition)!) return;
            if (handled >= limit) return;
            await onMessage(message, partition);
            handled++;
            next.set(partition, offset + 1n);
            if (handled >= limit || !remaining()) resolve();
          },
        })
        .catch(reject);
      // Seek every partition to where this read starts.
      for (const [partition, offset] of next) {
        consumer.seek({ topic, partition, offset: offset.toString() });
      }
    });
    await consumer.disconnect();
  }
  return [...next].map(([partition, offset]) => ({ partition, offset: offset.toString() }));
}

function parseLimit(args: string[], dflt: number): number | null {
  const i = args.indexOf('--limit');
  if (i === -1) return dflt;
  const n = Number(args[i + 1]);
  return Number.isInteger(n) && n > 0 ? n : null;
}

export async function run(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd !== 'inspect' && cmd !== 'replay') {
    process.stderr.write(`usage:\n${usage}\n`);
    return 64;
  }
  const limit = parseLimit(rest, cmd === 'inspect' ? 20 : Number.MAX_SAFE_INTEGER);
  if (limit === null) {
    process.stderr.write('--limit must be a positive integer\n');
    return 64;
  }
  const config = loadConfig(DlqConfigSchema);
  const logger = createLogger('cli', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const kafka = createKafka(
    { brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-cli` },
    logger,
  );
  const replayGroup = `${config.KAFKA_CONSUMER_GROUP}-dlq-replay`;

  if (cmd === 'inspect') {
    let n = 0;
    // A throwaway group id: inspect never moves the replay position.
    await readUpToEnd(
      kafka,
      config.KAFKA_DLQ_TOPIC,
      `${replayGroup}-inspect`,
      limit,
      async (m, p) => {
        n++;
        process.stdout.write(
          `${JSON.stringify({
            partition: p,
            offset: m.offset,
            timestamp: new Date(Number(m.timestamp)).toISOString(),
            key: m.key?.toString() ?? null,
            headers: headerText(m.headers),
            value: m.value?.toString('utf8').slice(0, 2000) ?? null,
          })}\n`,
        );
      },
    );
    process.stderr.write(`${n} dead letter(s) shown from ${config.KAFKA_DLQ_TOPIC}\n`);
    return 0;
  }

  const producer = kafka.producer({
    // kafkajs's current default partitioner, chosen explicitly (silences its v2 notice).
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    idempotent: true,
  });
  await producer.connect();
  let n = 0;
  try {
    const positions = await readUpToEnd(
      kafka,
      config.KAFKA_DLQ_TOPIC,
      replayGroup,
      limit,
      async (m) => {
        await producer.send({
          topic: config.KAFKA_EVENTS_TOPIC,
          acks: -1,
          messages: [
            {
              key: m.key,
              value: m.value,
              headers: replayHeaders(m.headers, m.offset),
            },
          ],
        });
        n++;
      },
    );
    // Only after every re-send was acknowledged: a crash before this replays them again,
    // which the processor's idempotent writes absorb.
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({
      groupId: replayGroup,
      topic: config.KAFKA_DLQ_TOPIC,
      partitions: positions,
    });
    await admin.disconnect();
  } finally {
    await producer.disconnect();
  }
  process.stdout.write(`replayed ${n} dead letter(s) to ${config.KAFKA_EVENTS_TOPIC}\n`);
  return 0;
}
