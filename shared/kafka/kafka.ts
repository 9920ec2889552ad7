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

/**
 * Creates the topics the project uses, with an explicit partition count (the broker does not
 * auto-create topics). Existing topics are left as they are.
 */
export async function ensureTopics(
  admin: Admin,
  topics: Array<{ topic: string; partitions: number }>,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((t) => ({
      topic: t.topic,
      numPartitions: t.partitions,
      replicationFactor: -1, // the broker's default.replication.factor
    })),
  });
}
