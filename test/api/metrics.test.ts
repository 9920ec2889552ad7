import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { ApiMetrics } from '../../api/http/api.metrics.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { startMetricsServer } from '../../shared/http/metrics-server.js';
import { openTestDeps, type TestDeps } from '../helpers/deps.js';

const KEY = `spk_selfhosted_${'3d'.repeat(16)}`;

/** The API's metrics: request duration by route and status, on their own listener only. */
describe('API metrics', () => {
  let deps: TestDeps;
  let app: HttpApp;
  const metrics = new ApiMetrics();

  beforeAll(async () => {
    deps = openTestDeps('api-metrics');
    app = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
      metrics,
    });
  });

  afterAll(async () => {
    await app.close();
    await deps.close();
  });

  it('times every request by route and status, served apart from the public port', async () => {
    await app.inject({ url: '/api/websites', headers: { authorization: `Bearer ${KEY}` } });
    await app.inject({ url: '/api/websites' });
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(404);
    const server = await startMetricsServer(
      metrics.registry,
      { host: '127.0.0.1', port: 0 },
      deps.logger,
    );
    try {
      const text = await (await fetch(server.url)).text();
      expect(text).toContain(
        'goalpost_api_request_seconds_count{method="GET",route="/api/websites",status="200"} 1',
      );
      expect(text).toContain(
        'goalpost_api_request_seconds_count{method="GET",route="/api/websites",status="401"} 1',
      );
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
