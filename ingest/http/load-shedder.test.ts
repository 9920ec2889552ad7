import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { OverloadedError } from '../../shared/errors/errors.js';
import { LoadShedder } from './load-shedder.js';

const request = () => ({}) as FastifyRequest;
const nextTimers = () => new Promise((r) => setTimeout(r, 0));

describe('LoadShedder', () => {
  it('refuses past its in-flight limit and admits again once requests finish', () => {
    const s = new LoadShedder({ maxInFlight: 2, maxEventLoopDelayMs: 1_000 });
    const [a, b, c] = [request(), request(), request()];
    s.admit(a);
    s.admit(b);
    expect(() => s.admit(c)).toThrow(OverloadedError);
    s.release(a);
    s.release(a); // a response and an abort of one request count it out once
    expect(s.state()).toMatchObject({ inFlight: 1, shed: 1 });
    s.admit(c);
    expect(() => s.admit(request())).toThrow(OverloadedError);
    s.release(c); // a refused request was never counted in: releasing it changes nothing
    expect(s.state().inFlight).toBe(1);
  });

  it('refuses while the event loop runs late, and admits after a tick on time', async () => {
    const s = new LoadShedder({ maxInFlight: 100, maxEventLoopDelayMs: 50, sampleMs: 10 });
    s.start();
    try {
      const until = performance.now() + 150;
      while (performance.now() < until); // a stall: the process is out of CPU
      await nextTimers(); // the shedder's tick, due before this one, measures the stall
      expect(s.state().eventLoopDelayMs).toBeGreaterThan(50);
      const err = (() => {
        try {
          s.admit(request());
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(OverloadedError);
      expect((err as OverloadedError).retryAfterSeconds).toBe(1);
      // Ticks on time bring the delay down and requests in again.
      for (let i = 0; i < 50 && s.state().eventLoopDelayMs > 50; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(() => s.admit(request())).not.toThrow();
    } finally {
      s.stop();
    }
  });
});
