import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { requestQueueFixApplied } from './request-queue-fix.js';

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  destroy(): void;
}
const RequestQueue = createRequire(import.meta.url)(
  'kafkajs/src/network/requestQueue/index.js',
) as new (opts: Record<string, unknown>) => Queue;

const newQueue = () =>
  new RequestQueue({
    instrumentationEmitter: null,
    maxInFlightRequests: null,
    requestTimeout: 1000,
    enforceRequestTimeout: true,
    clientId: 'test',
    broker: 'localhost:1',
    logger: { debug() {}, info() {}, warn() {}, error() {}, namespace: () => null },
    isConnected: () => true,
  });

describe('kafkajs RequestQueue idle timer fix', () => {
  it('is applied to the pinned kafkajs version', () => {
    expect(requestQueueFixApplied).toBe(true);
  });

  it('arms no timer when nothing is pending and nothing is throttled', () => {
    const q = newQueue();
    q.checkPendingRequests(); // what every response does
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still schedules a check while throttled or while requests are pending', () => {
    const throttled = newQueue();
    throttled.throttledUntil = Date.now() + 60_000;
    throttled.checkPendingRequests();
    expect(throttled.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(throttled.throttleCheckTimeoutId!);

    const waiting = newQueue();
    waiting.pending.push({});
    // canSendSocketRequestImmediately is true here, so the loop would send it: keep it pending.
    Object.assign(waiting, { canSendSocketRequestImmediately: () => false });
    waiting.checkPendingRequests();
    expect(waiting.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(waiting.throttleCheckTimeoutId!);
  });
});
