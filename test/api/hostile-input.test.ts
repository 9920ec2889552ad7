import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

const anyString: unknown = expect.any(String);

/**
 * Inputs that reached PostgreSQL and answered 500 (issue 12, section 2): each class now gets
 * a 4xx with the dialect's documented error body naming the field.
 */
describe('API: hostile input gets a 4xx naming the field, never a 5xx', () => {
  let f: ApiFixture;
  let site: { id: string; numeric_id: number };
  let goalId: string;
  const siteIds: string[] = [];
  const auth = () => bearer(f.bootstrapKey);

  const sparkError = (field: string | null) => ({
    error: { code: expect.any(String) as unknown, message: anyString, field },
  });
  const rybbitError = (field: string) => ({
    error: anyString,
    details: [{ field, message: anyString }],
  });

  beforeAll(async () => {
    f = await openApiFixture('hostile-input');
    const res = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: auth(),
      payload: { name: 'Hostile', domain: 'hostile.example' },
    });
    site = res.json<{ data: { id: string; numeric_id: number } }>().data;
    siteIds.push(site.id);
    const g = await f.app.inject({
      method: 'POST',
      url: `/api/websites/${site.id}/goals`,
      headers: auth(),
      payload: { name: 'Signup', goal_type: 'event', match_value: 'signup' },
    });
    goalId = g.json<{ data: { id: string } }>().data.id;
  });

  afterAll(async () => {
    await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [siteIds]);
    await f.close();
  });

  it('Rybbit filters naming Object.prototype members are refused (400), not built into SQL', async () => {
    for (const parameter of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const filters = JSON.stringify([{ parameter, type: 'equals', value: ['x'] }]);
      const res = await f.app.inject({
        url: `/api/goals/${site.numeric_id}?filters=${encodeURIComponent(filters)}`,
        headers: auth(),
      });
      expect(res.statusCode, parameter).toBe(400);
      expect(res.json()).toEqual(rybbitError('filters[0].parameter'));
    }
  });

  it('a sessions cursor naming an impossible instant is a 422 on cursor', async () => {
    for (const key of ['2026-02-30T10:00:00.000000Z', '2026-01-01T25:00:00.000000Z']) {
      const cursor = Buffer.from(JSON.stringify([key, 's1'])).toString('base64url');
      const res = await f.app.inject({
        url: `/api/websites/${site.id}/goals/${goalId}/sessions?cursor=${cursor}`,
        headers: auth(),
      });
      expect(res.statusCode, key).toBe(422);
      expect(res.json()).toEqual(sparkError('cursor'));
    }
  });

  it('NUL in any text that would reach PostgreSQL is refused, naming the field', async () => {
    const nul = 'a\u0000b';
    const cases: Array<{
      req: InjectOptions;
      status: number;
      body: unknown;
    }> = [
      {
        req: {
          method: 'POST',
          url: '/api/websites',
          payload: { name: nul, domain: 'x.example' },
        },
        status: 422,
        body: sparkError('name'),
      },
      {
        req: {
          method: 'POST',
          url: `/api/websites/${site.id}/goals`,
          payload: { name: 'n', goal_type: 'event', match_value: nul },
        },
        status: 422,
        body: sparkError('match_value'),
      },
      {
        req: {
          method: 'POST',
          url: `/api/websites/${site.id}/goals`,
          payload: { name: nul, goal_type: 'event', match_value: 'signup' },
        },
        status: 422,
        body: sparkError('name'),
      },
      {
        req: {
          method: 'POST',
          url: `/api/websites/${site.id}/goals`,
          payload: {
            name: 'n2',
            goal_type: 'event',
            match_value: 'x',
            property_filters: [{ key: 'plan', operator: 'equals', value: nul }],
          },
        },
        status: 422,
        body: sparkError('property_filters[0].value'),
      },
      {
        req: { url: `/api/websites/${site.id}/goals/${goalId}/stats?filter_country=${'%00'}` },
        status: 422,
        body: sparkError('filter_country'),
      },
      {
        req: {
          url: `/api/goals/${site.numeric_id}?filters=${encodeURIComponent(
            JSON.stringify([{ parameter: 'country', type: 'equals', value: [nul] }]),
          )}`,
        },
        status: 400,
        body: rybbitError('filters[0].value[0]'),
      },
      {
        req: {
          method: 'POST',
          url: `/api/goals/${site.numeric_id}`,
          payload: { goalType: 'event', config: { eventName: nul } },
        },
        status: 400,
        body: rybbitError('config.eventName'),
      },
    ];
    for (const c of cases) {
      const res = await f.app.inject({ ...c.req, headers: auth() });
      expect(res.statusCode, JSON.stringify(c.req)).toBe(c.status);
      expect(res.json()).toEqual(c.body);
    }
  });

  it('refuses time zones the database does not know and offset forms, at create and update', async () => {
    for (const timezone of ['US/Pacific-New', '+05:30', 'UTC+5', 'Mars/Olympus']) {
      const create = await f.app.inject({
        method: 'POST',
        url: '/api/websites',
        headers: auth(),
        payload: { name: 'tz', domain: 'tz.example', timezone },
      });
      expect(create.statusCode, timezone).toBe(422);
      expect(create.json()).toEqual(sparkError('timezone'));
      const update = await f.app.inject({
        method: 'PUT',
        url: `/api/websites/${site.id}`,
        headers: auth(),
        payload: { timezone },
      });
      expect(update.statusCode, timezone).toBe(422);
      const stats = await f.app.inject({
        url: `/api/websites/${site.id}/goals/${goalId}/stats?timezone=${encodeURIComponent(timezone)}`,
        headers: auth(),
      });
      expect(stats.statusCode, timezone).toBe(422);
      expect(stats.json()).toEqual(sparkError('timezone'));
    }
  });

  it('a website stored with an unusable zone is listed and answers 422 naming it until changed', async () => {
    await f.db.query('test.bad_zone', 'UPDATE websites SET timezone = $2 WHERE id = $1', [
      site.id,
      'US/Pacific-New',
    ]);
    const { rows } = await f.db.query<{ website_id: string; timezone: string }>(
      'test.issues',
      'SELECT website_id, timezone FROM website_time_zone_issues WHERE website_id = $1',
      [site.id],
    );
    expect(rows).toEqual([{ website_id: site.id, timezone: 'US/Pacific-New' }]);
    const stats = await f.app.inject({
      url: `/api/websites/${site.id}/goals/${goalId}/stats`,
      headers: auth(),
    });
    expect(stats.statusCode).toBe(422);
    expect(stats.json<{ error: { message: string } }>().error.message).toContain('US/Pacific-New');
    const rybbit = await f.app.inject({ url: `/api/goals/${site.numeric_id}`, headers: auth() });
    expect(rybbit.statusCode).toBe(400);
    expect(rybbit.json()).toEqual(rybbitError('time_zone'));
    const fixed = await f.app.inject({
      method: 'PUT',
      url: `/api/websites/${site.id}`,
      headers: auth(),
      payload: { timezone: 'America/Los_Angeles' },
    });
    expect(fixed.statusCode).toBe(200);
    const after = await f.app.inject({
      url: `/api/websites/${site.id}/goals/${goalId}/stats`,
      headers: auth(),
    });
    expect(after.statusCode).toBe(200);
  });

  it('paths Fastify cannot decode or that exceed the parameter limit get the dialect error body', async () => {
    // Found by test/e2e/generated-input.test.ts: these answered Fastify's own body
    // `{error, code, message, statusCode}` instead of the documented one.
    const long = 'x'.repeat(300);
    for (const [url, status] of [
      ['/api/websites/%ED%A0%80', 400],
      ['/api/websites/%FF/goals', 400],
      [`/api/websites/${long}`, 414],
    ] as const) {
      const res = await f.app.inject({ url, headers: auth() });
      expect(res.statusCode, url).toBe(status);
      expect(res.json(), url).toEqual(sparkError(null));
    }
    for (const [url, status] of [
      ['/api/goals/%C0%AF', 400],
      [`/api/goals/${long}`, 414],
    ] as const) {
      const res = await f.app.inject({ url, headers: auth() });
      expect(res.statusCode, url).toBe(status);
      expect(res.json(), url).toEqual({ error: anyString });
    }
  });

  it('HEAD on the live stream is refused instead of opening a stream that never ends', async () => {
    // Found by the generated-input suite: Fastify's automatic HEAD twin ran the stream handler,
    // which never ended the response, so the client's keep-alive connection hung.
    const res = await f.app.inject({
      method: 'HEAD',
      url: `/api/websites/${site.id}/goals/live`,
      headers: auth(),
    });
    expect(res.statusCode).toBe(404);
  });
});
