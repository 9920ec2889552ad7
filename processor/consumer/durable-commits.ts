import type { Consumer } from 'kafkajs';
import type { Db } from '../../shared/db/pool.js';
import { walRepository } from '../../shared/db/wal.repository.js';
import type { Logger } from '../../shared/logger.js';

/**
 * Commits Kafka offsets only once the database has made durable the transactions that wrote
 * their messages.
 *
 * The processor's transactions commit with `synchronous_commit = off` (Db.txAsyncCommit): the
 * COMMIT returns before the WAL is flushed, so it never waits for the disk, and the rows are
 * visible at once. Each transaction's WAL position is kept with the offset after its messages;
 * the offset is committed to Kafka when PostgreSQL's flush position has passed it (the WAL
 * writer flushes every `wal_writer_delay`). A database crash can therefore lose only
 * transactions whose offsets were never committed: Kafka redelivers those messages and the
 * idempotent writes (events unique on (event_id, event_time), sessions and conversions derived
 * from inserted rows only) store them once. Offsets of one partition are committed in order.
 */
export class DurableCommits {
  private flushed = 0n;
  private readonly waiters: Array<{ lsn: bigint; resolve: () => void }> = [];
  private polling = false;
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: { db: Db; consumer: Consumer; logger: Logger },
    /** How often the flush position is read while offsets wait (the WAL writer's pace). */
    private readonly pollMs = 10,
  ) {}

  /**
   * Commits `offset` (the next one to read) of the partition once the WAL is flushed past
   * `lsn`, after every offset queued before it for that partition; `onCommitted` then runs.
   */
  commitWhenDurable(
    topic: string,
    partition: number,
    offset: string,
    lsn: bigint,
    onCommitted: () => void,
  ): void {
    const key = `${topic}\u0000${partition}`;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.flushedPast(lsn))
      .then(() => this.deps.consumer.commitOffsets([{ topic, partition, offset }]))
      .then(onCommitted)
      .catch((err: Error) =>
        // A rebalance took the partition away (or the consumer stopped): its new owner
        // re-reads from the last committed offset, and the writes are idempotent.
        this.deps.logger.warn({ topic, partition, err: err.message }, 'offset_commit_skipped'),
      );
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /**
   * Waits until every queued offset is committed (or skipped), at most `timeoutMs`: before
   * leaving the group. Offsets still waiting then stay uncommitted, which is always safe.
   */
  async drain(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.chains.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.all([...this.chains.values()]),
        new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))),
      ]);
    }
  }

  private flushedPast(lsn: bigint): Promise<void> {
    if (lsn <= this.flushed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ lsn, resolve });
      if (!this.polling) void this.poll();
    });
  }

  private async poll(): Promise<void> {
    this.polling = true;
    while (this.waiters.length > 0) {
      try {
        const f = await walRepository.flushLsn(this.deps.db);
        if (f > this.flushed) this.flushed = f;
      } catch (err) {
        // The database is away: nothing can be confirmed; keep waiting (offsets stay
        // uncommitted, which is always safe), more slowly.
        this.deps.logger.warn({ err: (err as Error).message }, 'wal_flush_read_failed');
        await new Promise((r) => setTimeout(r, 500));
      }
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i]!;
        if (w.lsn <= this.flushed) {
          this.waiters.splice(i, 1);
          w.resolve();
        }
      }
      if (this.waiters.length > 0) await new Promise((r) => setTimeout(r, this.pollMs));
    }
    this.polling = false;
  }
}
