import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceArgs, type Service } from '../../scripts/services.js';
import { testConfig } from './test-env.js';

export { freePort } from '../../scripts/services.js';
export type { Service };

/** The project root (where `npm start` runs the services from). */
export const ROOT = new URL('../../', import.meta.url).pathname;

/** Where a spawned service's output goes: $TMPDIR/goalpost-<service>-<name>.log. */
export const serviceLogPath = (service: Service, name: string) =>
  join(tmpdir(), `goalpost-${service}-${name}.log`);

/**
 * One service as a child process, as `npm start` and production run it (`node` on its entry in
 * dist/, which `npm test` builds first), pointed at the test stack; `env` adds or overrides
 * variables. Output is appended to {@link serviceLogPath} for diagnosing a failed run.
 */
export function spawnService(
  service: Service,
  name: string,
  env: Record<string, string>,
): ChildProcess {
  const args = serviceArgs(ROOT, service);
  if (!existsSync(args[args.length - 1]!)) {
    throw new Error(`${args[args.length - 1]} is missing: run npm run build (npm test does)`);
  }
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: testConfig.DATABASE_URL,
      REDIS_URL: testConfig.REDIS_URL,
      KAFKA_BROKERS: testConfig.KAFKA_BROKERS,
      LOG_LEVEL: 'warn',
      // Several services of a test run side by side: each metrics listener on a free port.
      METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(serviceLogPath(service, name), { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

export async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
