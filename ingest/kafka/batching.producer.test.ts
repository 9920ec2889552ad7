import type { Producer, RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { TransientError } from '../../shared/errors/errors.js';
import { BatchingProducer } from './batching.producer.js';

/** A Producer-shaped recorder: this tests our coalescing logic, not kafkajs. */
function recordingProducer(behaviour: 'ack' | 'hang' | 'fail') {
  const sends: number[] = [];
  const producer = {
    send: (req: { messages: unknown[] }) => {
      sends.push(req.messages.length);
      if (behaviour === 'ack') return Promise.resolve([] as RecordMetadata[]);
      if (behaviour === 'fail') return Promise.reject(new Error('broker gone'));
      return new Promise<RecordMetadata[]>(() => undefined);
    },
  } as unknown as Producer;
  return { producer, sends };
}

const opts = { topic: 't', lingerMs: 5, maxBatchMessages: 100, timeoutMs: 200 };
const msg = (i: number) => ({ key: String(i), value: String(i) });

describe('BatchingProducer', () => {
  it('coalesces concurrent sends into one produce request', async () => {
    const { producer, sends } = recordingProducer('ack');
    const bp = new BatchingProducer(producer, opts);
    await Promise.all([bp.send([msg(1)]), bp.send([msg(2), msg(3)]), bp.send([msg(4)])]);
    expect(sends).toEqual([4]);
  });

  it('flushes at once when the batch is full', async () => {
    const { producer, sends } = recordingProducer('ack');
    const bp = new BatchingProducer(producer, { ...opts, maxBatchMessages: 2, lingerMs: 10_000 });
    await Promise.all([bp.send([msg(1)]), bp.send([msg(2)])]);
    expect(sends).toEqual([2]);
  });

  it('rejects every caller with TransientError when Kafka does not acknowledge in time', async () => {
    const { producer } = recordingProducer('hang');
    const bp = new BatchingProducer(producer, opts);
    const results = await Promise.allSettled([bp.send([msg(1)]), bp.send([msg(2)])]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TransientError);
    }
  });

  it('rejects every caller with TransientError when the produce fails', async () => {
    const { producer } = recordingProducer('fail');
    const bp = new BatchingProducer(producer, opts);
    await expect(bp.send([msg(1)])).rejects.toBeInstanceOf(TransientError);
  });

  it('at its in-flight limit, queues until an acknowledgement and then sends the queue as one', async () => {
    const sends: number[] = [];
    const acks: Array<() => void> = [];
    const producer = {
      send: (req: { messages: unknown[] }) => {
        sends.push(req.messages.length);
        return new Promise<RecordMetadata[]>((resolve) => acks.push(() => resolve([])));
      },
    } as unknown as Producer;
    const bp = new BatchingProducer(producer, { ...opts, lingerMs: 0, maxInFlight: 1 });
    const first = bp.send([msg(1)]);
    await new Promise((r) => setImmediate(r));
    expect(sends).toEqual([1]);
    const rest = [bp.send([msg(2)]), bp.send([msg(3), msg(4)]), bp.send([msg(5)])];
    await new Promise((r) => setImmediate(r));
    expect(sends).toEqual([1]); // the limit holds them back
    acks[0]!();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(sends).toEqual([1, 4]);
    acks[1]!();
    await Promise.all(rest);
  });

  it('without a linger, sends what one turn of the event loop queued as one request', async () => {
    const { producer, sends } = recordingProducer('ack');
    const bp = new BatchingProducer(producer, { ...opts, lingerMs: 0, maxInFlight: 2 });
    await Promise.all([bp.send([msg(1)]), bp.send([msg(2)])]);
    await bp.send([msg(3)]);
    expect(sends).toEqual([2, 1]);
  });

  it('drains what waits behind the in-flight limit', async () => {
    const { producer, sends } = recordingProducer('ack');
    const bp = new BatchingProducer(producer, { ...opts, lingerMs: 0, maxInFlight: 1 });
    const all = [bp.send([msg(1)]), bp.send([msg(2)])];
    bp.flush();
    const late = bp.send([msg(3)]);
    await bp.drain();
    await Promise.all([...all, late]);
    expect(sends.reduce((a, b) => a + b, 0)).toBe(3);
  });
});
