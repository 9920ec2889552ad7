import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toRybbitGoal } from '../../api/goals/goal.schemas.js';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { GoalCache } from '../../processor/goals/goal.cache.js';
import { JOBS, backfillJobId } from '../../shared/jobs/queues.js';
import { waitFor } from '../helpers/deps.js';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

// Asymmetric matchers are typed `any`; give them a type once.
const anyString: unknown = expect.any(String);
const anyNumber: unknown = expect.any(Number);

/**
 * The goal management API on the real database and Redis: websites, both goal dialects over
 * one store, validation, backfill hand-off and cache invalidation. Auth and concurrency have
 * their own files.
 */
describe('goal management API', () => {
  let f: ApiFixture;
  let auth: { authorization: string };
  const siteIds: string[] = [];

  async function createSite(name = 'Shop'): Promise<{ id: string; numeric_id: number }> {
    const res = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: auth,
      payload: { name, domain: 'shop.example.com' },
    });
    expect(res.statusCode).toBe(201);
    const site = res.json<{ data: { id: string; numeric_id: number } }>().data;
    siteIds.push(site.id);
    return site;
  }

  const goalsUrl = (site: string) => `/api/websites/${site}/goals`;
  const post = (url: string, payload: unknown) =>
    f.app.inject({ method: 'POST', url, headers: auth, payload: payload as object });
  const put = (url: string, payload: unknown) =>
    f.app.inject({ method: 'PUT', url, headers: auth, payload: payload as object });

  beforeAll(async () => {
    f = await openApiFixture('goals-api');
    auth = bearer(f.bootstrapKey);
  });

  afterAll(async () => {
    if (siteIds.length > 0) {
      await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [siteIds]);
    }
    await f.close();
  });

  describe('websites', () => {
    it('creates, reads (by either id form), lists, updates and deletes a website', async () => {
      const res = await f.app.inject({
        method: 'POST',
        url: '/api/websites',
        headers: auth,
        payload: {
          name: '  Docs  ',
          domain: 'Docs.Example.com',
          allowed_origins: ['https://www.example.com'],
          timezone: 'Europe/Berlin',
        },
      });
      expect(res.statusCode).toBe(201);
      const site = res.json<{ data: Record<string, unknown> }>().data;
      siteIds.push(site.id as string);
      expect(site).toMatchObject({
        name: 'Docs',
        domain: 'docs.example.com',
        allowed_origins: ['https://www.example.com'],
        timezone: 'Europe/Berlin',
        bot_policy: 'balanced',
      });
      expect(site.id).toMatch(/^site_[0-9a-z]{10}$/);
      expect(site.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

      const byNumeric = await f.app.inject({
        url: `/api/websites/${site.numeric_id as number}`,
        headers: auth,
      });
      expect(byNumeric.json<{ data: { id: string } }>().data.id).toBe(site.id);

      const list = await f.app.inject({ url: '/api/websites', headers: auth });
      expect(list.json<{ data: Array<{ id: string }> }>().data.map((w) => w.id)).toContain(site.id);

      const upd = await put(`/api/websites/${site.id as string}`, { bot_policy: 'strict' });
      expect(upd.statusCode).toBe(200);
      expect(upd.json<{ data: Record<string, unknown> }>().data).toMatchObject({
        bot_policy: 'strict',
        name: 'Docs',
        timezone: 'Europe/Berlin',
      });

      const del = await f.app.inject({
        method: 'DELETE',
        url: `/api/websites/${site.id as string}`,
        headers: auth,
      });
      expect(del.statusCode).toBe(204);
      const gone = await f.app.inject({ url: `/api/websites/${site.id as string}`, headers: auth });
      expect(gone.statusCode).toBe(404);
    });

    it.each([
      [{ name: ' ', domain: 'a.example' }, 'name'],
      [{ name: 'x'.repeat(101), domain: 'a.example' }, 'name'],
      [{ name: 'A', domain: 'https://a.example/path' }, 'domain'],
      [{ name: 'A', domain: 'a.example', timezone: 'Mars/Olympus' }, 'timezone'],
      [{ name: 'A', domain: 'a.example', bot_policy: 'paranoid' }, 'bot_policy'],
      [
        { name: 'A', domain: 'a.example', allowed_origins: ['https://a.example/x'] },
        'allowed_origins[0]',
      ],
      [{ name: 'A', domain: 'a.example', owner: 'me' }, 'owner'],
      [{ domain: 'a.example' }, 'name'],
    ])('refuses website %j with 422 naming %s', async (payload, field) => {
      const res = await post('/api/websites', payload);
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({
        error: { code: 'validation_error', message: anyString, field },
      });
    });

    it('answers 404 for malformed and unknown website ids', async () => {
      for (const id of ['nope', 'site_0000000000', '999999999999']) {
        const res = await f.app.inject({ url: `/api/websites/${id}`, headers: auth });
        expect(res.statusCode).toBe(404);
        expect(res.json()).toMatchObject({ error: { code: 'not_found', field: 'website_id' } });
      }
    });
  });

  describe('Sparklytics dialect', () => {
    it('creates the documented example and returns the goal object', async () => {
      const site = await createSite();
      const res = await post(goalsUrl(site.id), {
        name: 'Pro Signup',
        goal_type: 'event',
        match_value: 'signup_click',
        match_operator: 'equals',
        value_mode: 'fixed',
        fixed_value: 99.0,
        currency: 'usd',
      });
      expect(res.statusCode).toBe(201);
      const g = res.json<{ data: Record<string, unknown> }>().data;
      expect(g).toMatchObject({
        website_id: site.id,
        name: 'Pro Signup',
        goal_type: 'event',
        match_value: 'signup_click',
        match_operator: 'equals',
        case_sensitive: true,
        property_filters: [],
        value_mode: 'fixed',
        fixed_value: 99,
        value_property_key: null,
        currency: 'USD',
        backfill: {
          state: 'queued',
          progress: 0,
          events_scanned: 0,
          started_at: null,
          finished_at: null,
        },
      });
      expect(g.id).toMatch(/^goal_[0-9a-z]{21}$/);
      expect(typeof g.numeric_id).toBe('number');

      const one = await f.app.inject({
        url: `${goalsUrl(site.id)}/${g.id as string}`,
        headers: auth,
      });
      expect(one.json<{ data: unknown }>().data).toEqual(g);
      const list = await f.app.inject({ url: goalsUrl(String(site.numeric_id)), headers: auth });
      expect(list.json<{ data: unknown[] }>().data).toEqual([g]);
    });

    it('accepts page_view as an alias and outputs pageview; glob, regex and filters round-trip', async () => {
      const site = await createSite();
      const pv = await post(goalsUrl(site.id), {
        name: 'Blog',
        goal_type: 'page_view',
        match_value: '/blog/**',
        match_operator: 'glob',
        case_sensitive: false,
      });
      expect(pv.statusCode).toBe(201);
      expect(pv.json<{ data: { goal_type: string } }>().data.goal_type).toBe('pageview');

      const rx = await post(goalsUrl(site.id), {
        name: 'Product',
        goal_type: 'pageview',
        match_value: '^/p/[0-9]+$',
        match_operator: 'regex',
      });
      expect(rx.statusCode).toBe(201);

      const ev = await post(goalsUrl(site.id), {
        name: 'Big purchase',
        goal_type: 'event',
        match_value: 'purchase',
        property_filters: [
          { key: 'amount', operator: 'gte', value: 100 },
          { key: 'coupon', operator: 'exists' },
          { key: 'plan', operator: 'equals', value: 'pro' },
          { key: 'trial', operator: 'not_equals', value: true },
        ],
        value_mode: 'event_property',
        value_property_key: 'amount',
      });
      expect(ev.statusCode).toBe(201);
      expect(ev.json<{ data: { property_filters: unknown } }>().data.property_filters).toEqual([
        { key: 'amount', operator: 'gte', value: 100 },
        { key: 'coupon', operator: 'exists' },
        { key: 'plan', operator: 'equals', value: 'pro' },
        { key: 'trial', operator: 'not_equals', value: true },
      ]);
    });

    it.each<[string, Record<string, unknown>, string, string]>([
      ['missing name', { goal_type: 'event', match_value: 'x' }, 'validation_error', 'name'],
      [
        'blank name',
        { name: '   ', goal_type: 'event', match_value: 'x' },
        'validation_error',
        'name',
      ],
      [
        '101-char name',
        { name: 'é'.repeat(101), goal_type: 'event', match_value: 'x' },
        'validation_error',
        'name',
      ],
      ['missing goal_type', { name: 'a', match_value: 'x' }, 'validation_error', 'goal_type'],
      [
        'bad goal_type',
        { name: 'a', goal_type: 'click', match_value: 'x' },
        'validation_error',
        'goal_type',
      ],
      ['missing match_value', { name: 'a', goal_type: 'event' }, 'validation_error', 'match_value'],
      [
        'empty match_value',
        { name: 'a', goal_type: 'event', match_value: '' },
        'validation_error',
        'match_value',
      ],
      [
        '501-char match_value',
        { name: 'a', goal_type: 'event', match_value: 'x'.repeat(501) },
        'validation_error',
        'match_value',
      ],
      [
        'bad operator',
        { name: 'a', goal_type: 'event', match_value: 'x', match_operator: 'like' },
        'validation_error',
        'match_operator',
      ],
      [
        'broken regex',
        { name: 'a', goal_type: 'pageview', match_value: '(', match_operator: 'regex' },
        'validation_error',
        'match_value',
      ],
      [
        'backreference',
        { name: 'a', goal_type: 'pageview', match_value: '(a)\\1', match_operator: 'regex' },
        'validation_error',
        'match_value',
      ],
      [
        'lookahead',
        { name: 'a', goal_type: 'pageview', match_value: '/(?=x)', match_operator: 'regex' },
        'validation_error',
        'match_value',
      ],
      [
        'regex too big a program for the engine',
        { name: 'a', goal_type: 'pageview', match_value: '(a{200}){2}', match_operator: 'regex' },
        'validation_error',
        'match_value',
      ],
      [
        'fixed without value',
        { name: 'a', goal_type: 'event', match_value: 'x', value_mode: 'fixed' },
        'validation_error',
        'fixed_value',
      ],
      [
        'negative fixed_value',
        { name: 'a', goal_type: 'event', match_value: 'x', value_mode: 'fixed', fixed_value: -1 },
        'validation_error',
        'fixed_value',
      ],
      [
        'fixed_value as text',
        { name: 'a', goal_type: 'event', match_value: 'x', value_mode: 'fixed', fixed_value: '9' },
        'validation_error',
        'fixed_value',
      ],
      [
        'event_property without key',
        { name: 'a', goal_type: 'event', match_value: 'x', value_mode: 'event_property' },
        'validation_error',
        'value_property_key',
      ],
      [
        'fixed_value with mode none',
        { name: 'a', goal_type: 'event', match_value: 'x', fixed_value: 5 },
        'validation_error',
        'fixed_value',
      ],
      [
        'key with mode fixed',
        {
          name: 'a',
          goal_type: 'event',
          match_value: 'x',
          value_mode: 'fixed',
          fixed_value: 1,
          value_property_key: 'k',
        },
        'validation_error',
        'value_property_key',
      ],
      [
        'empty currency',
        { name: 'a', goal_type: 'event', match_value: 'x', currency: '' },
        'validation_error',
        'currency',
      ],
      [
        '9-char currency',
        { name: 'a', goal_type: 'event', match_value: 'x', currency: 'ABCDEFGHI' },
        'validation_error',
        'currency',
      ],
      [
        'hostname on an event goal',
        { name: 'a', goal_type: 'event', match_value: 'x', hostname: 'shop.example' },
        'validation_error',
        'hostname',
      ],
      [
        'operator any on a pageview goal',
        { name: 'a', goal_type: 'pageview', match_operator: 'any' },
        'validation_error',
        'match_operator',
      ],
      [
        'a value with operator any',
        { name: 'a', goal_type: 'outbound', match_operator: 'any', match_value: 'x' },
        'validation_error',
        'match_value',
      ],
      [
        'an autocapture goal without a value or any',
        { name: 'a', goal_type: 'copy' },
        'validation_error',
        'match_value',
      ],
      [
        'an unknown goal type',
        { name: 'a', goal_type: 'click', match_value: 'x' },
        'validation_error',
        'goal_type',
      ],
      [
        'filter without value',
        {
          name: 'a',
          goal_type: 'event',
          match_value: 'x',
          property_filters: [{ key: 'k', operator: 'gt' }],
        },
        'validation_error',
        'property_filters[0].value',
      ],
      [
        'exists with value',
        {
          name: 'a',
          goal_type: 'event',
          match_value: 'x',
          property_filters: [{ key: 'k', operator: 'exists', value: 1 }],
        },
        'validation_error',
        'property_filters[0].value',
      ],
      [
        'bad filter value type',
        {
          name: 'a',
          goal_type: 'event',
          match_value: 'x',
          property_filters: [{ key: 'k', operator: 'equals', value: { a: 1 } }],
        },
        'validation_error',
        'property_filters[0].value',
      ],
      [
        'bad filter operator',
        {
          name: 'a',
          goal_type: 'event',
          match_value: 'x',
          property_filters: [{ key: 'k', operator: 'in', value: 1 }],
        },
        'validation_error',
        'property_filters[0].operator',
      ],
      [
        'empty filter key',
        {
          name: 'a',
          goal_type: 'event',
          match_value: 'x',
          property_filters: [{ key: '', operator: 'exists' }],
        },
        'validation_error',
        'property_filters[0].key',
      ],
      [
        'unknown field',
        { name: 'a', goal_type: 'event', match_value: 'x', colour: 'red' },
        'validation_error',
        'colour',
      ],
      [
        'unknown nested field',
        {
          name: 'a',
          goal_type: 'event',
          match_value: 'x',
          property_filters: [{ key: 'k', operator: 'exists', extra: 1 }],
        },
        'validation_error',
        'property_filters[0].extra',
      ],
    ])('create refuses %s', async (_what, payload, code, field) => {
      const site = await createSite();
      const res = await post(goalsUrl(site.id), payload);
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ error: { code, message: anyString, field } });
    });

    it('counts code points: a 100-emoji name and a 500-emoji match value are accepted', async () => {
      const site = await createSite();
      const res = await post(goalsUrl(site.id), {
        name: '🎉'.repeat(100),
        goal_type: 'event',
        match_value: '🎉'.repeat(500),
      });
      expect(res.statusCode).toBe(201);
    });

    it('refuses a duplicate name ignoring case, trimmed (422 duplicate_name)', async () => {
      const site = await createSite();
      expect(
        (await post(goalsUrl(site.id), { name: 'Signup', goal_type: 'event', match_value: 'a' }))
          .statusCode,
      ).toBe(201);
      const dup = await post(goalsUrl(site.id), {
        name: '  SIGNUP ',
        goal_type: 'event',
        match_value: 'b',
      });
      expect(dup.statusCode).toBe(422);
      expect(dup.json()).toEqual({
        error: {
          code: 'duplicate_name',
          message: 'goal name already exists for this website',
          field: 'name',
        },
      });
      const other = await post(goalsUrl(site.id), {
        name: 'Other',
        goal_type: 'event',
        match_value: 'c',
      });
      const id = other.json<{ data: { id: string } }>().data.id;
      const rename = await put(`${goalsUrl(site.id)}/${id}`, { name: 'signup' });
      expect(rename.statusCode).toBe(422);
      expect(rename.json()).toMatchObject({ error: { code: 'duplicate_name', field: 'name' } });
    });

    it('answers 400 bad_request for malformed JSON', async () => {
      const site = await createSite();
      const res = await f.app.inject({
        method: 'POST',
        url: goalsUrl(site.id),
        headers: { ...auth, 'content-type': 'application/json' },
        payload: '{"name": ',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: { code: 'bad_request', message: anyString, field: null },
      });
    });

    it('PUT is partial and validates the merged result', async () => {
      const site = await createSite();
      const created = await post(goalsUrl(site.id), {
        name: 'Pro',
        goal_type: 'event',
        match_value: 'signup',
        value_mode: 'fixed',
        fixed_value: 99,
      });
      const g = created.json<{ data: { id: string } }>().data;
      const url = `${goalsUrl(site.id)}/${g.id}`;

      const same = await put(url, { value_mode: 'fixed' });
      expect(same.statusCode).toBe(200);
      expect(same.json<{ data: { fixed_value: number } }>().data.fixed_value).toBe(99);

      const price = await put(url, { name: 'Pro (Updated)', fixed_value: 149 });
      expect(price.json<{ data: object }>().data).toMatchObject({
        name: 'Pro (Updated)',
        fixed_value: 149,
      });

      const wrongField = await put(url, { value_property_key: 'amount' });
      expect(wrongField.statusCode).toBe(422);
      expect(wrongField.json()).toMatchObject({
        error: { code: 'validation_error', field: 'value_property_key' },
      });

      const toProperty = await put(url, { value_mode: 'event_property' });
      expect(toProperty.statusCode).toBe(422);
      expect(toProperty.json()).toMatchObject({ error: { field: 'value_property_key' } });

      const none = await put(url, { value_mode: 'none' });
      expect(none.json<{ data: object }>().data).toMatchObject({
        value_mode: 'none',
        fixed_value: null,
      });

      const stray = await put(url, { fixed_value: 10 });
      expect(stray.statusCode).toBe(422);
      expect(stray.json()).toMatchObject({ error: { field: 'fixed_value' } });

      const typeChange = await put(url, { goal_type: 'pageview' });
      expect(typeChange.statusCode).toBe(422);
      expect(typeChange.json()).toMatchObject({
        error: { code: 'validation_error', field: 'goal_type' },
      });

      const toRegex = await put(url, { match_operator: 'regex', match_value: '\\u0041' });
      expect(toRegex.statusCode).toBe(422);
      expect(toRegex.json()).toMatchObject({ error: { field: 'match_value' } });

      const unknown = await put(url, { colour: 'red' });
      expect(unknown.statusCode).toBe(422);
      expect(unknown.json()).toMatchObject({ error: { field: 'colour' } });
    });

    it('DELETE answers 204, then 404; unknown and malformed goal ids are 404', async () => {
      const site = await createSite();
      const created = await post(goalsUrl(site.id), {
        name: 'Gone',
        goal_type: 'event',
        match_value: 'x',
      });
      const id = created.json<{ data: { id: string } }>().data.id;
      const del = await f.app.inject({
        method: 'DELETE',
        url: `${goalsUrl(site.id)}/${id}`,
        headers: auth,
      });
      expect(del.statusCode).toBe(204);
      expect(del.body).toBe('');
      for (const ref of [id, 'goal_123', 'nonsense']) {
        for (const method of ['GET', 'PUT', 'DELETE'] as const) {
          const res = await f.app.inject({
            method,
            url: `${goalsUrl(site.id)}/${ref}`,
            headers: auth,
            ...(method === 'PUT' ? { payload: { name: 'x' } } : {}),
          });
          expect(res.statusCode).toBe(404);
          expect(res.json()).toMatchObject({ error: { code: 'not_found', field: 'goal_id' } });
        }
      }
    });

    it('a goal of another website is 404', async () => {
      const a = await createSite();
      const b = await createSite();
      const created = await post(goalsUrl(a.id), {
        name: 'A',
        goal_type: 'event',
        match_value: 'x',
      });
      const id = created.json<{ data: { id: string } }>().data.id;
      const res = await f.app.inject({ url: `${goalsUrl(b.id)}/${id}`, headers: auth });
      expect(res.statusCode).toBe(404);
    });
  });

  describe('Rybbit dialect', () => {
    it('creates path and event goals, stored as the same goal, with default names', async () => {
      const site = await createSite();
      const path = await post(`/api/goals/${site.numeric_id}`, {
        name: 'Checkout Complete',
        goalType: 'path',
        config: { pathPattern: '/checkout/success' },
      });
      expect(path.statusCode).toBe(201);
      const pathId = path.json<{ success: boolean; goalId: number }>();
      expect(pathId).toEqual({ success: true, goalId: anyNumber });

      const unnamed = async () =>
        post(`/api/sites/${site.numeric_id}/goals`, {
          goalType: 'event',
          config: { eventName: 'purchase', eventPropertyKey: 'plan', eventPropertyValue: 'pro' },
        });
      expect((await unnamed()).statusCode).toBe(201);
      expect((await unnamed()).statusCode).toBe(201);
      expect((await unnamed()).statusCode).toBe(201);

      const list = await f.app.inject({ url: goalsUrl(site.id), headers: auth });
      const goals = list.json<{ data: Array<Record<string, unknown>> }>().data;
      expect(goals.map((g) => g.name)).toEqual([
        'Checkout Complete',
        'event: purchase',
        'event: purchase (2)',
        'event: purchase (3)',
      ]);
      expect(goals[0]).toMatchObject({
        numeric_id: pathId.goalId,
        goal_type: 'pageview',
        match_operator: 'glob',
        match_value: '/checkout/success',
      });
      expect(goals[1]).toMatchObject({
        goal_type: 'event',
        match_operator: 'equals',
        match_value: 'purchase',
        property_filters: [{ key: 'plan', operator: 'equals', value: 'pro' }],
      });
    });

    it('PUT replaces name and config; changing goalType is a 400; DELETE answers success', async () => {
      const site = await createSite();
      const created = await post(`/api/goals/${site.id}`, {
        name: 'Signup',
        goalType: 'path',
        config: { pathPattern: '/signup' },
      });
      const { goalId } = created.json<{ goalId: number }>();
      const upd = await put(`/api/goals/${goalId}/${site.numeric_id}`, {
        name: 'Signup Completed (Updated)',
        goalType: 'path',
        config: { pathPattern: '/signup/complete/*' },
      });
      expect(upd.statusCode).toBe(200);
      expect(upd.json()).toEqual({ success: true, goalId });
      const stored = await goalRepository.findByRef(f.db, site.id, { numericId: goalId });
      expect(stored).toMatchObject({
        name: 'Signup Completed (Updated)',
        match_value: '/signup/complete/*',
      });

      const typeChange = await put(`/api/sites/${site.id}/goals/${goalId}`, {
        goalType: 'event',
        config: { eventName: 'x' },
      });
      expect(typeChange.statusCode).toBe(400);
      expect(typeChange.json()).toEqual({
        error: 'Validation error',
        details: [{ field: 'goalType', message: <unknown>expect.stringContaining('goalType') }],
      });

      const del = await f.app.inject({
        method: 'DELETE',
        url: `/api/goals/${goalId}/${site.numeric_id}`,
        headers: auth,
      });
      expect(del.statusCode).toBe(200);
      expect(del.json()).toEqual({ success: true });
      const again = await f.app.inject({
        method: 'DELETE',
        url: `/api/goals/${goalId}/${site.numeric_id}`,
        headers: auth,
      });
      expect(again.statusCode).toBe(404);
      expect(again.json()).toEqual({ error: 'goal not found' });
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['missing goalType', { config: { pathPattern: '/' } }, 'goalType'],
      ['bad goalType', { goalType: 'click', config: {} }, 'goalType'],
      ['page goalType (not one)', { goalType: 'page', config: { pathPattern: '/' } }, 'goalType'],
      [
        '513-char valuePattern',
        { goalType: 'outbound', config: { valuePattern: 'x'.repeat(513) } },
        'config.valuePattern',
      ],
      [
        'autocapture goal with eventName',
        { goalType: 'button_click', config: { eventName: 'x' } },
        'config.eventName',
      ],
      [
        'event goal with valuePattern',
        { goalType: 'event', config: { eventName: 'x', valuePattern: 'y' } },
        'config.valuePattern',
      ],
      [
        'filter without value',
        { goalType: 'copy', config: { propertyFilters: [{ key: 'k' }] } },
        'config.propertyFilters[0].value',
      ],
      [
        'bad hostname',
        { goalType: 'path', config: { pathPattern: '/', hostname: 'a b' } },
        'config.hostname',
      ],
      ['missing config', { goalType: 'path' }, 'config'],
      ['path without pattern', { goalType: 'path', config: {} }, 'config.pathPattern'],
      ['empty pattern', { goalType: 'path', config: { pathPattern: '' } }, 'config.pathPattern'],
      [
        'path with event fields',
        { goalType: 'path', config: { pathPattern: '/', eventName: 'x' } },
        'config.eventName',
      ],
      ['event without name', { goalType: 'event', config: {} }, 'config.eventName'],
      [
        'key without value',
        { goalType: 'event', config: { eventName: 'x', eventPropertyKey: 'k' } },
        'config.eventPropertyValue',
      ],
      [
        'value without key',
        { goalType: 'event', config: { eventName: 'x', eventPropertyValue: 1 } },
        'config.eventPropertyKey',
      ],
      [
        'object value',
        {
          goalType: 'event',
          config: { eventName: 'x', eventPropertyKey: 'k', eventPropertyValue: [1] },
        },
        'config.eventPropertyValue',
      ],
      ['unknown field', { goalType: 'path', config: { pathPattern: '/' }, extra: 1 }, 'extra'],
      [
        'unknown config field',
        { goalType: 'path', config: { pathPattern: '/', regex: 'x' } },
        'config.regex',
      ],
      [
        '101-char name',
        { name: 'n'.repeat(101), goalType: 'path', config: { pathPattern: '/' } },
        'name',
      ],
    ])('create refuses %s with 400 {error, details}', async (_what, payload, field) => {
      const site = await createSite();
      const res = await post(`/api/goals/${site.numeric_id}`, payload);
      expect(res.statusCode).toBe(400);
      // Rybbit's own body: a fixed error, the field and what is wrong in details.
      expect(res.json()).toEqual({
        error: 'Validation error',
        details: [{ field, message: anyString }],
      });
    });

    it('duplicate names and malformed JSON are 400s; unknown site and foreign goals are 404s', async () => {
      const site = await createSite();
      const other = await createSite();
      const body = { name: 'Same', goalType: 'event', config: { eventName: 'x' } };
      expect((await post(`/api/goals/${site.numeric_id}`, body)).statusCode).toBe(201);
      const dup = await post(`/api/goals/${site.numeric_id}`, { ...body, name: 'SAME' });
      expect(dup.statusCode).toBe(400);
      expect(dup.json()).toEqual({
        error: 'goal name already exists for this website',
        details: [{ field: 'name', message: 'goal name already exists for this website' }],
      });
      const bad = await f.app.inject({
        method: 'POST',
        url: `/api/goals/${site.numeric_id}`,
        headers: { ...auth, 'content-type': 'application/json' },
        payload: '{',
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toEqual({ error: anyString });

      const unknownSite = await post('/api/goals/999999999999', body);
      expect(unknownSite.statusCode).toBe(404);
      expect(unknownSite.json()).toEqual({ error: 'website not found' });

      const otherGoal = await post(`/api/goals/${other.numeric_id}`, body);
      const { goalId } = otherGoal.json<{ goalId: number }>();
      const foreign = await put(`/api/goals/${goalId}/${site.numeric_id}`, body);
      expect(foreign.statusCode).toBe(404);
      const foreignDelete = await f.app.inject({
        method: 'DELETE',
        url: `/api/goals/${goalId}/${site.numeric_id}`,
        headers: auth,
      });
      expect(foreignDelete.statusCode).toBe(404);
    });
  });

  describe('one store, two dialects', () => {
    it('a Rybbit goal is visible via Sparklytics, and a Sparklytics regex goal via Rybbit with a goalpost object', async () => {
      const site = await createSite();
      const r = await post(`/api/goals/${site.numeric_id}`, {
        goalType: 'path',
        config: { pathPattern: '/docs/*' },
      });
      const { goalId } = r.json<{ goalId: number }>();
      const list = await f.app.inject({ url: goalsUrl(site.id), headers: auth });
      const viaSparklytics = list.json<{ data: Array<Record<string, unknown>> }>().data;
      expect(viaSparklytics).toEqual([<unknown>expect.objectContaining({
          numeric_id: goalId,
          name: 'path: /docs/*',
          goal_type: 'pageview',
          match_operator: 'glob',
          match_value: '/docs/*',
        })]);

      const s = await post(goalsUrl(site.id), {
        name: 'Product pages',
        goal_type: 'pageview',
        match_operator: 'regex',
        match_value: '^/p/[0-9]+$',
      });
      const sg = s.json<{ data: { id: string; numeric_id: number } }>().data;
      const stored = await goalRepository.findByRef(f.db, site.id, { id: sg.id });
      const rybbit = toRybbitGoal(stored!);
      expect(rybbit).toMatchObject({
        goalId: sg.numeric_id,
        name: 'Product pages',
        goalType: 'path',
        config: { pathPattern: '^/p/[0-9]+$' },
        goalpost: { id: sg.id, match_operator: 'regex', match_value: '^/p/[0-9]+$' },
      });
      const plain = toRybbitGoal(
        (await goalRepository.findByRef(f.db, site.id, { numericId: goalId }))!,
      );
      expect(plain).not.toHaveProperty('goalpost');
      expect(plain.config).toEqual({ pathPattern: '/docs/*' });

      // The Rybbit dialect manages the Sparklytics goal by its numeric id.
      const upd = await put(`/api/goals/${sg.numeric_id}/${site.numeric_id}`, {
        goalType: 'path',
        config: { pathPattern: '/p/*' },
      });
      expect(upd.statusCode).toBe(200);
      const after = await f.app.inject({ url: `${goalsUrl(site.id)}/${sg.id}`, headers: auth });
      expect(after.json<{ data: object }>().data).toMatchObject({
        name: 'Product pages',
        match_operator: 'glob',
        match_value: '/p/*',
      });
    });
  });

  describe('backfill hand-off and cache', () => {
    it('enqueues backfill-goal on create and on definition changes, not on a rename', async () => {
      const site = await createSite();
      const created = await post(goalsUrl(site.id), {
        name: 'Buy',
        goal_type: 'event',
        match_value: 'buy',
      });
      const g = created.json<{ data: { id: string } }>().data;

      const job1 = await f.queue.getJob(backfillJobId(g.id, 1));
      expect(job1?.name).toBe(JOBS.backfillGoal);
      expect(job1?.data).toEqual({ website_id: site.id, goal_id: g.id, definition_version: 1 });

      await put(`${goalsUrl(site.id)}/${g.id}`, { name: 'Buy now' });
      expect(await f.queue.getJob(backfillJobId(g.id, 2))).toBeUndefined();
      expect((await goalRepository.findById(f.db, site.id, g.id))?.definition_version).toBe(1);

      const changed = await put(`${goalsUrl(site.id)}/${g.id}`, { match_value: 'purchase' });
      expect(changed.json<{ data: { backfill: { state: string } } }>().data.backfill.state).toBe(
        'queued',
      );
      const job2 = await f.queue.getJob(backfillJobId(g.id, 2));
      expect(job2?.data).toEqual({ website_id: site.id, goal_id: g.id, definition_version: 2 });
      const row = await goalRepository.findById(f.db, site.id, g.id);
      expect(row?.definition_version).toBe(2);
      expect(row?.backfill).toEqual({
        state: 'queued',
        progress: 0,
        events_scanned: 0,
        started_at: null,
        finished_at: null,
        definition_version: 2,
      });

      // Rybbit creates enqueue too.
      const r = await post(`/api/goals/${site.numeric_id}`, {
        goalType: 'event',
        config: { eventName: 'x' },
      });
      const rg = await goalRepository.findByRef(f.db, site.id, {
        numericId: r.json<{ goalId: number }>().goalId,
      });
      expect(await f.queue.getJob(backfillJobId(rg!.id, 1))).toBeDefined();
    });

    it('a running GoalCache sees create, update and delete (delay logged, not asserted)', async () => {
      const site = await createSite();
      const cache = new GoalCache({ db: f.db, redis: f.redis, logger: f.logger }, 200);
      expect(await cache.get(site.id)).toEqual([]);

      const measure = async (
        what: string,
        write: () => Promise<void>,
        seen: () => Promise<boolean>,
      ) => {
        const t0 = performance.now();
        await write();
        await waitFor(what, async () => ((await seen()) ? true : undefined), {
          timeoutMs: 10_000,
          intervalMs: 10,
        });
        const ms = Math.round(performance.now() - t0);
        process.stdout.write(`goal cache: ${what} visible after ${ms} ms (recheck 200 ms)\n`);
      };

      let id = '';
      await measure(
        'create',
        async () => {
          const res = await post(goalsUrl(site.id), {
            name: 'C',
            goal_type: 'event',
            match_value: 'a',
          });
          id = res.json<{ data: { id: string } }>().data.id;
        },
        async () => (await cache.get(site.id)).some((c) => c.goal.id === id),
      );
      await measure(
        'update',
        async () => void (await put(`${goalsUrl(site.id)}/${id}`, { match_value: 'b' })),
        async () => (await cache.get(site.id)).some((c) => c.goal.match_value === 'b'),
      );
      await measure(
        'delete',
        async () =>
          void (await f.app.inject({
            method: 'DELETE',
            url: `${goalsUrl(site.id)}/${id}`,
            headers: auth,
          })),
        async () => (await cache.get(site.id)).length === 0,
      );
    });
  });

  describe('docs and sockets', () => {
    it('serves OpenAPI 3 generated from the schemas, and Swagger UI', async () => {
      const spec = await f.app.inject({ url: '/openapi.json' });
      expect(spec.statusCode).toBe(200);
      const doc = spec.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(
        <unknown>(
          expect.arrayContaining([
            '/api/websites',
            '/api/websites/{website_id}',
            '/api/websites/{website_id}/goals',
            '/api/websites/{website_id}/goals/{goal_id}',
            '/api/goals/{site}',
            '/api/goals/{goalId}/{site}',
            '/api/sites/{site}/goals',
            '/api/sites/{site}/goals/{goalId}',
          ])
        ),
      );
      expect(doc.paths['/api/websites/{website_id}/goals']).toHaveProperty('post.requestBody');
      const ui = await f.app.inject({ url: '/docs/' });
      expect(ui.statusCode).toBe(200);
      expect(ui.body).toContain('swagger');
    });

    it('works over a real socket: key → website → goal in both dialects', async () => {
      const address = await f.app.listen({ host: '127.0.0.1', port: 0 });
      const headers = { ...auth, 'content-type': 'application/json' };
      const site = await fetch(`${address}/api/websites`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'Socket shop', domain: 'socket.example' }),
      });
      expect(site.status).toBe(201);
      const s = ((await site.json()) as { data: { id: string; numeric_id: number } }).data;
      siteIds.push(s.id);
      const sp = await fetch(`${address}/api/websites/${s.id}/goals`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'Thanks', goal_type: 'pageview', match_value: '/thank-you' }),
      });
      expect(sp.status).toBe(201);
      const ry = await fetch(`${address}/api/goals/${s.numeric_id}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ goalType: 'event', config: { eventName: 'signup' } }),
      });
      expect(ry.status).toBe(201);
      expect(await ry.json()).toEqual({ success: true, goalId: anyNumber });
      const noKey = await fetch(`${address}/api/websites/${s.id}/goals`);
      expect(noKey.status).toBe(401);
    });
  });
});
