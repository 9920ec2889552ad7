import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, type Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { startRetention, type RetentionResult } from '../../processor/jobs/retention.worker.js';
import { conversionRepository } from '../../shared/db/repositories/conversion.repository.js';
import { eventRepository, eventRowOf } from '../../shared/db/repositories/event.repository.js';
import { sessionRepository } from '../../shared/db/repositories/session.repository.js';
import { createRedis, type Redis } from '../../shared/redis/redis.js';
import { buildSessionDeltas } from '../../processor/consumer/session-deltas.js';
import { cleanupSites, createSites, generate } from './pipeline.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';

const DAY = 86_400_000;
// Far in the past, so that dropping chunks older than this never touches other suites' data.
const RETENTION_DAYS = 3000;

/**
 * Retention as a BullMQ repeatable job: event and conversion chunks entirely older than the
 * retention are dropped, sessions that ended before it deleted; younger data stays.
 */
describe('processor: retention job', () => {
  let deps: TestDeps;
  let bull: Redis;
  let retention: { queue: Queue; worker: Worker<unknown, RetentionResult> };
  let websites: string[] = [];
  const prefix = `test-retention-${uniqueSuffix()}`;

  beforeAll(async () => {
    deps = openTestDeps('processor-retention');
    websites = await createSites(deps.db, 1);
    bull = createRedis(testConfig.REDIS_URL, deps.logger, { name: 'test-bull', forBullMQ: true });
  });

  afterAll(async () => {
    await retention?.worker.close();
    await retention?.queue.obliterate({ force: true }).catch(() => undefined);
    await retention?.queue.close();
    bull?.disconnect();
    await cleanupSites(deps.db, websites);
    await deps.close();
  });

  it('drops expired chunks and sessions, keeps the rest', async () => {
    const w = websites[0]!;
    const now = Date.now();
    const old = generate([w], 5, 1, now - (RETENTION_DAYS + 30) * DAY).events;
    const young = generate([w], 5, 2, now - (RETENTION_DAYS - 30) * DAY).events;
    const rows = [
      ...old.map((e) => ({ ...eventRowOf(e), type: 'pageview' as const, session_id: 'old' })),
      ...young.map((e) => ({ ...eventRowOf(e), type: 'pageview' as const, session_id: 'new' })),
    ];
    await deps.db.tx(async (q) => {
      await eventRepository.insertReturningIds(q, rows);
      await sessionRepository.upsertDeltas(q, buildSessionDeltas(rows));
      await conversionRepository.insertReturningKeys(
        q,
        rows.map((r) => ({
          goal_id: `goal_${randomUUID().replaceAll('-', '').slice(0, 21)}`,
          event_id: r.event_id,
          event_time: r.event_time,
          website_id: w,
          session_id: r.session_id,
          value: null,
          currency: null,
          is_bot: false,
          definition_version: 1,
          seq: 0,
          funnel_id: null,
          utm_source: null,
          utm_medium: null,
          referrer_domain: null,
        })),
      );
    });
    const counts = async () => {
      const { rows: c } = await deps.db.query<{ e: number; c: number; s: number }>(
        'test.counts',
        `SELECT (SELECT count(*)::int FROM events WHERE website_id = $1) AS e,
                (SELECT count(*)::int FROM conversions WHERE website_id = $1) AS c,
                (SELECT count(*)::int FROM sessions WHERE website_id = $1) AS s`,
        [w],
      );
      return c[0]!;
    };
    expect((await counts()).e).toBe(10);

    retention = await startRetention({
      db: deps.db,
      logger: deps.logger,
      connection: bull,
      prefix,
      retentionDays: RETENTION_DAYS,
      everyMs: 60_000,
    });
    // The scheduler runs the first iteration at once.
    const [done] = await waitFor('a completed retention job', async () => {
      const jobs = await retention.queue.getCompleted();
      return jobs.length > 0 ? jobs : undefined;
    });
    expect((done!.returnvalue as RetentionResult).event_chunks).toBeGreaterThanOrEqual(1);
    expect(await counts()).toEqual({ e: 5, c: 5, s: 1 });
    const schedulers = await retention.queue.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.every])).toEqual([['drop-expired', 60_000]]);
  });
});
