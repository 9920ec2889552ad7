/**
 * Fixed-window event counters per key (client IP, website), in process memory.
 *
 * Rate limits are per ingest instance on purpose: a shared Redis counter would add a round trip
 * to every request on the hottest path, and the limits exist to stop floods, not to meter
 * exactly. With N instances behind a balancer a client can reach up to N times the configured
 * limit; size the setting per instance. The whole map is dropped at each window boundary, so
 * memory is bounded by the keys seen in one window.
 */
export class RateWindow {
  private counts = new Map<string, number>();
  private windowStart = 0;

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds `n` events for `key` and returns the key's total in the current window. */
  hit(key: string, n: number): number {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.counts = new Map();
      this.windowStart = t - (t % this.windowMs);
    }
    const total = (this.counts.get(key) ?? 0) + n;
    this.counts.set(key, total);
    return total;
  }
}
