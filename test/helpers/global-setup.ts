import { migrate } from '../../shared/db/migrate.js';
import { createDb } from '../../shared/db/pool.js';
import { createLogger } from '../../shared/logger.js';
import { testConfig } from './test-env.js';

/** Brings the test database's schema up to date once per run. */
export default async function setup(): Promise<void> {
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
