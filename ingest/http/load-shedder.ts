import type { FastifyRequest } from 'fastify';
import { OverloadedError } from '../../shared/errors/errors.js';

export interface LoadShedderOptions {
  /** Collect requests being served at once above which new ones are refused. */
  maxInFlight: number;
  /** Event-loop delay (ms) above which new collect requests are refused until it recovers. */
  maxEventLoopDelayMs: number;
  /** How often the event loop's delay is sampled (ms). */
  sampleMs?: number;
}

const IN_FLIGHT = Symbol('goalpost.inFlight');

/**
 * Refuses collect requests early and cheaply when ingest is past what it can serve well: on
 * arrival, before the body is read, a request is answered 503 with `Retry-After: 1` when too
 * many are already in flight (Kafka or Redis slow to answer) or when the event loop is late
 * (the process is out of CPU), instead of queueing until clients time out. A refused request
 * accepted nothing: shedding never touches one that was answered 202.
 *
 * The delay is sampled by a timer: each tick measures how late it ran; the latest measurement
 * stands until the next tick, so after a stall the requests queued behind it are refused and
 * the next tick on time lets requests in again.
 */
export class LoadShedder {
  private inFlight = 0;
  private delayMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private shedCount = 0;

  constructor(private readonly opts: LoadShedderOptions) {}

  start(): void {
    const every = this.opts.sampleMs ?? 20;
    let expected = performance.now() + every;
    this.timer ??= setInterval(() => {
      const now = performance.now();
      this.delayMs = Math.max(0, now - expected);
      expected = now + every;
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Counts the request in, or throws OverloadedError (answered 503 by the error handler). */
  admit(req: FastifyRequest): void {
    if (this.inFlight >= this.opts.maxInFlight) {
      this.shedCount++;
      throw new OverloadedError('ingest is at its limit of requests in flight; retry shortly', 1);
    }
    if (this.delayMs > this.opts.maxEventLoopDelayMs) {
      this.shedCount++;
      throw new OverloadedError('ingest is overloaded; retry shortly', 1);
    }
    this.inFlight++;
    (req as unknown as Record<symbol, boolean>)[IN_FLIGHT] = true;
  }

  /** Counts an admitted request out (on its response or its abort; once). */
  release(req: FastifyRequest): void {
    const r = req as unknown as Record<symbol, boolean>;
    if (r[IN_FLIGHT]) {
      r[IN_FLIGHT] = false;
      this.inFlight--;
    }
  }

  /** Requests in flight, the latest event-loop delay (ms) and requests refused so far. */
  state(): { inFlight: number; eventLoopDelayMs: number; shed: number } {
    return { inFlight: this.inFlight, eventLoopDelayMs: this.delayMs, shed: this.shedCount };
  }
}
