import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import { TransientError } from '../../shared/errors/errors.js';

export interface BatchingProducerOptions {
  topic: string;
  /**
   * How long the first message of a batch waits for others before it is sent. 0: no timer;
   * messages queued in the same turn of the event loop, and while `maxInFlight` produce
   * requests are waiting for Kafka, go together.
   */
  lingerMs: number;
  /** Flush at once when this many messages are waiting. */
  maxBatchMessages: number;
  /** A send not acknowledged within this time of its call fails with TransientError (→ 503). */
  timeoutMs: number;
  /**
   * Produce requests waiting for Kafka at once (default: no limit). At the limit, new messages
   * queue until one is acknowledged and then go as one request: under load batches grow by
   * themselves, so the broker handles fewer, larger requests; at low load nothing waits.
   */
  maxInFlight?: number;
}

interface Pending {
  messages: Message[];
  /** When this send was called: its deadline is this plus the timeout. */
  at: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Coalesces concurrent `send()` calls into one kafkajs produce request (acks = all). kafkajs
 * sends each `send()` as its own request, which caps throughput at one round trip per HTTP
 * request; here every caller waits for the produce request that carried its messages, so a
 * caller's promise resolves only once Kafka has acknowledged all of them.
 */
export class BatchingProducer {
  private queue: Pending[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;

  constructor(
    private readonly producer: Producer,
    private readonly opts: BatchingProducerOptions,
  ) {
    this.maxInFlight = opts.maxInFlight ?? Number.POSITIVE_INFINITY;
  }

  send(messages: Message[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ messages, at: Date.now(), resolve, reject });
      this.queued += messages.length;
      if (this.queued >= this.opts.maxBatchMessages) this.flush();
      else this.schedule();
    });
  }

  /** Sends everything queued now, whatever is in flight. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.queued = 0;
    const p = this.produce(batch);
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      // What queued while the limit was reached has waited a round trip already: send it now.
      if (this.queue.length > 0 && this.timer === null && this.immediate === null) {
        if (this.inFlight.size < this.maxInFlight) this.flush();
      }
    });
  }

  /** Flushes and waits until nothing is queued or in flight (used on shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private schedule(): void {
    if (this.timer !== null || this.immediate !== null) return;
    if (this.inFlight.size >= this.maxInFlight) return; // an acknowledgement flushes the queue
    if (this.opts.lingerMs > 0) {
      this.timer = setTimeout(() => this.flush(), this.opts.lingerMs);
    } else {
      // After this turn's I/O callbacks: requests read in the same turn share a request.
      this.immediate = setImmediate(() => this.flush());
    }
  }

  private async produce(batch: Pending[]): Promise<void> {
    const messages = batch.length === 1 ? batch[0]!.messages : batch.flatMap((p) => p.messages);
    // The oldest caller's deadline bounds the whole request.
    const left = Math.max(1, batch[0]!.at + this.opts.timeoutMs - Date.now());
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.producer.send({
          topic: this.opts.topic,
          acks: -1,
          timeout: this.opts.timeoutMs,
          compression: CompressionTypes.None,
          messages,
        }),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(
            () =>
              reject(
                new TransientError(`Kafka did not acknowledge within ${this.opts.timeoutMs} ms`),
              ),
            left,
          );
        }),
      ]);
      for (const p of batch) p.resolve();
    } catch (err) {
      const e =
        err instanceof TransientError
          ? err
          : new TransientError(`Kafka produce failed: ${(err as Error).message}`, { cause: err });
      for (const p of batch) p.reject(e);
    } finally {
      clearTimeout(timeout);
    }
  }
}
