import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import { TransientError } from '../../shared/errors/errors.js';

export interface BatchingProducerOptions {
  topic: string;
  /** How long the first message of a batch waits for others (kafkajs has no linger setting). */
  lingerMs: number;
  /** Flush at once when this many messages are waiting. */
  maxBatchMessages: number;
  /** A send not acknowledged within this time fails with TransientError (→ 503). */
  timeoutMs: number;
}

interface Pending {
  messages: Message[];
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
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly producer: Producer,
    private readonly opts: BatchingProducerOptions,
  ) {}

  send(messages: Message[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ messages, resolve, reject });
      this.queued += messages.length;
      if (this.queued >= this.opts.maxBatchMessages) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.lingerMs);
    });
  }

  /** Sends everything queued now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.queued = 0;
    const p = this.produce(batch);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Flushes and waits for every in-flight produce request (used on shutdown). */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  private async produce(batch: Pending[]): Promise<void> {
    const messages = batch.flatMap((p) => p.messages);
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
            this.opts.timeoutMs,
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
