import type { Consumer, Producer } from 'kafkajs';
import { ApiKeyLookup } from '../../ingest/lookups/api-key.lookup.js';
import { buildIngestApp, type IngestOptions } from '../../ingest/app.js';
import { WebsiteLookup } from '../../ingest/lookups/website.lookup.js';
import { OriginIndex } from '../../ingest/lookups/origin.index.js';
import type { GeoLookup } from '../../ingest/enrichment/geo.js';
import { decodeEvent, type EventMessage } from '../../shared/events/event-message.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { BatchingProducer } from '../../ingest/kafka/batching.producer.js';
import { IngestMetrics } from '../../ingest/http/ingest.metrics.js';
import type { Redis } from '../../shared/redis/redis.js';
import { createTestTopic, deleteTestTopics, type TestDeps } from '../helpers/deps.js';
import { uniqueSuffix } from '../helpers/test-env.js';

/**
 * An ingest app on the real stack producing to a topic of its own, plus a consumer that
 * collects everything produced there (decoded with the processor's decoder).
 */
export interface IngestHarness {
  app: HttpApp;
  /** The metrics of `app` (and of apps built without their own). */
  metrics: IngestMetrics;
  /** The CORS origin index (refresh it after changing websites' origins). */
  origins: OriginIndex;
  topic: string;
  /** Everything produced: key, value (bytes, and as UTF-8 text), decoded event. */
  produced: Array<{ key: string; value: Buffer; raw: string; ev: EventMessage }>;
  kafkaProducer: Producer;
  redisPrefix: string;
  build(over?: {
    redis?: Redis;
    producer?: BatchingProducer;
    options?: Partial<IngestOptions>;
    metrics?: IngestMetrics;
  }): Promise<HttpApp>;
  close(): Promise<void>;
}

/** The CORS origin index of an ingest app a test builds by hand, loaded now. */
export async function loadedOriginIndex(deps: TestDeps): Promise<OriginIndex> {
  const origins = new OriginIndex(deps.db, deps.logger);
  await origins.start();
  return origins;
}

/** The batching the ingest tests use: sends leave at once (2 ms linger). */
export const testProducerSettings = (topic: string) => ({
  topic,
  lingerMs: 2,
  maxBatchMessages: 500,
  timeoutMs: 5000,
});

/**
 * An ingest app producing to `topic` (in end-to-end tests, the one a test processor reads)
 * through `kafkaProducer`, with the lookups and batching of the other ingest tests and Redis
 * keys under a prefix of its own; closing it also stops its origin index.
 */
export async function buildTopicIngest(
  deps: TestDeps,
  kafkaProducer: Producer,
  topic: string,
  options: Partial<IngestOptions> = {},
): Promise<HttpApp> {
  const origins = await loadedOriginIndex(deps);
  const app = await buildIngestApp({
    producer: new BatchingProducer(kafkaProducer, testProducerSettings(topic)),
    websites: new WebsiteLookup(deps.db),
    origins,
    apiKeys: new ApiKeyLookup(deps.db),
    redis: deps.redis,
    logger: deps.logger,
    isReady: () => true,
    options: { redisKeyPrefix: `test:${uniqueSuffix()}:`, ...options },
  });
  app.addHook('onClose', (_app, done) => {
    origins.stop();
    done();
  });
  return app;
}

export async function openIngestHarness(
  deps: TestDeps,
  name: string,
  opts: { geo?: GeoLookup; websites?: WebsiteLookup; options?: Partial<IngestOptions> } = {},
): Promise<IngestHarness> {
  // One partition: everything produced is consumed in produce order, so "nothing was produced
  // before this sentinel" is a sound assertion.
  const topic = await createTestTopic(deps.kafka, name, 1);
  const redisPrefix = `test:${uniqueSuffix()}:`;
  const kafkaProducer = deps.kafka.producer({ allowAutoTopicCreation: false });
  const consumer: Consumer = deps.kafka.consumer({ groupId: `test-${name}-${uniqueSuffix()}` });
  await Promise.all([kafkaProducer.connect(), consumer.connect()]);
  const produced: IngestHarness['produced'] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const raw = message.value!.toString('utf8');
      produced.push({
        key: message.key!.toString(),
        value: message.value!,
        raw,
        ev: decodeEvent(message.value),
      });
    },
  });
  const apps: HttpApp[] = [];
  const metrics = new IngestMetrics();
  const websites = opts.websites ?? new WebsiteLookup(deps.db);
  const origins = await loadedOriginIndex(deps);
  const apiKeys = new ApiKeyLookup(deps.db);
  const build: IngestHarness['build'] = async (over = {}) => {
    const app = await buildIngestApp({
      metrics: over.metrics ?? metrics,
      producer: over.producer ?? new BatchingProducer(kafkaProducer, testProducerSettings(topic)),
      websites,
      origins,
      apiKeys,
      redis: over.redis ?? deps.redis,
      logger: deps.logger,
      isReady: () => true,
      ...(opts.geo ? { geo: opts.geo } : {}),
      options: {
        redisKeyPrefix: redisPrefix,
        botRateHeuristic: false,
        ratePerIpPerMinute: 1_000_000,
        ...opts.options,
        ...over.options,
      },
    });
    apps.push(app);
    return app;
  };
  const app = await build();
  return {
    app,
    metrics,
    origins,
    topic,
    produced,
    kafkaProducer,
    redisPrefix,
    build,
    async close() {
      origins.stop();
      for (const a of apps) await a.close();
      await consumer.disconnect();
      await kafkaProducer.disconnect();
      await deleteTestTopics(deps.kafka, [topic]).catch(() => undefined);
      const keys = await deps.redis.keys(`${redisPrefix}*`);
      if (keys.length > 0) await deps.redis.del(...keys);
    },
  };
}
