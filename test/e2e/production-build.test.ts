import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS, type Service } from '../../scripts/services.js';
import { deleteTestTopics, openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { freePort, ROOT, stopGracefully } from '../helpers/services.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';

const run = promisify(execFile);

/**
 * The production build (`npm run build`, which `npm test` runs first) is complete on its own:
 * copied with package.json and the lockfile into an empty folder and installed with
 * `npm ci --omit=dev` (no TypeScript, no tsx, no test tools), the migrations, every service
 * and each CLI command run from it with plain `node`.
 */
describe('the production build runs without dev dependencies', () => {
  let deps: TestDeps;
  let dir: string;
  let dbName: string;
  let dbUrl: string;
  const suffix = uniqueSuffix();
  const topics = [`test.build.${suffix}`, `test.build-dlq.${suffix}`];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    deps = openTestDeps('production-build');
    dir = await mkdtemp(join(tmpdir(), 'goalpost-build-'));
    for (const f of ['package.json', 'package-lock.json', 'dist']) {
      await cp(join(ROOT, f), join(dir, f), { recursive: true });
    }
    await run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: dir, timeout: 60_000 },
    );
    dbName = `goalpost_build_${suffix.replace(/-/g, '_')}`;
    const admin = new pg.Client({ connectionString: testConfig.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(testConfig.DATABASE_URL);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
  }, 90_000);

  afterAll(async () => {
    await Promise.all(children.map(stopGracefully));
    await deleteTestTopics(deps.kafka, topics).catch(() => undefined);
    const admin = new pg.Client({ connectionString: testConfig.DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
    await deps.close();
  });

  const env = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '',
    DATABASE_URL: dbUrl,
    REDIS_URL: testConfig.REDIS_URL,
    KAFKA_BROKERS: testConfig.KAFKA_BROKERS,
    KAFKA_EVENTS_TOPIC: topics[0]!,
    KAFKA_DLQ_TOPIC: topics[1]!,
    KAFKA_CONSUMER_GROUP: `test-build-${suffix}`,
    BULLMQ_PREFIX: `test-build-${suffix}`,
    METRICS_PORT: '0',
    ...extra,
  });
  const node = (args: string[], extra?: Record<string, string>) =>
    run(process.execPath, args, { cwd: dir, env: env(extra), timeout: 30_000 });

  it('migrates, runs every service and every CLI command', { timeout: 90_000 }, async () => {
    const migrated = await node(['dist/shared/db/migrate.cli.js']);
    expect(migrated.stdout).toMatch(/^applied: 001_init\.sql, /m);

    const [ingestPort, apiPort] = [await freePort(), await freePort()];
    const start = (service: Service, extra: Record<string, string>) => {
      const child = spawn(
        process.execPath,
        [...SERVICE_NODE_FLAGS[service], `dist/${service}/index.js`],
        { cwd: dir, env: env({ LOG_LEVEL: 'info', ...extra }), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      children.push(child);
      return { child, log: () => out };
    };
    const ingest = start('ingest', { INGEST_PORT: String(ingestPort) });
    const processor = start('processor', {});
    const api = start('api', { API_PORT: String(apiPort) });
    for (const [name, s] of [
      ['ingest', ingest],
      ['processor', processor],
      ['api', api],
    ] as const) {
      await waitFor(`${name} started from the build`, async () => {
        if (s.child.exitCode !== null) throw new Error(`${name} exited: ${s.log()}`);
        return /"msg":"(ingest_listening|processor_consuming|api_listening)"/.test(s.log())
          ? true
          : undefined;
      });
    }
    expect((await fetch(`http://127.0.0.1:${ingestPort}/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${apiPort}/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ingestPort}/script.js`)).status).toBe(200);

    const site = await node([
      'dist/api/cli/main.js',
      'sites',
      'create',
      '--name',
      'Built',
      '--domain',
      'built.example',
    ]);
    expect(site.stdout).toMatch(/^created website site_[0-9a-z]{10} /);
    expect((await node(['dist/api/cli/main.js', 'sites', 'list'])).stdout).toContain(
      'built.example',
    );
    const key = await node(['dist/api/cli/main.js', 'keys', 'create', '--name', 'built']);
    expect(key.stdout).toMatch(/^created manage key key_/);
    expect((await node(['dist/api/cli/main.js', 'keys', 'list'])).stdout).toContain('built');
    const keyId = /key_[0-9a-z]+/.exec(key.stdout)![0];
    expect((await node(['dist/api/cli/main.js', 'keys', 'revoke', keyId])).stdout).toBe(
      `revoked ${keyId}\n`,
    );
    const listed = (await node(['dist/api/cli/main.js', 'keys', 'list'])).stdout;
    // The REVOKED column (last) holds the revocation time.
    expect(listed.split('\n').find((l) => l.includes(keyId))).toMatch(/\dZ\s*$/);
    const dlq = await node(['dist/processor/cli/main.js', 'dlq', 'inspect', '--limit', '1']);
    expect(dlq.stderr).toContain('0 dead letter(s) shown');
    const replay = await node(['dist/processor/cli/main.js', 'dlq', 'replay', '--limit', '1']);
    expect(replay.stdout).toContain('replayed 0 dead letter(s)');

    // Every service stops cleanly on SIGTERM.
    for (const s of [ingest, processor, api]) {
      const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)));
      s.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
