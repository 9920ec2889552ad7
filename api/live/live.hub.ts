import type { Logger } from '../../shared/logger.js';
import { liveStreamKey } from '../../shared/live/live-feed.js';
import type { Redis } from '../../shared/redis/redis.js';

/** One entry of a website's live stream: its Redis stream id and the `c` field (JSON). */
export interface LiveEntry {
  id: string;
  json: string;
}

/** Receives new entries; `null` when the feed stopped (Redis failed): the stream must end. */
type Listener = (entries: readonly LiveEntry[] | null) => void;

/** Orders Redis stream ids (`<ms>-<seq>`): negative, zero or positive like a comparator. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

const toEntries = (raw: Array<[string, string[]]>): LiveEntry[] =>
  raw.map(([id, fields]) => ({ id, json: fields[fields.indexOf('c') + 1] ?? '{}' }));

/**
 * One blocking Redis reader per website with open live streams in this process, shared by all
 * of them: a few thousand browsers on one website cost one Redis connection, not a few
 * thousand. A reader starts with its first subscriber and stops with its last.
 */
export class LiveHub {
  private readonly readers = new Map<string, WebsiteReader>();

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  /**
   * Subscribes to a website's new entries. Resolves once the reader's position is fixed:
   * every entry after `position` reaches the listener, so a caller that reads the backlog up
   * to now after this resolves misses nothing (and filters the overlap by id). The returned
   * function unsubscribes. Rejects when Redis cannot be reached.
   */
  async subscribe(
    websiteId: string,
    listener: Listener,
  ): Promise<{ position: string; unsubscribe: () => void }> {
    let reader = this.readers.get(websiteId);
    if (!reader) {
      reader = new WebsiteReader(this.redis, websiteId, this.logger, () => {
        if (this.readers.get(websiteId) === reader) this.readers.delete(websiteId);
      });
      this.readers.set(websiteId, reader);
    }
    try {
      const position = await reader.add(listener);
      return { position, unsubscribe: () => reader.remove(listener) };
    } catch (err) {
      reader.remove(listener);
      throw err;
    }
  }

  /** Open readers (for tests and metrics). */
  get readerCount(): number {
    return this.readers.size;
  }

  /** Stops every reader (at shutdown). */
  close(): void {
    for (const r of this.readers.values()) r.stop();
    this.readers.clear();
  }
}

class WebsiteReader {
  private readonly listeners = new Set<Listener>();
  private readonly key: string;
  private conn: Redis | null = null;
  private started: Promise<string> | null = null;
  private lastId = '0-0';
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    websiteId: string,
    private readonly logger: Logger,
    private readonly onStop: () => void,
  ) {
    this.key = liveStreamKey(websiteId);
  }

  /** Adds a listener; resolves to the id after which it receives every entry. */
  async add(listener: Listener): Promise<string> {
    this.listeners.add(listener);
    this.started ??= this.start();
    await this.started;
    // Entries up to `lastId` were delivered before this listener joined.
    return this.lastId;
  }

  remove(listener: Listener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.conn?.disconnect();
    this.onStop();
  }

  private async start(): Promise<string> {
    const conn = this.redis.duplicate({ lazyConnect: true });
    this.conn = conn;
    await conn.connect();
    const tail = await conn.xrevrange(this.key, '+', '-', 'COUNT', 1);
    this.lastId = tail[0]?.[0] ?? '0-0';
    void this.loop(conn);
    return this.lastId;
  }

  private async loop(conn: Redis): Promise<void> {
    while (!this.stopped) {
      let res: Array<[string, Array<[string, string[]]>]> | null;
      try {
        res = await conn.xread('COUNT', 500, 'BLOCK', 5_000, 'STREAMS', this.key, this.lastId);
      } catch (err) {
        if (!this.stopped) {
          this.logger.warn({ err: (err as Error).message }, 'live_read_failed');
          // Every stream of this website ends; clients reconnect with Last-Event-ID.
          for (const l of [...this.listeners]) l(null);
          this.listeners.clear();
          this.stop();
        }
        return;
      }
      for (const [, raw] of res ?? []) {
        const entries = toEntries(raw);
        if (entries.length === 0) continue;
        this.lastId = entries[entries.length - 1]!.id;
        for (const l of this.listeners) l(entries);
      }
    }
  }
}

/** The entries after `afterId` (exclusive), oldest first, at most `limit`. */
export async function liveBacklog(
  redis: Redis,
  websiteId: string,
  afterId: string,
  limit: number,
): Promise<LiveEntry[]> {
  return toEntries(
    await redis.xrange(liveStreamKey(websiteId), `(${afterId}`, '+', 'COUNT', limit),
  );
}
