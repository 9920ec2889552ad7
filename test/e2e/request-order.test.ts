import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { newGoalId, newWebsiteId } from '../../shared/ids.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { startTestProcessor, type TestProcessor } from '../helpers/processor.js';
import { openIngestHarness, type IngestHarness } from '../ingest/ingest-harness.js';

const KEY = `spk_selfhosted_${'6b'.repeat(16)}`;
const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/**
 * Events of one request share one receive time when the client sends no timestamp. A batch
 * `[pageview with utm_source=google, custom event]` used to give a session whose landing came
 * from whichever event had the smaller (random) id, so about half of such sessions had no UTM
 * and a UTM filter lost their conversions. Ingest now numbers the events of a request (`seq`),
 * ties in time are broken by it, and the landing comes from the first pageview.
 */
describe('the order of events within one request', () => {
  let deps: TestDeps;
  let h: IngestHarness;
  let processor: TestProcessor;
  let api: HttpApp;
  let site: Website;
  let goalId: string;
  const visitors = Array.from({ length: 24 }, () => `v-${randomUUID()}`);

  beforeAll(async () => {
    deps = openTestDeps('request-order');
    site = await websiteRepository.create(deps.db, {
      id: newWebsiteId(),
      name: 'Order',
      domain: 'order.example',
    });
    goalId = newGoalId();
    await goalRepository.create(deps.db, {
      id: goalId,
      website_id: site.id,
      name: 'Signup',
      description: null,
      goal_type: 'event',
      match_operator: 'equals',
      match_value: 'signup',
      case_sensitive: true,
      property_filters: [],
      value_mode: 'none',
      fixed_value: null,
      value_property_key: null,
      currency: 'USD',
    });
    h = await openIngestHarness(deps, 'request-order');
    processor = await startTestProcessor(deps, {
      name: 'request-order',
      topic: h.topic,
      dlqTopic: h.topic,
    });
    api = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      bootstrapApiKey: KEY,
    });
  });

  afterAll(async () => {
    await api?.close();
    await processor?.stop();
    await h?.close();
    for (const t of ['events', 'conversions', 'sessions']) {
      await deps.db.query('test.cleanup', `DELETE FROM ${t} WHERE website_id = $1`, [site.id]);
    }
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [site.id]);
    await deps.close();
  });

  it('keeps each batch in its order: the session lands on the pageview and its UTM', async () => {
    for (const visitor of visitors) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/api/collect',
        headers: {
          'content-type': 'application/json',
          'user-agent': CHROME_UA,
          'accept-language': 'en',
        },
        payload: JSON.stringify([
          {
            website_id: site.id,
            type: 'pageview',
            url: 'https://order.example/pricing?utm_source=google&utm_medium=cpc',
            visitor_id: visitor,
          },
          {
            website_id: site.id,
            type: 'event',
            event_name: 'signup',
            url: '/pricing',
            visitor_id: visitor,
          },
        ]),
      });
      expect(res.statusCode).toBe(202);
    }
    await waitFor('every event stored', async () => {
      const { rows } = await deps.db.query<{ n: number }>(
        'test.count',
        'SELECT count(*)::int AS n FROM events WHERE website_id = $1',
        [site.id],
      );
      return rows[0]!.n === visitors.length * 2 ? true : undefined;
    });
    const { rows: events } = await deps.db.query<{ type: string; seq: number }>(
      'test.seq',
      'SELECT DISTINCT type, seq FROM events WHERE website_id = $1 ORDER BY seq',
      [site.id],
    );
    expect(events).toEqual([
      { type: 'pageview', seq: 0 },
      { type: 'event', seq: 1 },
    ]);
    const { rows: sessions } = await deps.db.query<{ utm_source: string | null; n: number }>(
      'test.sessions',
      `SELECT utm_source, count(*)::int AS n FROM sessions WHERE website_id = $1 GROUP BY 1`,
      [site.id],
    );
    expect(sessions).toEqual([{ utm_source: 'google', n: visitors.length }]);

    // The UTM filter keeps every conversion.
    const today = new Date().toISOString().slice(0, 10);
    const stats = await api.inject({
      url: `/api/websites/${site.id}/goals/${goalId}/stats?start_date=${today}&end_date=${today}&timezone=UTC&filter_utm_source=google`,
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(stats.statusCode).toBe(200);
    expect(stats.json()).toMatchObject({
      data: { conversions: visitors.length, converting_sessions: visitors.length },
    });
  });
});
