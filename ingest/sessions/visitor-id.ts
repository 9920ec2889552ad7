import { createHmac, randomBytes } from 'node:crypto';
import type { Redis } from '../../shared/redis/redis.js';

const DAY_MS = 86_400_000;

/**
 * The daily secret salt of cookieless visitor ids, shared by every ingest instance through
 * Redis. The salt of UTC day D is created once (SET NX: the first instance to ask wins) and
 * expires shortly after D ends, so old salts are destroyed and a visitor id cannot be linked
 * across days, not even by us. The grace period covers instances whose clocks lag slightly.
 */
export class DailySalts {
  private current: { day: string; salt: Buffer } | null = null;
  private loading: Promise<Buffer> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix = 'gp:salt:',
    private readonly graceMs = 10 * 60_000,
  ) {}

  /** The salt of the UTC day of `now`. Rejects when Redis is unreachable. */
  async get(now = Date.now()): Promise<Buffer> {
    const day = new Date(now).toISOString().slice(0, 10);
    if (this.current?.day === day) return this.current.salt;
    this.loading ??= this.load(day, now).finally(() => (this.loading = null));
    return this.loading;
  }

  private async load(day: string, now: number): Promise<Buffer> {
    const key = `${this.keyPrefix}${day}`;
    const endOfDay = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
    const ttl = endOfDay - now + this.graceMs;
    await this.redis.set(key, randomBytes(32).toString('base64'), 'PX', ttl, 'NX');
    const stored = await this.redis.get(key);
    if (stored === null) throw new Error(`daily salt ${key} vanished`);
    const salt = Buffer.from(stored, 'base64');
    this.current = { day, salt };
    return salt;
  }
}

/**
 * A cookieless visitor id: HMAC-SHA256 keyed with the day's secret salt over website, IP and
 * User-Agent, 22 base64url characters (132 bits). Neither the IP nor the UA can be recovered,
 * and the same person gets an unrelated id the next day.
 */
export function cookielessVisitorId(
  salt: Buffer,
  websiteId: string,
  ip: string,
  userAgent: string,
): string {
  return createHmac('sha256', salt)
    .update(`${websiteId}\u0000${ip}\u0000${userAgent}`)
    .digest('base64url')
    .slice(0, 22);
}
