import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The processor's Prometheus metrics, on a registry of its own (served by index.ts). */
export class ProcessorMetrics {
  readonly registry = new Registry();
  readonly eventsConsumed = new Counter({
    name: 'goalpost_processor_events_consumed_total',
    help: 'Kafka messages whose sub-batch committed (replays and dead letters included)',
    registers: [this.registry],
  });
  readonly conversionsWritten = new Counter({
    name: 'goalpost_processor_conversions_written_total',
    help: 'Conversions newly written by the live path',
    registers: [this.registry],
  });
  readonly transactionSeconds = new Histogram({
    name: 'goalpost_processor_transaction_seconds',
    help: 'Time of one sub-batch write: connection checkout, statements and commit',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly lag = new Gauge({
    name: 'goalpost_processor_consumer_lag',
    help: 'Messages behind the high watermark per partition, after the last commit',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });
  readonly rewinds = new Counter({
    name: 'goalpost_processor_rewound_ranges_total',
    help: 'Sub-batches read again because the database restarted before their writes were flushed',
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: 'goalpost_processor_dead_letters_total',
    help: 'Messages sent to the dead-letter topic, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'goalpost_processor_' });
  }
}
