/**
 * Development supervisor: migrates once, then runs the three services as child processes with
 * prefixed output. SIGINT/SIGTERM are forwarded; it exits when all children have stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadConfigOrExit } from '../shared/config/load-config.js';
import { migrateOrExit } from '../shared/db/migrate.js';
import { createDb } from '../shared/db/pool.js';
import { createLogger } from '../shared/logger.js';
import { REPO_ROOT, SERVICES, serviceArgs } from './services.js';
import { formatLogLine } from './log-format.js';
import { Type } from '@sinclair/typebox';
import { DatabaseEnv, LogEnv } from '../shared/config/env.js';

const config = loadConfigOrExit(
  'start',
  Type.Object({
    ...LogEnv,
    ...DatabaseEnv,
    INGEST_PORT: Type.Integer({ default: 3100 }),
    API_PORT: Type.Integer({ default: 3200 }),
    INGEST_HOST: Type.String({ default: '127.0.0.1' }),
    API_HOST: Type.String({ default: '127.0.0.1' }),
    NODE_ENV: Type.String({ default: 'development' }),
  }),
);
const logger = createLogger('start', config.LOG_LEVEL);
const db = createDb(
  { url: config.DATABASE_URL, max: 1, applicationName: 'goalpost-migrate' },
  logger,
);
await migrateOrExit(db, logger);
await db.end();

const services = SERVICES;
// In a terminal the services' JSON lines are shown readably; piped or in production they stay
// JSON, one per line, for a log collector.
const readable = process.stdout.isTTY && config.NODE_ENV !== 'production';
const show = (line: string) => (readable ? formatLogLine(line, true) : line);
// Every service runs from the build with its own Node flags (scripts/services.ts), as the
// benchmarks measure them and production runs them (npm start builds first, dashboard included).
const children: ChildProcess[] = services.map((name) => {
  // Each service gets its own process group: Ctrl-C reaches only this supervisor, which
  // sends one SIGTERM to each service (a second signal would make a service force-exit).
  const child = spawn(process.execPath, serviceArgs(REPO_ROOT, name), {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const prefix = `${name.padEnd(9)}| `;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(prefix + show(line) + '\n');
    });
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`${prefix}exited (${signal ?? code})\n`);
    if (!stopping) stopAll(); // one service dying takes the others down: no half-running stack
  });
  return child;
});

let stopping = false;
function stopAll(): void {
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

process.stdout.write(
  `\nGoalpost is starting:\n  ingest     http://${config.INGEST_HOST}:${config.INGEST_PORT}\n` +
    `  api        http://${config.API_HOST}:${config.API_PORT}\n` +
    `  dashboard  http://${config.API_HOST}:${config.API_PORT}/app/\n  Ctrl-C stops all services.\n\n`,
);
await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
const failed = children.some((c) => c.exitCode !== 0 && c.signalCode !== 'SIGTERM');
process.exit(stopping && !failed ? 0 : 1);
