import { api, sitePath } from './api.js';

/**
 * The live conversion feed of one website, read from the API's SSE stream
 * (`GET …/goals/live?token=`), authorised by a short-lived live token (`POST …/live-token`),
 * never by the API key, which must not appear in a URL.
 *
 * Tokens expire and the stream ends with them, so the feed renews its token before expiry and
 * opens the next stream with `Last-Event-ID` = the last conversion it saw, before closing the
 * old one: the streams overlap, the server replays what came after that id, and entries seen
 * twice are dropped by id (stream ids increase). A stream that ends or fails is reopened the
 * same way after a short back-off. Nothing is lost as long as the gap is shorter than the
 * server's resumption window (5 minutes).
 *
 * The stream is read with fetch, not EventSource: a new EventSource cannot send `Last-Event-ID`
 * (the browser sets it only when the same EventSource reconnects to the same URL, and the URL
 * must change with each token).
 */

export interface LiveConversion {
  id: string;
  goal_id: string;
  value: number | null;
  currency: string | null;
  time: string;
  country: string | null;
  page: string | null;
}

export interface LiveHandlers {
  /**
   * Per-goal conversions of the last 30 minutes, when a stream opens: the counters start over
   * from these, plus the conversions that arrive after it.
   */
  snapshot(counts: Map<string, number>, windowMinutes: number): void;
  conversion(c: LiveConversion): void;
  status(s: {
    connected: boolean;
    expiresAt: Date | null;
    connections: number;
    error?: string;
  }): void;
}

/** SSE blocks from a byte stream: `{id, event, data}` per block; comments skipped. */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ id?: string; event: string; data: string }> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let i: number;
      while ((i = buf.indexOf('\n\n')) !== -1) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let id: string | undefined;
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          const c = line.indexOf(':');
          const field = c === -1 ? line : line.slice(0, c);
          const val = c === -1 ? '' : line.slice(c + 1).replace(/^ /, '');
          if (field === 'id') id = val;
          else if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length > 0 || id !== undefined) yield { id, event, data: data.join('\n') };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Orders Redis stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** When to renew a token that lives `ttlMs`: a third of its life early, at most 30 s early. */
export const renewLeadMs = (ttlMs: number): number => Math.min(30_000, Math.max(ttlMs / 3, 500));

export class LiveFeed {
  private lastId: string | null = null;
  private stopped = false;
  private connections = 0;
  private current: AbortController | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private retryMs = 1000;

  constructor(
    private readonly site: string,
    private readonly on: LiveHandlers,
  ) {}

  start(): void {
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    this.current?.abort();
  }

  /** Opens a stream with a fresh token, then closes the previous one once this one is live. */
  private async open(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.renewTimer);
    let token: { token: string; expires_at: string };
    try {
      token = (
        await api<{ data: { token: string; expires_at: string } }>(
          `${sitePath(this.site)}/live-token`,
          { method: 'POST' },
        )
      ).data;
    } catch (err) {
      this.failed(`live token: ${(err as Error).message}`);
      return;
    }
    const expiresAt = new Date(token.expires_at);
    const ctrl = new AbortController();
    let res: Response;
    try {
      res = await fetch(
        `${sitePath(this.site)}/goals/live?token=${encodeURIComponent(token.token)}`,
        {
          headers: this.lastId ? { 'last-event-id': this.lastId } : {},
          signal: ctrl.signal,
          cache: 'no-store',
        },
      );
    } catch (err) {
      if (!this.stopped) this.failed((err as Error).message);
      return;
    }
    if (!res.ok || !res.body) {
      this.failed(`live stream answered ${res.status}`);
      return;
    }
    if (this.stopped) {
      ctrl.abort();
      return;
    }
    const previous = this.current;
    this.current = ctrl;
    this.connections++;
    this.retryMs = 1000;
    const ttl = expiresAt.getTime() - Date.now();
    this.renewTimer = setTimeout(() => void this.open(), Math.max(ttl - renewLeadMs(ttl), 250));
    try {
      for await (const ev of sseEvents(res.body)) {
        if (ev.event === 'snapshot') {
          // Each stream's snapshot re-bases the counters (so they follow the 30-minute window);
          // a conversion published within milliseconds of it may be counted twice until the
          // next snapshot.
          this.applySnapshot(ev.data);
          previous?.abort();
          this.on.status({ connected: true, expiresAt, connections: this.connections });
        } else if (ev.event === 'conversion' && ev.id) {
          if (this.lastId !== null && compareIds(ev.id, this.lastId) <= 0) continue;
          this.lastId = ev.id;
          this.on.conversion({ id: ev.id, ...(JSON.parse(ev.data) as Omit<LiveConversion, 'id'>) });
        }
      }
    } catch {
      // aborted (renewed or stopped) or the connection broke
    }
    // This stream ended. If it is still the current one (not replaced by a renewal), reopen;
    // a previous stream still open (this one died before its snapshot) is closed first.
    if (this.current === ctrl && !this.stopped) {
      previous?.abort();
      this.on.status({ connected: false, expiresAt: null, connections: this.connections });
      clearTimeout(this.renewTimer);
      this.renewTimer = setTimeout(() => void this.open(), 200);
    }
  }

  private applySnapshot(data: string): void {
    const s = JSON.parse(data) as {
      window_minutes: number;
      goals: Array<{ goal_id: string; conversions: number }>;
    };
    this.on.snapshot(new Map(s.goals.map((g) => [g.goal_id, g.conversions])), s.window_minutes);
  }

  private failed(error: string): void {
    if (this.stopped) return;
    this.on.status({
      connected: this.current !== null && !this.current.signal.aborted,
      expiresAt: null,
      connections: this.connections,
      error,
    });
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.open(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
  }
}
