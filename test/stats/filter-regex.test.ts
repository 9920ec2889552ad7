import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, openApiFixture, type ApiFixture } from '../api/api-fixture.js';

/**
 * Issue 12, statistics filters: a `regex` filter means what the same goal regex means (the
 * Goalpost dialect, RE2 syntax) and runs in PostgreSQL through the pattern our parser renders,
 * so PostgreSQL never receives a pattern it refuses (named groups and `\p{…}` answered 500
 * before) or reads differently (its `\b` is a backspace; the case-insensitive hostname filter
 * lower-cased the pattern, turning `\D` into `\d`). Filters are bounded: 20 filters of 20
 * values at most.
 */
describe('Rybbit statistics regex filters', () => {
  let f: ApiFixture;
  let auth: { authorization: string };
  let siteId: string;

  async function addSession(hostname: string, path: string): Promise<void> {
    const sessionId = randomUUID();
    const eventId = randomUUID();
    const at = new Date(Date.now() - 60_000);
    await f.db.query(
      'test.insert_event',
      `INSERT INTO events (event_id, event_time, received_at, website_id, session_id, visitor_id,
         type, hostname, path)
       VALUES ($1, $6, $6, $2, $3, 'v', 'pageview', $4, $5)`,
      [eventId, siteId, sessionId, hostname, path, at],
    );
    await f.db.query(
      'test.insert_session',
      `INSERT INTO sessions (website_id, session_id, visitor_id, started_at, ended_at,
         first_event_id, entry_page, exit_page, pageviews, hostname)
       VALUES ($1, $2, 'v', $6, $6, $3, $4, $4, 1, $5)`,
      [siteId, sessionId, eventId, path, hostname, at],
    );
  }

  beforeAll(async () => {
    f = await openApiFixture('filter-regex');
    auth = bearer(f.bootstrapKey);
    const site = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: auth,
      payload: { name: 'Filters', domain: 'shop.example.com' },
    });
    siteId = site.json<{ data: { id: string } }>().data.id;
    const goal = await f.app.inject({
      method: 'POST',
      url: `/api/goals/${siteId}`,
      headers: auth,
      payload: { goalType: 'event', config: { eventName: 'buy' } },
    });
    expect(goal.statusCode).toBe(201);
    await addSession('shop.example.com', '/ab');
    await addSession('shop.example.com', '/a');
    await addSession('shop2.example.com', '/ab/123');
  });

  afterAll(async () => {
    await f.db.query('test.cleanup_events', 'DELETE FROM events WHERE website_id = $1', [siteId]);
    await f.db.query('test.cleanup_sessions', 'DELETE FROM sessions WHERE website_id = $1', [
      siteId,
    ]);
    await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [siteId]);
    await f.close();
  });

  const list = (filters: unknown) =>
    f.app.inject({
      method: 'GET',
      url: `/api/goals/${siteId}?filters=${encodeURIComponent(JSON.stringify(filters))}`,
      headers: auth,
    });
  const sessionsFor = async (filters: unknown): Promise<number> => {
    const res = await list(filters);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ data: Array<{ total_sessions: number }> }>().data[0]!.total_sessions;
  };
  const regex = (parameter: string, ...value: string[]) => [{ parameter, type: 'regex', value }];

  it('named groups run (they answered 500)', async () => {
    expect(await sessionsFor(regex('pathname', '^/(?<x>a)b'))).toBe(2);
    expect(await sessionsFor(regex('pathname', '^/(?P<x>a)$'))).toBe(1);
  });

  it('\\b is a word boundary, . and \\d are the goal regex ones', async () => {
    expect(await sessionsFor(regex('pathname', 'a\\b'))).toBe(1);
    expect(await sessionsFor(regex('pathname', '^/..?$'))).toBe(2);
    expect(await sessionsFor(regex('pathname', '\\d{3}$'))).toBe(1);
  });

  it('the case-insensitive hostname filter folds the input, not the pattern text', async () => {
    expect(await sessionsFor(regex('hostname', '^\\D+$'))).toBe(2);
    expect(await sessionsFor(regex('hostname', '^SHOP\\.'))).toBe(2);
  });

  it('refuses what the dialect cannot run in PostgreSQL with a 400 naming the value', async () => {
    for (const [pattern, why] of [
      ['\\p{L}', 'Unicode classes'],
      ['(a', 'missing )'],
      ['a{300}', '255'],
      ['(?=a)', 'lookahead'],
    ] as const) {
      const res = await list(regex('pathname', 'ok', pattern));
      expect(res.statusCode, pattern).toBe(400);
      expect(res.json()).toEqual({
        error: expect.stringContaining(why) as string,
        details: [
          { field: 'filters[0].value[1]', message: expect.stringContaining(why) as string },
        ],
      });
    }
  });

  it('bounds filters: at most 20, of at most 20 values each', async () => {
    const twenty = Array.from({ length: 20 }, (_, i) => `/p${i}`);
    expect(
      (await list([{ parameter: 'pathname', type: 'equals', value: twenty }])).statusCode,
    ).toBe(200);
    const tooManyValues = await list([
      { parameter: 'pathname', type: 'equals', value: [...twenty, '/x'] },
    ]);
    expect(tooManyValues.statusCode).toBe(400);
    expect(tooManyValues.json()).toMatchObject({ details: [{ field: 'filters[0].value' }] });
    const one = { parameter: 'pathname', type: 'contains', value: ['/'] };
    expect((await list(Array.from({ length: 20 }, () => one))).statusCode).toBe(200);
    const tooMany = await list(Array.from({ length: 21 }, () => one));
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json()).toMatchObject({ details: [{ field: 'filters' }] });
  });
});
