import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { TestDeps } from './deps.js';
import { ROOT } from './services.js';

const run = promisify(execFile);

/**
 * The state folders of the running PostgreSQL and Redis (`stack:up` may reuse a stack that
 * another checkout on this machine started, and only that checkout's state may stop it).
 */
export async function stackDirs(deps: TestDeps): Promise<{ postgres: string; redis: string }> {
  const { rows } = await deps.db.query<{ data_directory: string }>(
    'test.data_directory',
    'SHOW data_directory',
  );
  // The client refuses commands until connected (no offline queue); the query above is
  // sometimes faster than its connection.
  if (deps.redis.status !== 'ready') await new Promise((r) => deps.redis.once('ready', r));
  const [, redisDir] = (await deps.redis.config('GET', 'dir')) as [string, string];
  // `<stack>/pg/data` or `<stack>/redis/data` → `<stack>`.
  return { postgres: dirname(dirname(rows[0]!.data_directory)), redis: dirname(dirname(redisDir)) };
}

/**
 * Stops or starts one component of the local stack with the project's own script, in the
 * given state folder; `env` adds variables (`GOALPOST_PG_STOP_MODE=immediate` for a crash).
 */
export async function stack(
  component: 'postgres' | 'redis',
  action: 'down' | 'up',
  stackDir: string,
  env: Record<string, string> = {},
): Promise<void> {
  await run('bash', [`deploy/local/${component}.sh`, action], {
    cwd: ROOT,
    env: { ...process.env, GOALPOST_STACK_DIR: stackDir, ...env },
  });
}
