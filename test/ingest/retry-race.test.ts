import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchingProducer } from '../../ingest/kafka/batching.producer.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newWebsiteId } from '../../shared/ids.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import { testConfig } from '../helpers/test-env.js';
import { openIngestHarness, type IngestHarness } from './ingest-harness.js';

const run = promisify(execFile);

/** The broker's process id, from the port it listens on. */
async function brokerPid(): Promise<number> {
  const port = testConfig.KAFKA_BROKERS.split(',')[0]!.split(':').pop()!;
  const { stdout } = await run('ss', ['-ltnpH', `sport = :${port}`]);
  const m = /pid=(\d+)/.exec(stdout);
  if (!m) throw new Error(`no process listens on ${port}: ${stdout}`);
  return Number(m[1]);
}

/**
 * A client event_id whose produce timed out (ingest answered 503 and released the claim) may
 * still be delivered by the producer, which keeps retrying on its own. The client then retries:
 * before the fix the retry got a new receive-time event_time, so the same event was stored
 * twice (uniqueness is on (event_id, event_time)). Here the race is made to happen: the broker
 * is paused (SIGSTOP) while concurrent clients send and retry, each attempt times out, and once
 * the broker resumes every queued attempt is delivered. Kafka then holds several copies of
 * events, and the database must hold each event once.
 */
describe('ingest: a retried event_id is stored once even when its timed-out attempt lands', () => {
  let deps: TestDeps;
  let h: IngestHarness;
  let app: HttpApp;
  let processor: TestProcessor;
  let site: Website;
  let paused: number | null = null;

  beforeAll(async () => {
    deps = openTestDeps('ingest-retry-race');
    site = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Race',
      domain: 'race.example',
    });
    h = await openIngestHarness(deps, 'ingest-retry-race');
    app = await h.build({
      producer: new BatchingProducer(h.kafkaProducer, {
        topic: h.topic,
        lingerMs: 2,
        maxBatchMessages: 500,
        timeoutMs: 700,
      }),
      options: { produceTimeoutMs: 700 },
    });
    processor = await startTestProcessor(deps, {
      name: 'retry-race',
      topic: h.topic,
      dlqTopic: h.topic,
      partitionsConcurrently: 1,
    });
  });

  afterAll(async () => {
    if (paused !== null) process.kill(paused, 'SIGCONT');
    await processor?.stop();
    await h?.close();
    await deps.db.query('test.cleanup', 'DELETE FROM events WHERE website_id = $1', [site.id]);
    await deps.db.query('test.cleanup', 'DELETE FROM sessions WHERE website_id = $1', [site.id]);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [site.id]);
    await deps.close();
  });

  const post = (eventId: string) =>
    app.inject({
      method: 'POST',
      url: '/api/collect',
      headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 race' },
      payload: JSON.stringify({
        website_id: site.id,
        type: 'pageview',
        url: `/race/${eventId}`,
        visitor_id: `v-${eventId}`,
        event_id: eventId,
      }),
    });

  /** Sends until accepted, retrying after every 503 or 409 as a client would; returns the attempts. */
  async function client(eventId: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const res = await post(eventId);
      if (res.statusCode === 202) return attempt;
      // 503: its produce timed out; 409: the same event is in flight in another request.
      expect([503, 409]).toContain(res.statusCode);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it(
    'stores each event once although Kafka received several copies',
    { timeout: 90_000 },
    async () => {
      const ids = Array.from({ length: 12 }, () => randomUUID());
      const pid = await brokerPid();
      process.kill(pid, 'SIGSTOP');
      paused = pid;
      const clients = ids.map(client);
      // Long enough for every client's first attempts to time out against the paused broker.
      await new Promise((r) => setTimeout(r, 2_500));
      process.kill(pid, 'SIGCONT');
      paused = null;
      const attempts = await Promise.all(clients);
      expect(Math.min(...attempts)).toBeGreaterThan(1);

      // Everything produced is in Kafka (one partition, in order) once a sentinel sent last is.
      const sentinel = randomUUID();
      expect((await post(sentinel)).statusCode).toBe(202);
      await waitFor('the sentinel in the database', async () => {
        const { rows } = await deps.db.query<{ n: number }>(
          'test.sentinel',
          'SELECT count(*)::int AS n FROM events WHERE event_id = $1',
          [sentinel],
        );
        return rows[0]!.n === 1 ? true : undefined;
      });
      const copies = ids.map((id) => h.produced.filter((p) => p.ev.event_id === id).length);
      // The race happened: timed-out attempts were delivered beside their retries.
      expect(Math.max(...copies)).toBeGreaterThan(1);
      const { rows } = await deps.db.query<{ event_id: string; n: number }>(
        'test.rows',
        `SELECT event_id::text, count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[])
        GROUP BY event_id`,
        [ids],
      );
      expect(rows).toHaveLength(ids.length);
      expect(rows.filter((r) => r.n !== 1)).toEqual([]);
      const { rows: sessions } = await deps.db.query<{ pageviews: number }>(
        'test.sessions',
        'SELECT pageviews FROM sessions WHERE website_id = $1',
        [site.id],
      );
      // One session per visitor with one pageview: no copy was counted.
      expect(sessions.filter((s) => s.pageviews !== 1)).toEqual([]);
    },
  );
});
