import { Type } from '@sinclair/typebox';
import { DatabaseEnv } from '../../shared/config/env.js';
import { loadConfig } from '../../shared/config/load-config.js';
import { migrate } from '../../shared/db/migrate.js';
import { createDb, type Db } from '../../shared/db/pool.js';
import { createLogger, type Logger } from '../../shared/logger.js';

const CliConfigSchema = Type.Object({
  DATABASE_URL: DatabaseEnv.DATABASE_URL,
  CLI_LOG_LEVEL: Type.String({ default: 'warn' }),
});

/** A small pool for one CLI command, schema brought up to date first. */
export async function withCliDb<T>(fn: (db: Db, logger: Logger) => Promise<T>): Promise<T> {
  const config = loadConfig(CliConfigSchema);
  const logger = createLogger('cli', config.CLI_LOG_LEVEL);
  const db = createDb(
    { url: config.DATABASE_URL, max: 2, applicationName: 'goalpost-cli' },
    logger,
  );
  try {
    await migrate(db, logger);
    return await fn(db, logger);
  } finally {
    await db.end();
  }
}

/** Writes a plain-text table (no dependencies; columns padded to the widest cell). */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
