import pg from 'pg';
import { migrate } from '../../shared/db/migrate.js';
import { createDb } from '../../shared/db/pool.js';
import { createLogger } from '../../shared/logger.js';
import { testConfig } from './test-env.js';

/**
 * Gives every run a fresh test database (this checkout's, see test-env.ts, unless
 * DATABASE_URL names another), migrated from today's files: no state survives from an earlier
 * run, and a migration edited before it landed is applied as it is now.
 */
export default async function setup(): Promise<void> {
  const url = new URL(testConfig.DATABASE_URL);
  const name = url.pathname.slice(1);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unexpected test database name ${name}`);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const logger = createLogger('test', 'warn');
  const db = createDb(
    { url: testConfig.DATABASE_URL, max: 2, applicationName: 'goalpost-test-setup' },
    logger,
  );
  try {
    await migrate(db, logger);
  } finally {
    await db.end();
  }
}
