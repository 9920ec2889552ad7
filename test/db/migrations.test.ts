import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdtemp, readdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate, MigrationChangedError, MIGRATIONS_DIR } from '../../shared/db/migrate.js';
import { createDb, type Db } from '../../shared/db/pool.js';
import { createLogger } from '../../shared/logger.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';

const logger = createLogger('test-migrations', testConfig.TEST_LOG_LEVEL);
const FIXTURE_006 = new URL('./fixtures/006_session_start_counts.sql', import.meta.url).pathname;

/** A database of its own on the test server, dropped at the end. */
async function freshDatabase(
  name: string,
): Promise<{ db: Db; url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: testConfig.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(testConfig.DATABASE_URL);
  url.pathname = `/${name}`;
  const db = createDb(
    { url: url.toString(), max: 2, applicationName: 'goalpost-test-mig' },
    logger,
  );
  return {
    db,
    url: url.toString(),
    async drop() {
      await db.end();
      const c = new pg.Client({ connectionString: testConfig.DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A copy of the migrations folder, so a test can change files without touching the repo. */
async function copyMigrations(upTo = 999): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'goalpost-mig-'));
  for (const f of await readdir(MIGRATIONS_DIR)) {
    if (Number(f.slice(0, 3)) <= upTo) await copyFile(join(MIGRATIONS_DIR, f), join(dir, f));
  }
  return dir;
}

async function triggersOnSessions(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ t: string }>(
    'test.triggers',
    `SELECT tgname || ' ' || pg_get_triggerdef(oid) AS t FROM pg_trigger
      WHERE tgrelid = 'sessions'::regclass AND NOT tgisinternal ORDER BY tgname`,
  );
  return rows.map((r) => r.t);
}

async function rollupFunctions(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ f: string }>(
    'test.functions',
    `SELECT pg_get_functiondef(p.oid) AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.proname LIKE 'session%' ORDER BY p.proname`,
  );
  return rows.map((r) => r.f);
}

/**
 * The migration runner records each file's checksum and refuses to run when an applied file
 * changed; migration 009 brings a database that ran the first version of 006 to exactly
 * today's definition of the session rollup.
 */
describe('migrations', () => {
  const dirs: string[] = [];
  const dbs: Array<{ drop(): Promise<void> }> = [];
  let reference: Db;

  beforeAll(async () => {
    const r = await freshDatabase(`goalpost_mig_ref_${uniqueSuffix().replace(/-/g, '_')}`);
    dbs.push(r);
    reference = r.db;
    await migrate(reference, logger);
  });

  afterAll(async () => {
    for (const d of dbs) await d.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('refuses to start when an applied migration changed, naming the file', async () => {
    const d = await freshDatabase(`goalpost_mig_sum_${uniqueSuffix().replace(/-/g, '_')}`);
    dbs.push(d);
    const dir = await copyMigrations();
    dirs.push(dir);
    const first = await migrate(d.db, logger, dir);
    expect(first).toContain('001_init.sql');
    expect(await migrate(d.db, logger, dir)).toEqual([]);
    const { rows } = await d.db.query<{ n: number }>(
      'test.unsummed',
      'SELECT count(*)::int AS n FROM schema_migrations WHERE checksum IS NULL',
    );
    expect(rows[0]!.n).toBe(0);

    await appendFile(join(dir, '002_goal_management.sql'), '\n-- an edit after landing\n');
    const err = await migrate(d.db, logger, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationChangedError);
    expect((err as Error).message).toContain('002_goal_management.sql');

    // A migration added beside the edited one is not applied either.
    await writeFile(join(dir, '998_new.sql'), 'CREATE TABLE mig_should_not_exist (x int);');
    await migrate(d.db, logger, dir).catch(() => undefined);
    const { rows: t } = await d.db.query<{ n: number }>(
      'test.new_table',
      `SELECT count(*)::int AS n FROM pg_class WHERE relname = 'mig_should_not_exist'`,
    );
    expect(t[0]!.n).toBe(0);
  });

  it('checks an up-to-date database without the lock, and takes it when a file is pending', async () => {
    const d = await freshDatabase(`goalpost_mig_lock_${uniqueSuffix().replace(/-/g, '_')}`);
    dbs.push(d);
    const dir = await copyMigrations();
    dirs.push(dir);
    await migrate(d.db, logger, dir);
    // Another runner holds the lock (or, behind PgBouncer, a pooled connection leaked it).
    const holder = new pg.Client({ connectionString: d.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(7300001)');
    const waiting = async () => {
      const { rows } = await holder.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND objid = 7300001 AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return rows[0]!.n > 0;
    };
    /** Resolves to 'waited' as soon as `run` waits for the lock, else to its result. */
    const lockWaitOr = async <T>(run: Promise<T>): Promise<T | 'waited'> => {
      let settled = false;
      const watched = run.finally(() => (settled = true));
      const watch = (async () => {
        while (!settled) {
          if (await waiting()) return 'waited' as const;
          await new Promise((r) => setTimeout(r, 20));
        }
        return watched;
      })();
      return Promise.race([watched, watch]);
    };
    try {
      expect(await lockWaitOr(migrate(d.db, logger, dir))).toEqual([]);
      await writeFile(join(dir, '999_lock_probe.sql'), 'CREATE TABLE mig_lock_probe (x int);');
      const pending = migrate(d.db, logger, dir);
      expect(await lockWaitOr(pending)).toBe('waited');
      await holder.query('SELECT pg_advisory_unlock(7300001)');
      expect(await pending).toEqual(['999_lock_probe.sql']);
    } finally {
      await holder.end();
    }
  });

  it('records the checksums of migrations applied before checksums existed', async () => {
    const d = await freshDatabase(`goalpost_mig_old_${uniqueSuffix().replace(/-/g, '_')}`);
    dbs.push(d);
    await migrate(d.db, logger);
    await d.db.query('test.forget', 'UPDATE schema_migrations SET checksum = NULL');
    expect(await migrate(d.db, logger)).toEqual([]);
    const { rows } = await d.db.query<{ n: number }>(
      'test.unsummed',
      'SELECT count(*)::int AS n FROM schema_migrations WHERE checksum IS NULL',
    );
    expect(rows[0]!.n).toBe(0);
  });

  it('009 brings a database that ran the first 006 to today’s rollup', async () => {
    const d = await freshDatabase(`goalpost_mig_006_${uniqueSuffix().replace(/-/g, '_')}`);
    dbs.push(d);
    // The history such a database has: 001–005, then the first 006, then 008.
    const dir = await copyMigrations(5);
    dirs.push(dir);
    await copyFile(FIXTURE_006, join(dir, '006_session_start_counts.sql'));
    await migrate(d.db, logger, dir);
    // Those were applied by the runner before it recorded checksums.
    await d.db.query('test.forget', 'UPDATE schema_migrations SET checksum = NULL');
    await d.db.query(
      'test.sessions',
      `INSERT INTO websites (id, name, domain) VALUES ('site_mig0000001', 'm', 'm.example');
       INSERT INTO sessions (website_id, session_id, visitor_id, started_at, ended_at,
                             first_event_id, pageviews, events, is_bot)
       SELECT 'site_mig0000001', 's' || i, 'v' || i,
              timestamptz '2026-01-01' + i * interval '7 minutes',
              timestamptz '2026-01-01' + i * interval '7 minutes' + (i % 5) * interval '20 minutes',
              gen_random_uuid(), 1, 0, i % 7 = 0
         FROM generate_series(1, 300) AS i`,
    );
    // Then it upgrades to today's files: 006 is now another file under the same number.
    const today = await copyMigrations();
    dirs.push(today);
    const applied = await migrate(d.db, logger, today);
    expect(applied).toEqual(
      (await readdir(MIGRATIONS_DIR)).filter((f) => Number(f.slice(0, 3)) > 6).sort(),
    );

    expect(await triggersOnSessions(d.db)).toEqual(await triggersOnSessions(reference));
    expect(await rollupFunctions(d.db)).toEqual(await rollupFunctions(reference));
    const { rows: leftover } = await d.db.query<{ n: number }>(
      'test.leftover',
      `SELECT count(*)::int AS n FROM pg_class WHERE relname = 'session_start_counts'`,
    );
    expect(leftover[0]!.n).toBe(0);

    // The recount is exact, and the new triggers keep it so.
    await d.db.query(
      'test.more',
      `UPDATE sessions SET ended_at = ended_at + interval '1 hour' WHERE session_id IN ('s3', 's4');
       DELETE FROM sessions WHERE session_id = 's10'`,
    );
    const rollup = `SELECT bucket, is_bot, sum(starts)::int AS starts, sum(ends)::int AS ends
                      FROM session_counts GROUP BY 1, 2 HAVING sum(starts) <> 0 OR sum(ends) <> 0
                     ORDER BY 1, 2`;
    const scan = `SELECT bucket, is_bot, sum(st)::int AS starts, sum(en)::int AS ends FROM (
                    SELECT date_bin('15 minutes', started_at, timestamptz '2000-01-01 00:00:00+00') AS bucket,
                           is_bot, 1 AS st, 0 AS en FROM sessions
                    UNION ALL
                    SELECT date_bin('15 minutes', ended_at, timestamptz '2000-01-01 00:00:00+00'),
                           is_bot, 0, 1 FROM sessions) x
                   GROUP BY 1, 2 ORDER BY 1, 2`;
    const [a, b] = await Promise.all([
      d.db.query('test.rollup', rollup),
      d.db.query('test.scan', scan),
    ]);
    expect(a.rows.length).toBeGreaterThan(0);
    expect(a.rows).toEqual(b.rows);
  });
});
