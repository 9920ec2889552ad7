import { randomUUID } from 'node:crypto';
import type { SessionRequest, SessionResult, SessionStore } from './session.store.js';

interface Waiting {
  items: readonly SessionRequest[];
  resolve: (r: AssignedSessions) => void;
  reject: (err: unknown) => void;
}

/** A request's session results, and the token its event_id claims were made under. */
export interface AssignedSessions {
  results: SessionResult[];
  /** Pass to `SessionStore.release` for this request's claims. */
  token: string;
}

/**
 * Merges the session assignments of concurrent requests into one `SessionStore.assign` call
 * (one Lua script run in Redis) per turn of the event loop. Under load many requests are
 * parsed in the same turn; each used to cost a script call of its own, whose fixed cost
 * (ioredis command, Redis script invocation) was a large share of Redis's and ingest's CPU.
 *
 * What the merge keeps: the script handles events in order, and requests are queued in
 * arrival order, so a visitor's events are assigned in the order they arrived, as before. The
 * merged call shares one claim token; a request still releases only its own claim keys (a
 * compare-and-delete on that token), and an event_id claimed by an earlier request of the same
 * call is `pending` for a later one, as it was across separate calls. If the call fails, every
 * request in it fails (→ 503), as each would have on its own.
 */
export class SessionBatcher {
  private queue: Waiting[] = [];
  private queuedEvents = 0;
  private scheduled = false;

  constructor(
    private readonly store: SessionStore,
    /** Events per script call at most: one call blocks Redis while it runs. */
    private readonly maxEvents = 500,
  ) {}

  assign(items: readonly SessionRequest[]): Promise<AssignedSessions> {
    return new Promise((resolve, reject) => {
      if (this.queuedEvents + items.length > this.maxEvents) this.flush();
      this.queue.push({ items, resolve, reject });
      this.queuedEvents += items.length;
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks of this turn: requests read in the same turn share a call.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.queuedEvents = 0;
    const token = randomUUID();
    const all = batch.length === 1 ? batch[0]!.items : batch.flatMap((w) => w.items);
    this.store.assign(all, token).then(
      (results) => {
        let at = 0;
        for (const w of batch) {
          w.resolve({ results: results.slice(at, at + w.items.length), token });
          at += w.items.length;
        }
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
