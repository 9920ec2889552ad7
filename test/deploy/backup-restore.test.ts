import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Producer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { migrate } from '../../shared/db/migrate.js';
import { createDb, type Db } from '../../shared/db/pool.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import { encodeEvent, type EventMessage } from '../../shared/events/event-message.js';
import { newWebsiteId } from '../../shared/ids.js';
import {
  createTestTopic,
  deleteTestTopics,
  openTestDeps,
  waitFor,
  type TestDeps,
} from '../helpers/deps.js';
import { startTestProcessor } from '../helpers/processor.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';
import { figures, generate, GOALS, newGoalOf, sessionsOf } from '../stats/dataset.js';

const run = promisify(execFile);

/**
 * The TimescaleDB backup and restore of deploy/README.md ("Backups"), done on the real stack:
 * events go through Kafka and the real processor into a database of this test's own; the
 * statistics are read through the API; the database is dumped with `pg_dump -Fc`, dropped, and
 * restored with `pg_restore` between timescaledb_pre_restore() and timescaledb_post_restore().
 * Afterwards every statistic answers exactly as before, every table holds what it held, the
 * hypertables have their chunks, and the restored database takes new events (a new chunk).
 */
const KEY = `spk_selfhosted_${'7c'.repeat(16)}`;

describe('a TimescaleDB dump restores to the same statistics', () => {
  let deps: TestDeps;
  let admin: pg.Client;
  let db: Db | undefined;
  let dir: string;
  let producer: Producer;
  const suffix = uniqueSuffix();
  const dbName = `goalpost_restore_${suffix.replace(/[^a-z0-9]/g, '_')}`;
  const url = new URL(testConfig.DATABASE_URL);
  url.pathname = `/${dbName}`;
  const dbUrl = url.toString();
  const topics: string[] = [];
  const site = { websiteId: newWebsiteId(), timezone: 'UTC', botPolicy: 'off' as const };
  const events = generate({ ...site, visitors: 120, seed: 41 });
  const sessions = sessionsOf(events);
  const goalIds = new Map<string, number>();
  let numeric = 0;

  const openDb = () =>
    createDb({ url: dbUrl, max: 4, applicationName: 'goalpost-test-restore' }, deps.logger);

  /** Sends events to a fresh topic and runs the processor on it until they are stored. */
  async function ingest(batch: EventMessage[], expectedTotal: number): Promise<void> {
    const topic = await createTestTopic(deps.kafka, 'restore');
    const dlq = await createTestTopic(deps.kafka, 'restore-dlq', 1);
    topics.push(topic, dlq);
    for (let i = 0; i < batch.length; i += 2000) {
      await producer.send({
        topic,
        acks: -1,
        messages: batch
          .slice(i, i + 2000)
          .map((e) => ({ key: `${e.website_id}:${e.visitor_id}`, value: encodeEvent(e) })),
      });
    }
    const processor = await startTestProcessor(
      { ...deps, db: db! },
      { name: 'restore', topic, dlqTopic: dlq, subBatchSize: 2000 },
    );
    try {
      await waitFor(
        `${expectedTotal} events stored`,
        async () => ((await counts(db!)).events === expectedTotal ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    } finally {
      await processor.stop();
    }
  }

  async function counts(q: Db): Promise<Record<string, number>> {
    const { rows } = await q.query<Record<string, number>>(
      'test.restore.counts',
      `SELECT (SELECT count(*) FROM events)::int AS events,
              (SELECT count(*) FROM conversions)::int AS conversions,
              (SELECT count(*) FROM sessions)::int AS sessions,
              (SELECT count(*) FROM goals)::int AS goals,
              (SELECT count(*) FROM websites)::int AS websites,
              (SELECT count(*) FROM schema_migrations)::int AS migrations,
              (SELECT count(*) FROM timescaledb_information.hypertables)::int AS hypertables,
              (SELECT count(*) FROM timescaledb_information.chunks)::int AS chunks`,
    );
    return rows[0]!;
  }

  /** What the API answers for the site: goal statistics (two ranges), goal list, sessions. */
  async function statistics(q: Db): Promise<unknown[]> {
    const api = await buildApiApp({
      db: q,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
    });
    try {
      const out: unknown[] = [];
      for (const path of [
        `/api/goals/${numeric}?sort=goalId&order=asc`,
        `/api/goals/${numeric}?start_date=2026-03-01&end_date=2026-03-14&sort=goalId&order=asc`,
        `/api/sites/${site.websiteId}/goals?sort=conversions&page_size=10`,
        `/api/goals/${goalIds.get('checkout')}/sessions/${site.websiteId}?limit=100`,
      ]) {
        const res = await api.inject({ url: path, headers: { authorization: `Bearer ${KEY}` } });
        expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
        out.push(res.json());
      }
      return out;
    } finally {
      await api.close();
    }
  }

  /** pg_dump/pg_restore of the server's own major version (never older than the server). */
  async function pgTool(name: 'pg_dump' | 'pg_restore'): Promise<string> {
    const { rows } = await admin.query<{ v: string }>('SHOW server_version_num');
    const path = `/usr/lib/postgresql/${Math.floor(Number(rows[0]!.v) / 10_000)}/bin/${name}`;
    return access(path).then(
      () => path,
      () => name,
    );
  }

  beforeAll(async () => {
    deps = openTestDeps('backup-restore');
    const adminUrl = new URL(testConfig.DATABASE_URL);
    adminUrl.pathname = '/postgres';
    admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    db = openDb();
    await migrate(db, deps.logger);
    dir = await mkdtemp(join(tmpdir(), 'goalpost-restore-'));

    numeric = (
      await websiteRepository.create(db, {
        id: site.websiteId,
        name: 'restore',
        domain: 'shop.example',
        timezone: site.timezone,
        bot_policy: site.botPolicy,
      })
    ).numeric_id;
    for (const g of GOALS) {
      const goal = await goalRepository.create(db, newGoalOf(site.websiteId, g));
      goalIds.set(g.key, goal.numeric_id);
    }
    producer = deps.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await ingest(events, events.length);
  }, 90_000);

  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await producer?.disconnect();
    await deleteTestTopics(deps.kafka, topics).catch(() => undefined);
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin?.end();
    if (dir) await rm(dir, { recursive: true, force: true });
    await deps.close();
  });

  it('dump, drop, restore: the statistics, rows and chunks are as before, and new events land', async () => {
    const before = await statistics(db!);
    const countsBefore = await counts(db!);
    // What is compared is real: the statistics agree with an oracle over the generated events.
    const all = (before[0] as { data: Array<{ goalId: number; total_conversions: number }> }).data;
    for (const g of GOALS) {
      const expected = figures(sessions, g, -Infinity, Infinity, () => true).converting_sessions;
      expect(all.find((x) => x.goalId === goalIds.get(g.key))?.total_conversions, g.key).toBe(
        expected,
      );
    }
    expect(countsBefore.conversions).toBeGreaterThan(0);
    expect(countsBefore.chunks).toBeGreaterThan(1);

    // The backup (deploy/README.md): a custom-format dump of the whole database.
    const dump = join(dir, 'goalpost.dump');
    await run(await pgTool('pg_dump'), ['-Fc', '-f', dump, '-d', dbUrl]);
    await db!.end();
    db = undefined;
    await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);

    // The restore: an empty database with the extension, restoring mode around pg_restore.
    await admin.query(`CREATE DATABASE ${dbName}`);
    const target = new pg.Client({ connectionString: dbUrl });
    await target.connect();
    try {
      await target.query('SET client_min_messages = warning');
      await target.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      await target.query('SELECT timescaledb_pre_restore()');
      await run(await pgTool('pg_restore'), ['--no-owner', '-d', dbUrl, dump]);
      await target.query('SELECT timescaledb_post_restore()');
    } finally {
      await target.end();
    }

    db = openDb();
    expect(await counts(db)).toEqual(countsBefore);
    expect(await statistics(db)).toEqual(before);

    // The restored database takes writes: a later month's events create a new chunk.
    const later = generate({ ...site, visitors: 5, seed: 42 }).map((e) => ({
      ...e,
      event_time: new Date(Date.parse(e.event_time) + 60 * 86_400_000).toISOString(),
    }));
    await ingest(later, countsBefore.events! + later.length);
    expect((await counts(db)).chunks).toBeGreaterThan(countsBefore.chunks!);
  }, 80_000);
});
