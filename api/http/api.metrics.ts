import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** The API's Prometheus metrics, on a registry of its own (served by index.ts). */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requestSeconds = new Histogram({
    name: 'goalpost_api_request_seconds',
    help: 'Time from receiving a request until its answer was sent, by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'goalpost_api_' });
  }
}
