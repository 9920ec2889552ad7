import type { Consumer } from 'kafkajs';
import type { Queryable } from '../../shared/db/pool.js';
import type { WalPosition } from '../../shared/db/wal-position.js';
import { walRepository } from '../../shared/db/repositories/wal.repository.js';
import type { Logger } from '../../shared/logger.js';

/** One sub-batch whose offset waits for its transactions to become durable. */
export interface WrittenRange {
  /** The offset of its first message: where reading starts again if its writes were lost. */
  from: string;
  /** The offset to commit (the one after its last message). */
  next: string;
  /** Where each of its transactions committed; empty when nothing was written. */
  wal: WalPosition[];
}

interface Pending extends WrittenRange {
  durable: boolean;
  onCommitted: () => void;
}

interface PartitionQueue {
  topic: string;
  partition: number;
  /** Bumped by each rewind: ranges of batches read before it are refused. */
  generation: number;
  /** In offset order; a durable prefix is committed, the rest waits. */
  pending: Pending[];
  committing: boolean;
}

/**
 * Commits Kafka offsets only once the database has made durable the transactions that wrote
 * their messages.
 *
 * The processor's transactions commit with `synchronous_commit = off` (Db.txAsyncCommit): the
 * COMMIT returns before the WAL is flushed, so it never waits for the disk, and the rows are
 * visible at once. Each sub-batch's range of offsets is queued with the WAL positions of its
 * transactions; the offset after a range is committed once every range before it is and
 * PostgreSQL's flush position, read in the same server life, has passed its positions (the WAL
 * writer flushes every `wal_writer_delay`). Offsets of one partition are committed in order.
 *
 * When the server restarted or crashed since a waiting range was written (its life differs
 * from the current one), that range may be lost: comparing LSNs across lives would be wrong,
 * since recovery goes on from the last record on disk and soon passes a lost commit's LSN. The
 * partition is then rewound: its waiting ranges are dropped, the consumer seeks back to the
 * first of them, and ranges from batches read before the seek are refused. Kafka delivers
 * those messages again and the idempotent writes (events unique on (event_id, event_time),
 * sessions and conversions derived from inserted rows only) store what was lost, once.
 */
export class DurableCommits {
  private readonly partitions = new Map<string, PartitionQueue>();
  private polling = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly deps: {
      db: Queryable;
      consumer: Pick<Consumer, 'commitOffsets' | 'seek'>;
      logger: Logger;
      /** Called with the number of ranges dropped by each rewind (a metric). */
      onRewind?: (ranges: number) => void;
    },
    /** How often the flush position is read while offsets wait (the WAL writer's pace). */
    private readonly pollMs = 10,
  ) {}

  /**
   * The partition's current generation: read when a batch starts, passed back with each of
   * its ranges, so that a rewind during the batch refuses the rest of it.
   */
  generation(topic: string, partition: number): number {
    return this.queue(topic, partition).generation;
  }

  /**
   * Commits `range.next` once its writes are durable, after every range queued before it for
   * the partition; `onCommitted` then runs. Ranges of a batch read before a rewind (an older
   * `generation`) are dropped: the partition is read again from before them.
   */
  commitWhenDurable(
    topic: string,
    partition: number,
    generation: number,
    range: WrittenRange,
    onCommitted: () => void,
  ): void {
    const q = this.queue(topic, partition);
    if (generation !== q.generation) return;
    q.pending.push({ ...range, durable: range.wal.length === 0, onCommitted });
    this.settle(q, null);
    if (!this.polling && this.waiting()) void this.poll();
  }

  /**
   * Waits until every queued offset is committed (or skipped), at most `timeoutMs`: before
   * leaving the group. Offsets still waiting then stay uncommitted, which is always safe.
   */
  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.empty()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private queue(topic: string, partition: number): PartitionQueue {
    const key = `${topic}\u0000${partition}`;
    let q = this.partitions.get(key);
    if (!q) {
      q = { topic, partition, generation: 0, pending: [], committing: false };
      this.partitions.set(key, q);
    }
    return q;
  }

  private empty(): boolean {
    for (const q of this.partitions.values()) if (q.pending.length > 0) return false;
    return true;
  }

  /** Whether some range still needs the flush position. */
  private waiting(): boolean {
    for (const q of this.partitions.values()) if (q.pending.some((p) => !p.durable)) return true;
    return false;
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      while (this.waiting()) {
        let now: WalPosition | null = null;
        try {
          now = await walRepository.flushed(this.deps.db);
        } catch (err) {
          // The database is away: nothing can be confirmed; keep waiting (offsets stay
          // uncommitted, which is always safe), more slowly.
          this.deps.logger.warn({ err: (err as Error).message }, 'wal_flush_read_failed');
          await new Promise((r) => setTimeout(r, 500));
        }
        if (now) for (const q of this.partitions.values()) this.settle(q, now);
        if (this.waiting()) await new Promise((r) => setTimeout(r, this.pollMs));
      }
    } finally {
      this.polling = false;
    }
  }

  /**
   * Marks what `now` shows durable, rewinds the partition when a waiting range was written in
   * an earlier server life, and commits the durable prefix.
   */
  private settle(q: PartitionQueue, now: WalPosition | null): void {
    if (now) {
      for (const p of q.pending) {
        if (!p.durable && p.wal.every((w) => w.server === now.server && w.lsn <= now.lsn)) {
          p.durable = true;
        }
      }
      if (q.pending.some((p) => !p.durable && p.wal.some((w) => w.server !== now.server))) {
        this.rewind(q);
      }
    }
    this.commitPrefix(q);
  }

  /** Drops the partition's waiting ranges from the first one not durable, and reads it again. */
  private rewind(q: PartitionQueue): void {
    const at = q.pending.findIndex((p) => !p.durable);
    const dropped = q.pending.splice(at);
    q.generation++;
    const from = dropped[0]!.from;
    this.deps.logger.warn(
      { topic: q.topic, partition: q.partition, from, ranges: dropped.length },
      'database_restarted_rereading',
    );
    this.deps.onRewind?.(dropped.length);
    try {
      this.deps.consumer.seek({ topic: q.topic, partition: q.partition, offset: from });
    } catch (err) {
      // The consumer is not running (stopping): nothing was committed past `from`, so the
      // partition's next owner reads it again anyway.
      this.deps.logger.warn({ err: (err as Error).message }, 'rewind_seek_failed');
    }
  }

  private commitPrefix(q: PartitionQueue): void {
    if (q.committing) return;
    let n = 0;
    while (n < q.pending.length && q.pending[n]!.durable) n++;
    if (n === 0) {
      this.notifyIfEmpty();
      return;
    }
    const done = q.pending.slice(0, n);
    q.committing = true;
    this.deps.consumer
      .commitOffsets([{ topic: q.topic, partition: q.partition, offset: done[n - 1]!.next }])
      .then(
        () => {
          for (const p of done) {
            try {
              p.onCommitted();
            } catch (err) {
              this.deps.logger.warn({ err: (err as Error).message }, 'on_committed_failed');
            }
          }
        },
        (err: Error) =>
          // A rebalance took the partition away (or the consumer stopped): its new owner
          // re-reads from the last committed offset, and the writes are idempotent.
          this.deps.logger.warn(
            { topic: q.topic, partition: q.partition, err: err.message },
            'offset_commit_skipped',
          ),
      )
      .finally(() => {
        // A rewind only drops ranges that were not durable: `done` is still the prefix.
        q.pending.splice(0, done.length);
        q.committing = false;
        this.commitPrefix(q);
      });
  }

  private notifyIfEmpty(): void {
    if (this.idle.length === 0 || !this.empty()) return;
    for (const f of this.idle.splice(0)) f();
  }
}
