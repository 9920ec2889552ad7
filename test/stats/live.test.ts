import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newEventId, newGoalId, newWebsiteId } from '../../shared/ids.js';
import { liveCountsKey, liveStreamKey, publishConversions } from '../../shared/live/live-feed.js';
import { openTestDeps, type TestDeps } from '../helpers/deps.js';

/**
 * The live stream over a real socket: token auth, snapshot, conversions with ids, and
 * resumption with Last-Event-ID after a reconnect. Conversions are published with the
 * processor's own publication function (shared/live), on the real Redis.
 */
const KEY = `spk_selfhosted_${'7c'.repeat(16)}`;

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads SSE events from a streaming fetch response until `until` says stop. */
async function readEvents(
  res: Response,
  until: (events: SseEvent[]) => boolean,
): Promise<SseEvent[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = '';
  const events: SseEvent[] = [];
  while (!until(events)) {
    const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) !== -1) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev: SseEvent = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const [k, ...rest] = line.split(': ');
        (ev as Record<string, string>)[k!] = rest.join(': ');
      }
      if (ev.event) events.push(ev);
    }
  }
  await reader.cancel();
  return events;
}

describe('live conversions over SSE', () => {
  let deps: TestDeps;
  let api: HttpApp;
  let url: string;
  const websiteId = newWebsiteId();
  const otherSite = newWebsiteId();
  const goalA = newGoalId();

  beforeAll(async () => {
    deps = openTestDeps('live');
    await websiteRepository.create(deps.db, { id: websiteId, name: 'Live', domain: 'l.example' });
    await websiteRepository.create(deps.db, { id: otherSite, name: 'Other', domain: 'o.example' });
    api = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
      liveTokenSecret: 'x'.repeat(40),
    });
    url = await api.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await api?.close();
    const now = Math.floor(Date.now() / 60_000);
    const keys = [liveStreamKey(websiteId)];
    for (let m = now - 40; m <= now + 1; m++) keys.push(liveCountsKey(websiteId, m));
    await deps.redis.del(...keys);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [
      [websiteId, otherSite],
    ]);
    await deps.close();
  });

  const conversion = (value: string | null) => ({
    website_id: websiteId,
    goal_id: goalA,
    event_id: newEventId(),
    value,
    currency: 'USD',
    time: new Date().toISOString(),
    country: 'DE',
    page: '/checkout/success',
  });

  it('token auth, snapshot, conversions, and resumption after a reconnect', async () => {
    await publishConversions(deps.redis, [conversion('5.00'), conversion('7.25')]);

    const tokenRes = await fetch(`${url}/api/websites/${websiteId}/live-token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(tokenRes.status).toBe(200);
    const { token } = ((await tokenRes.json()) as { data: { token: string } }).data;

    // The token is for this website only, and a forged one is refused.
    expect((await fetch(`${url}/api/websites/${otherSite}/goals/live?token=${token}`)).status).toBe(
      401,
    );
    expect(
      (await fetch(`${url}/api/websites/${websiteId}/goals/live?token=${token}x`)).status,
    ).toBe(401);
    expect((await fetch(`${url}/api/websites/${websiteId}/goals/live`)).status).toBe(401);

    const ctrl1 = new AbortController();
    const res1 = await fetch(`${url}/api/websites/${websiteId}/goals/live?token=${token}`, {
      signal: ctrl1.signal,
    });
    expect(res1.status).toBe(200);
    expect(res1.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const published = publishConversions(deps.redis, [conversion('12.50')]);
    const first = await readEvents(res1, (e) => e.some((x) => x.event === 'conversion'));
    await published;
    ctrl1.abort();

    expect(first[0]!.event).toBe('snapshot');
    expect(JSON.parse(first[0]!.data!)).toEqual({
      window_minutes: 30,
      goals: [{ goal_id: goalA, conversions: expect.any(Number) as number }],
    });
    expect(
      (JSON.parse(first[0]!.data!) as { goals: Array<{ conversions: number }> }).goals[0]!
        .conversions,
    ).toBeGreaterThanOrEqual(2);
    const c1 = first.find((x) => x.event === 'conversion')!;
    expect(c1.id).toMatch(/^\d+-\d+$/);
    expect(JSON.parse(c1.data!)).toEqual({
      goal_id: goalA,
      value: 12.5,
      currency: 'USD',
      time: expect.any(String) as string,
      country: 'DE',
      page: '/checkout/success',
    });

    // Disconnected: two conversions happen; the reconnect with Last-Event-ID gets both, in order.
    await publishConversions(deps.redis, [conversion('1.00')]);
    await publishConversions(deps.redis, [conversion(null)]);
    const res2 = await fetch(`${url}/api/websites/${websiteId}/goals/live`, {
      headers: { authorization: `Bearer ${KEY}`, 'last-event-id': c1.id! },
    });
    expect(res2.status).toBe(200);
    const second = await readEvents(
      res2,
      (e) => e.filter((x) => x.event === 'conversion').length >= 2,
    );
    const resumed = second.filter((x) => x.event === 'conversion');
    expect(resumed.map((x) => (JSON.parse(x.data!) as { value: number | null }).value)).toEqual([
      1,
      null,
    ]);
    // Ids are Redis stream ids, increasing: `<ms>-<seq>`.
    const [ms1, seq1] = c1.id!.split('-').map(Number) as [number, number];
    const [ms2, seq2] = resumed[0]!.id!.split('-').map(Number) as [number, number];
    expect(ms2 > ms1 || (ms2 === ms1 && seq2 > seq1)).toBe(true);
  });
});
