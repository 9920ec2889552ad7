import { execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { createDb } from '../../shared/db/pool.js';
import { startMetricsServer } from '../../shared/http/metrics-server.js';
import { deleteTestTopics, openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { freePort, ROOT, spawnService, stopGracefully } from '../helpers/services.js';
import { testConfig, uniqueSuffix } from '../helpers/test-env.js';

const run = promisify(execFile);

/**
 * The probes the deployment files use (deploy/README.md, "Container image"): the processor's
 * /health and /ready on its metrics listener (ready once it joined its consumer group, checked
 * on the real process from the build), and the API's /ready (the database answers).
 */
describe('health and readiness routes of the deployment probes', () => {
  let deps: TestDeps;
  const suffix = uniqueSuffix();
  const topics = [`test.health.${suffix}`, `test.health-dlq.${suffix}`];
  let processor: ChildProcess | undefined;

  beforeAll(() => {
    deps = openTestDeps('health-routes');
  });
  afterAll(async () => {
    if (processor) await stopGracefully(processor);
    await deleteTestTopics(deps.kafka, topics).catch(() => undefined);
    await deps.close();
  });

  it('metrics listener: /ready follows its readiness, /health is up, /metrics unchanged', async () => {
    let ready = false;
    const registry = new Registry();
    const server = await startMetricsServer(
      registry,
      { host: '127.0.0.1', port: 0, ready: () => ready },
      deps.logger,
    );
    const base = server.url.replace(/\/metrics$/, '');
    try {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const notReady = await fetch(`${base}/ready`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ ok: false });
      ready = true;
      expect((await fetch(`${base}/ready`)).status).toBe(200);
      expect((await fetch(server.url)).status).toBe(200);
    } finally {
      await server.close();
    }
    // Without a readiness callback (ingest, api): only /metrics, as before.
    const plain = await startMetricsServer(registry, { host: '127.0.0.1', port: 0 }, deps.logger);
    try {
      expect((await fetch(plain.url.replace(/\/metrics$/, '/health'))).status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('the processor process answers /health, and /ready once in its consumer group', async () => {
    const port = await freePort();
    processor = spawnService('processor', `health-${suffix}`, {
      METRICS_PORT: String(port),
      KAFKA_EVENTS_TOPIC: topics[0]!,
      KAFKA_DLQ_TOPIC: topics[1]!,
      KAFKA_CONSUMER_GROUP: `test-health-${suffix}`,
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    });
    const status = (path: string) =>
      fetch(`http://127.0.0.1:${port}${path}`).then(
        (r) => r.status,
        () => 0,
      );
    await waitFor(
      'processor /ready',
      async () => ((await status('/ready')) === 200 ? true : undefined),
      { timeoutMs: 45_000, intervalMs: 200 },
    );
    expect(await status('/health')).toBe(200);

    // The image's HEALTHCHECK script finds the processor (same working directory), asks its
    // metrics port, and fails when that is not where the processor answers.
    const check = (metricsPort: number) =>
      run(process.execPath, [join(ROOT, 'dist/scripts/container-health.js')], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', METRICS_PORT: String(metricsPort) },
      });
    await expect(check(port)).resolves.toBeDefined();
    await expect(check(await freePort())).rejects.toMatchObject({ code: 1 });
  });

  it('the API is ready while its database answers, and not once it cannot', async () => {
    // A pool of its own, so that it can be taken away from the running app.
    const db = createDb(
      { url: testConfig.DATABASE_URL, max: 2, applicationName: 'goalpost-test-ready' },
      deps.logger,
    );
    const api = await buildApiApp({
      db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: null,
    });
    try {
      const res = await api.inject({ url: '/ready' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ok: true });
      await db.end(); // every query now fails, as when the database is unreachable
      const down = await api.inject({ url: '/ready' });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({ ok: false });
      expect((await api.inject({ url: '/health' })).statusCode).toBe(200);
    } finally {
      await api.close();
      await db.end().catch(() => undefined);
    }
  });
});
