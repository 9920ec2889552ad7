import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { Logger } from '../logger.js';
// Side effect: stops kafkajs' idle 1 ms timer loop on every connection (see the module).
import './request-queue-fix.js';
// Side effect: produce requests encode record batches in one buffer with a native CRC32C.
import { recordBatchEncoderApplied } from './record-batch.encoder.js';

/** Builds the one kafkajs client of a process, logging through pino. */
export function createKafka(opts: { brokers: string; clientId: string }, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  if (!recordBatchEncoderApplied) {
    log.warn('kafkajs_record_batch_encoder_not_applied: produce requests use kafkajs’s encoder');
  }
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers.split(',').map((b) => b.trim()),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.error(rest, message);
        else if (level === logLevel.WARN) log.warn(rest, message);
        else log.info(rest, message);
      },
  });
}

/** How topics are replicated: 0 in a field means "chosen from the cluster's size". */
export interface TopicReplication {
  replicationFactor: number;
  minInsyncReplicas: number;
}

/**
 * The replication a new topic gets on a cluster of `brokers` brokers. Unset (0): one broker
 * keeps one copy; a cluster keeps three (or as many brokers as there are, below three) and
 * acknowledges a write (acks = all) once two are in sync, so one broker can fail or restart
 * without losing an acknowledged event or refusing writes.
 */
export function topicReplication(brokers: number, wanted: TopicReplication): TopicReplication {
  const replicationFactor = wanted.replicationFactor || Math.min(3, Math.max(1, brokers));
  const minInsyncReplicas = wanted.minInsyncReplicas || (replicationFactor >= 3 ? 2 : 1);
  if (replicationFactor > brokers) {
    throw new Error(
      `KAFKA_TOPIC_REPLICATION_FACTOR ${replicationFactor} exceeds the ${brokers} broker(s) of the cluster`,
    );
  }
  if (minInsyncReplicas > replicationFactor) {
    throw new Error(
      `KAFKA_TOPIC_MIN_INSYNC_REPLICAS ${minInsyncReplicas} exceeds the replication factor ${replicationFactor}`,
    );
  }
  return { replicationFactor, minInsyncReplicas };
}

/**
 * Creates the topics the project uses, with an explicit partition count and replication (the
 * broker does not auto-create topics). Existing topics are left as they are.
 */
export async function ensureTopics(
  admin: Admin,
  topics: Array<{ topic: string; partitions: number }>,
  replication: TopicReplication = { replicationFactor: 0, minInsyncReplicas: 0 },
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  const { brokers } = await admin.describeCluster();
  const r = topicReplication(brokers.length, replication);
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((t) => ({
      topic: t.topic,
      numPartitions: t.partitions,
      replicationFactor: r.replicationFactor,
      configEntries: [{ name: 'min.insync.replicas', value: String(r.minInsyncReplicas) }],
    })),
  });
}

/** The topic replication settings of a process's config. */
export function replicationOf(config: {
  KAFKA_TOPIC_REPLICATION_FACTOR: number;
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: number;
}): TopicReplication {
  return {
    replicationFactor: config.KAFKA_TOPIC_REPLICATION_FACTOR,
    minInsyncReplicas: config.KAFKA_TOPIC_MIN_INSYNC_REPLICAS,
  };
}
