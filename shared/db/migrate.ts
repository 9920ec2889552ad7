import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { DatabaseEnv, LogEnv } from '../config/env.js';
import type { Logger } from '../logger.js';
import { checkStoredGoalPatterns } from './goal-pattern-check.js';
import { goalRepository } from './repositories/goal.repository.js';
import { tagged, type Db, type Queryable } from './pool.js';

/** What `npm run migrate` (migrate.cli.ts, the container's `migrate` role) reads. */
export const MigrateConfigSchema = Type.Object({ ...LogEnv, ...DatabaseEnv });

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// Any constant: serializes concurrent runners (several services starting at once).
const MIGRATION_LOCK_ID = 7_300_001;

/** A migration file that changed after it was applied: the process must not start. */
export class MigrationChangedError extends Error {
  constructor(readonly file: string) {
    super(
      `migration ${file} was changed after it was applied; a landed migration is never edited ` +
        '(restore it and put the change in a new migration)',
    );
    this.name = 'MigrationChangedError';
  }
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Applies the numbered `NNN_name.sql` files not yet recorded in `schema_migrations`, each in
 * its own transaction, in order, recording each file's SHA-256. A migration already applied
 * whose file no longer has the recorded checksum stops the run with
 * {@link MigrationChangedError} naming the file, before anything new is applied. Migrations
 * applied before checksums were recorded get today's file's checksum. Safe to run from every
 * service at start-up. After the files, the goal patterns stored before the current matching
 * engine are checked ({@link checkStoredGoalPatterns}): a step SQL cannot do, run under the
 * same lock.
 */
export async function migrate(db: Db, logger: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const names = (await readdir(dir)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const files = await Promise.all(
    names.map(async (file) => ({
      file,
      version: Number(file.slice(0, 3)),
      sql: await readFile(join(dir, file), 'utf8'),
    })),
  );
  // The usual start: nothing to do, found without the lock. A session-level advisory lock does
  // not survive PgBouncer's transaction mode (deploy/README.md), so services starting behind
  // it after the migrations ran take none.
  if (await upToDate(tagged(db.pool, logger), files)) return [];
  const applied: string[] = [];
  const client = await db.pool.connect();
  let current = '';
  // A migration may name what an operator must look at (RAISE NOTICE): it goes to the log.
  // (Notices PostgreSQL raises itself, such as "… does not exist, skipping", do not.)
  const onNotice = (n: { message?: string; where?: string }) => {
    if (n.where?.includes('RAISE')) {
      logger.warn({ migration: current, notice: n.message }, 'migration_notice');
    }
  };
  client.on('notice', onNotice);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    await client.query('ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text');
    const done = new Map(
      (
        await client.query<{ version: number; checksum: string | null }>(
          'SELECT version, checksum FROM schema_migrations',
        )
      ).rows.map((r) => [r.version, r.checksum]),
    );
    const pending: Array<{ file: string; version: number; sql: string }> = [];
    for (const { file, version, sql } of files) {
      if (!done.has(version)) {
        pending.push({ file, version, sql });
        continue;
      }
      const recorded = done.get(version);
      if (recorded === null) {
        await client.query('UPDATE schema_migrations SET checksum = $2 WHERE version = $1', [
          version,
          sha256(sql),
        ]);
      } else if (recorded !== sha256(sql)) {
        throw new MigrationChangedError(file);
      }
    }
    for (const { file, version, sql } of pending) {
      current = file;
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await client.query(
          'INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
          [version, file, sha256(sql)],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      logger.info({ migration: file }, 'migration_applied');
      applied.push(file);
    }
    if (done.has(10) || applied.some((f) => f.startsWith('010_'))) {
      await checkStoredGoalPatterns(tagged(client, logger), logger);
    }
  } finally {
    client.off('notice', onNotice);
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
  return applied;
}

/**
 * Whether every migration file is recorded with its checksum and no stored goal waits for the
 * pattern check: read without the lock (a concurrent run can only make it more so).
 */
async function upToDate(
  q: Queryable,
  files: ReadonlyArray<{ version: number; sql: string }>,
): Promise<boolean> {
  const { rows: exists } = await q.query<{ ok: boolean }>(
    'migrate.has_table',
    `SELECT to_regclass('schema_migrations') IS NOT NULL
        AND EXISTS (SELECT 1 FROM information_schema.columns
                     WHERE table_name = 'schema_migrations' AND column_name = 'checksum') AS ok`,
  );
  if (!exists[0]!.ok) return false;
  const { rows } = await q.query<{ version: number; checksum: string | null }>(
    'migrate.recorded',
    'SELECT version, checksum FROM schema_migrations',
  );
  const recorded = new Map(rows.map((r) => [r.version, r.checksum]));
  if (!files.every((f) => recorded.get(f.version) === sha256(f.sql))) return false;
  return !(recorded.has(10) && (await goalRepository.anyPatternUnchecked(q)));
}

/**
 * {@link migrate} at a service's start-up: a failed or changed migration is logged (naming the
 * file) and stops the process instead of starting it on an unknown schema.
 */
export async function migrateOrExit(db: Db, logger: Logger): Promise<void> {
  try {
    await migrate(db, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'migration_failed');
    await db.end().catch(() => undefined);
    process.exit(1);
  }
}
