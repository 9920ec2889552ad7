import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LoadShedder } from './load-shedder.js';

// Fine below 50 ms, where the latency target (p99 < 25 ms) is judged.
const LATENCY_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** The ingest service's Prometheus metrics, on a registry of its own (one per app). */
export class IngestMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'goalpost_ingest_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'goalpost_ingest_events_total',
    help: 'Events by outcome (accepted, duplicate, refused) and refusal reason',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'goalpost_ingest_request_seconds',
    help: 'Time from receiving a request until its answer was sent, by route',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly produceSeconds = new Histogram({
    name: 'goalpost_ingest_produce_seconds',
    help: 'Time from handing a request’s events to the producer until Kafka acknowledged them',
    labelNames: ['result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly shedders = new Set<LoadShedder>();

  constructor() {
    const shedders = this.shedders;
    new Gauge({
      name: 'goalpost_ingest_requests_in_flight',
      help: 'Collect requests being served (load shedding refuses new ones above its limit)',
      registers: [this.registry],
      collect() {
        let n = 0;
        for (const s of shedders) n += s.state().inFlight;
        this.set(n);
      },
    });
    new Gauge({
      name: 'goalpost_ingest_event_loop_delay_seconds',
      help: 'How late the event loop ran its latest 20 ms timer (load shedding compares this)',
      registers: [this.registry],
      collect() {
        let ms = 0;
        for (const s of shedders) ms = Math.max(ms, s.state().eventLoopDelayMs);
        this.set(ms / 1000);
      },
    });
    new Gauge({
      name: 'goalpost_ingest_requests_shed',
      help: 'Collect requests refused with 503 by load shedding since start (not logged one by one)',
      registers: [this.registry],
      collect() {
        let n = 0;
        for (const s of shedders) n += s.state().shed;
        this.set(n);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'goalpost_ingest_' });
  }

  /**
   * Reports a shedder's requests in flight and event-loop delay (summed, and the largest, over
   * the apps sharing these metrics) until the returned function is called.
   */
  observeShedder(shedder: LoadShedder): () => void {
    this.shedders.add(shedder);
    return () => this.shedders.delete(shedder);
  }

  refused(reason: string, n: number): void {
    this.events.inc({ outcome: 'refused', reason }, n);
  }
}
