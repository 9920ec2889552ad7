import { describe, expect, it } from 'vitest';
import { compareIds, renewLeadMs, sseEvents } from './live-stream.js';

describe('live stream client', () => {
  it('parses SSE blocks split across chunks, skipping comments', async () => {
    const chunks = [
      'event: snapshot\ndata: {"goals":[]}\n\n: heart',
      'beat\n\nid: 17-0\nevent: conversion\nda',
      'ta: {"goal_id":"g"}\n\n',
    ];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(new TextEncoder().encode(ch));
        c.close();
      },
    });
    const out = [];
    for await (const e of sseEvents(body)) out.push(e);
    expect(out).toEqual([
      { id: undefined, event: 'snapshot', data: '{"goals":[]}' },
      { id: '17-0', event: 'conversion', data: '{"goal_id":"g"}' },
    ]);
  });

  it('orders stream ids numerically and renews a third of a short token’s life early', () => {
    expect(compareIds('1700000000000-10', '1700000000000-9')).toBeGreaterThan(0);
    expect(compareIds('999-0', '1000-0')).toBeLessThan(0);
    expect(renewLeadMs(300_000)).toBe(30_000);
    expect(renewLeadMs(6_000)).toBe(2_000);
  });
});
