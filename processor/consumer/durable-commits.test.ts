import { describe, expect, it, vi } from 'vitest';
import type { Queryable } from '../../shared/db/pool.js';
import { createLogger } from '../../shared/logger.js';
import { DurableCommits } from './durable-commits.js';

/** A database whose flush position and server life the test sets; `down` makes reads fail. */
function fakeServer() {
  const state = { flushed: 0n, server: 'life-1', down: false };
  const db: Queryable = {
    query: (async () => {
      if (state.down) throw new Error('connection refused');
      const hi = state.flushed >> 32n;
      const lo = state.flushed & 0xffffffffn;
      return { rows: [{ lsn: `${hi.toString(16)}/${lo.toString(16)}`, server: state.server }] };
    }) as unknown as Queryable['query'],
    copyIn: () => Promise.reject(new Error('not used')),
  };
  return { state, db };
}

function fakeConsumer() {
  const commits: string[] = [];
  const seeks: string[] = [];
  return {
    commits,
    seeks,
    consumer: {
      commitOffsets: async (offsets: Array<{ partition: number; offset: string }>) => {
        for (const o of offsets) commits.push(`${o.partition}@${o.offset}`);
      },
      seek: ({ partition, offset }: { partition: number; offset: string }) => {
        seeks.push(`${partition}@${offset}`);
      },
    },
  };
}

/** Lets the poller run a few rounds (for asserting that something did not happen). */
const settle = () => new Promise((r) => setTimeout(r, 30));
/** Waits until `check` passes (for asserting that something did happen). */
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 5 });
const T = 'events';

function setUp() {
  const server = fakeServer();
  const kafka = fakeConsumer();
  let rewound = 0;
  const commits = new DurableCommits(
    {
      db: server.db,
      consumer: kafka.consumer,
      logger: createLogger('test', 'silent'),
      onRewind: (n) => (rewound += n),
    },
    1,
  );
  return { server, kafka, commits, rewound: () => rewound };
}

describe('DurableCommits', () => {
  it('commits a partition in order, each offset once its writes are flushed', async () => {
    const { server, kafka, commits } = setUp();
    const g = commits.generation(T, 0);
    const done: string[] = [];
    commits.commitWhenDurable(
      T,
      0,
      g,
      { from: '0', next: '10', wal: [{ lsn: 100n, server: 'life-1' }] },
      () => done.push('10'),
    );
    commits.commitWhenDurable(
      T,
      0,
      g,
      { from: '10', next: '20', wal: [{ lsn: 200n, server: 'life-1' }] },
      () => done.push('20'),
    );
    // Only dead letters: nothing to flush, but it waits for the ranges before it.
    commits.commitWhenDurable(T, 0, g, { from: '20', next: '25', wal: [] }, () => done.push('25'));
    await settle();
    expect(kafka.commits).toEqual([]);
    server.state.flushed = 150n;
    await eventually(() => expect(kafka.commits).toEqual(['0@10']));
    server.state.flushed = 200n;
    await eventually(() => expect(kafka.commits.at(-1)).toBe('0@25'));
    expect(done).toEqual(['10', '20', '25']);
    expect(kafka.seeks).toEqual([]);
  });

  it('after a restart, reads again what was not yet flushed although the new WAL passes its position', async () => {
    const { server, kafka, commits, rewound } = setUp();
    const g = commits.generation(T, 3);
    commits.commitWhenDurable(
      T,
      3,
      g,
      { from: '0', next: '10', wal: [{ lsn: 100n, server: 'life-1' }] },
      () => undefined,
    );
    commits.commitWhenDurable(
      T,
      3,
      g,
      { from: '10', next: '20', wal: [{ lsn: 200n, server: 'life-1' }] },
      () => undefined,
    );
    server.state.flushed = 150n;
    await eventually(() => expect(kafka.commits).toEqual(['3@10']));
    // The crash loses the commit at 200; recovery goes on from 150 and soon passes 200.
    server.state.server = 'life-2';
    server.state.flushed = 10_000n;
    await eventually(() => expect(kafka.seeks).toEqual(['3@10']));
    expect(kafka.commits).toEqual(['3@10']);
    expect(rewound()).toBe(1);
    // The rest of the batch read before the rewind is refused …
    commits.commitWhenDurable(
      T,
      3,
      g,
      { from: '20', next: '30', wal: [{ lsn: 9_000n, server: 'life-2' }] },
      () => undefined,
    );
    await settle();
    expect(kafka.commits).toEqual(['3@10']);
    // … and the batch read again after it is committed.
    const g2 = commits.generation(T, 3);
    expect(g2).not.toBe(g);
    commits.commitWhenDurable(
      T,
      3,
      g2,
      { from: '10', next: '30', wal: [{ lsn: 10_000n, server: 'life-2' }] },
      () => undefined,
    );
    await eventually(() => expect(kafka.commits).toEqual(['3@10', '3@30']));
  });

  it('a sub-batch whose transactions span two server lives is read again', async () => {
    const { server, kafka, commits } = setUp();
    server.state.server = 'life-2';
    server.state.flushed = 500n;
    const wal = [
      { lsn: 100n, server: 'life-1' },
      { lsn: 400n, server: 'life-2' },
    ];
    commits.commitWhenDurable(
      T,
      1,
      commits.generation(T, 1),
      { from: '7', next: '9', wal },
      () => undefined,
    );
    await eventually(() => expect(kafka.seeks).toEqual(['1@7']));
    expect(kafka.commits).toEqual([]);
  });

  it('keeps waiting while the database is away, and rewinds only the partitions it must', async () => {
    const { server, kafka, commits } = setUp();
    commits.commitWhenDurable(
      T,
      0,
      commits.generation(T, 0),
      { from: '0', next: '5', wal: [{ lsn: 100n, server: 'life-1' }] },
      () => undefined,
    );
    commits.commitWhenDurable(
      T,
      1,
      commits.generation(T, 1),
      { from: '0', next: '5', wal: [] },
      () => undefined,
    );
    server.state.down = true;
    await eventually(() => expect(kafka.commits).toEqual(['1@5']));
    const drained = commits.drain(20);
    await drained; // gives up: the offset stays uncommitted
    expect(kafka.commits).toEqual(['1@5']);
    server.state.down = false;
    server.state.server = 'life-2';
    await eventually(() => expect(kafka.seeks).toEqual(['0@0']));
    expect(kafka.commits).toEqual(['1@5']);
    await commits.drain(1_000); // nothing waits any more
  });
});
