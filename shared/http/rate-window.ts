import { isIPv6 } from 'node:net';

/**
 * Fixed-window counters per key (client address, website, API key), in process memory.
 *
 * Limits are per instance on purpose: a shared Redis counter would add a round trip to every
 * request on the hottest path, and the limits exist to stop floods, not to meter exactly. With
 * N instances behind a balancer a client can reach up to N times a limit; size settings per
 * instance. The whole map is dropped at each window boundary, and it holds at most
 * `maxKeys` keys: once full, keys it has not seen in this window share one overflow counter,
 * so a flood of new addresses can neither grow memory nor escape the limit (they are limited
 * together, strictly).
 */
export class RateWindow {
  private counts = new Map<string, number>();
  private windowStart = 0;
  private overflow = 0;

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Adds `n` events for `key` and returns the key's total in the current window. */
  hit(key: string, n: number): number {
    this.roll();
    const current = this.counts.get(key);
    if (current === undefined && this.counts.size >= this.maxKeys) {
      this.overflow += n;
      return this.overflow;
    }
    const total = (current ?? 0) + n;
    this.counts.set(key, total);
    return total;
  }

  /** The key's total in the current window, without adding to it. */
  peek(key: string): number {
    this.roll();
    return this.counts.get(key) ?? (this.counts.size >= this.maxKeys ? this.overflow : 0);
  }

  /** Seconds until the current window ends (for `Retry-After`). */
  secondsLeft(): number {
    return Math.max(1, Math.ceil((this.windowStart + this.windowMs - this.now()) / 1000));
  }

  private roll(): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.counts = new Map();
      this.overflow = 0;
      this.windowStart = t - (t % this.windowMs);
    }
  }
}

/**
 * The rate-limit bucket of a client address: IPv4 addresses as they are, IPv6 addresses by
 * their /64 (one subscriber usually holds a whole /64, so per-address buckets would give one
 * client 2^64 budgets). IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function clientBucket(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const lower = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  const zone = lower.indexOf('%');
  const addr = zone === -1 ? lower : lower.slice(0, zone);
  const [head = '', tail = ''] = addr.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = addr.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
