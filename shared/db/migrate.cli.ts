/** `npm run migrate`: applies pending migrations to DATABASE_URL. */
import { loadConfigOrExit } from '../config/load-config.js';
import { createLogger } from '../logger.js';
import { migrate, MigrateConfigSchema } from './migrate.js';
import { createDb } from './pool.js';

const config = loadConfigOrExit('migrate', MigrateConfigSchema);
const logger = createLogger('migrate', config.LOG_LEVEL);
const db = createDb(
  { url: config.DATABASE_URL, max: 1, applicationName: 'goalpost-migrate' },
  logger,
);
try {
  const applied = await migrate(db, logger);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'up to date\n');
} finally {
  await db.end();
}
