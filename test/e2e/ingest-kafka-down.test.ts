import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { WebsiteLookup } from '../../ingest/lookups/website.lookup.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newWebsiteId } from '../../shared/ids.js';
import { BatchingProducer } from '../../ingest/kafka/batching.producer.js';
import { openTestDeps, type TestDeps } from '../helpers/deps.js';
import { loadedOriginIndex } from '../ingest/ingest-harness.js';

/**
 * "Never a 2xx for an event that is not in Kafka": when the producer has no connection to
 * Kafka, ingest answers 503 with Retry-After and reports itself not ready.
 * (The produce-timeout path is covered by batching-producer.test.ts.)
 */
describe('ingest when Kafka cannot take events', () => {
  let deps: TestDeps;
  let app: HttpApp;
  const websiteId = newWebsiteId();

  beforeAll(async () => {
    deps = openTestDeps('kafka-down');
    await websiteRepository.create(deps.db, {
      id: websiteId,
      name: 'Down',
      domain: 'down.example',
    });
    // A real kafkajs producer that is not connected: every send is refused by kafkajs itself.
    const producer = new BatchingProducer(deps.kafka.producer(), {
      topic: 'never-created',
      lingerMs: 1,
      maxBatchMessages: 10,
      timeoutMs: 1500,
    });
    app = await buildIngestApp({
      producer,
      websites: new WebsiteLookup(deps.db),
      origins: await loadedOriginIndex(deps),
      redis: deps.redis,
      logger: deps.logger,
      isReady: () => false,
    });
  });

  afterAll(async () => {
    await app?.close();
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [websiteId]);
    await deps.close();
  });

  it('answers 503 with Retry-After, not 202', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/collect',
      payload: { website_id: websiteId, type: 'pageview', url: '/x' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json()).toMatchObject({ error: { code: 'unavailable' } });
  });

  it('reports not ready', async () => {
    const res = await app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
  });
});
