import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import { newWebsiteId } from '../../shared/ids.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { openIngestHarness, type IngestHarness } from './ingest-harness.js';

/**
 * Concurrent requests share one session script call in Redis (ingest/sessions/session.batcher.ts)
 * and one Kafka produce request (ingest/kafka/batching.producer.ts). These prove that sharing
 * changes no outcome: each request gets its own events' sessions, a visitor's concurrent
 * events share one session, and an event_id sent by concurrent requests is produced once.
 */
describe('ingest under concurrent requests', () => {
  let deps: TestDeps;
  let h: IngestHarness;
  let site: Website;

  beforeAll(async () => {
    deps = openTestDeps('ingest-concurrent');
    site = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Busy',
      domain: 'busy.example',
    });
    h = await openIngestHarness(deps, 'ingest-concurrent');
  });

  afterAll(async () => {
    await h?.close();
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [site.id]);
    await deps.close();
  });

  const post = (payload: unknown) =>
    h.app.inject({
      method: 'POST',
      url: '/api/collect',
      headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 test' },
      payload: JSON.stringify(payload),
    });
  const event = (visitor: string, eventId: string = randomUUID()) => ({
    website_id: site.id,
    type: 'pageview',
    url: `/c/${visitor}`,
    visitor_id: visitor,
    event_id: eventId,
  });
  const producedIds = (ids: string[]) =>
    waitFor(`${ids.length} events in Kafka`, async () => {
      const found = h.produced.filter((p) => ids.includes(p.ev.event_id));
      return found.length >= ids.length ? found : undefined;
    });

  it('assigns sessions per visitor when many requests arrive together', async () => {
    const visitors = Array.from({ length: 8 }, () => `v-${randomUUID()}`);
    // 8 visitors × 5 single-event requests, plus one batch per visitor, all at once.
    const singles = visitors.flatMap((v) => Array.from({ length: 5 }, () => event(v)));
    const batches = visitors.map((v) => [event(v), event(v)]);
    const responses = await Promise.all([...singles.map(post), ...batches.map(post)]);
    expect(responses.map((r) => r.statusCode)).toEqual(responses.map(() => 202));

    const ids = [...singles, ...batches.flat()].map((e) => e.event_id);
    const produced = await producedIds(ids);
    expect(produced).toHaveLength(ids.length);
    const sessionsOf = new Map<string, Set<string>>();
    for (const p of produced) {
      const set = sessionsOf.get(p.ev.visitor_id) ?? new Set();
      set.add(p.ev.session_id);
      sessionsOf.set(p.ev.visitor_id, set);
    }
    // Each visitor: all 7 events in one session; no two visitors share a session.
    expect([...sessionsOf.keys()].sort()).toEqual([...visitors].sort());
    for (const set of sessionsOf.values()) expect(set.size).toBe(1);
    const all = [...sessionsOf.values()].map((s) => [...s][0]);
    expect(new Set(all).size).toBe(visitors.length);
  });

  it('produces an event_id once when concurrent requests carry it', async () => {
    const id = randomUUID();
    const body = event(`v-${randomUUID()}`, id);
    const marker = randomUUID();
    const responses = await Promise.all([
      ...Array.from({ length: 6 }, () => post(body)),
      post(event(`v-${randomUUID()}`, marker)),
    ]);
    // The first claim wins; a repeat is acknowledged (already done) or refused with 409 naming
    // the event_id (still being produced, so the client retries): never produced twice.
    for (const r of responses) {
      expect([202, 409]).toContain(r.statusCode);
      if (r.statusCode === 409) {
        expect(r.json()).toMatchObject({ error: { code: 'event_in_flight', field: 'event_id' } });
      }
    }
    await producedIds([marker, id]);
    expect((await post(body)).statusCode).toBe(202);
    const next = randomUUID();
    expect((await post(event(`v-${randomUUID()}`, next))).statusCode).toBe(202);
    await producedIds([next]);
    expect(h.produced.filter((p) => p.ev.event_id === id)).toHaveLength(1);
  });
});
