import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { backfillJobId } from '../../shared/jobs/queues.js';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

// Asymmetric matchers are typed `any`; give them a type once.
const anyString: unknown = expect.any(String);
const anyNumber: unknown = expect.any(Number);
const matching = (re: RegExp): unknown => expect.stringMatching(re);
const containing = (o: Record<string, unknown>): unknown => expect.objectContaining(o);

/**
 * Funnel management in both dialects over one store: the Sparklytics CRUD with its rules and
 * check order, Rybbit's saved funnels (create, replace by reportId, delete) and its refusals,
 * funnels saved in one dialect listed in the other, steps as hidden step goals with a backfill
 * each, and the results' query rules. The results themselves are checked against an oracle in
 * test/stats/funnels-oracle.test.ts.
 */
describe('funnel management API', () => {
  let f: ApiFixture;
  let auth: { authorization: string };
  const siteIds: string[] = [];

  async function createSite(): Promise<{ id: string; numeric_id: number }> {
    const res = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: auth,
      payload: { name: 'Funnels', domain: 'shop.example.com' },
    });
    expect(res.statusCode).toBe(201);
    const site = res.json<{ data: { id: string; numeric_id: number } }>().data;
    siteIds.push(site.id);
    return site;
  }

  const req = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    f.app.inject({
      method,
      url,
      headers: auth,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const funnelsUrl = (site: string) => `/api/websites/${site}/funnels`;
  const signup = {
    name: 'Signup',
    steps: [
      { step_type: 'page_view', match_value: '/pricing', label: 'Pricing' },
      { step_type: 'event', match_value: 'signup_started' },
      { step_type: 'event', match_value: 'signup_done', match_operator: 'equals' },
    ],
  };

  beforeAll(async () => {
    f = await openApiFixture('funnels-api');
    auth = bearer(f.bootstrapKey);
  });

  afterAll(async () => {
    if (siteIds.length > 0) {
      await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [siteIds]);
    }
    await f.close();
  });

  it('Sparklytics: creates, lists, reads, updates and deletes a funnel; steps are hidden goals', async () => {
    const site = await createSite();
    const created = await req('POST', funnelsUrl(site.id), signup);
    expect(created.statusCode).toBe(201);
    const funnel = created.json<{
      data: Record<string, unknown> & { id: string; steps: Array<{ id: string }> };
    }>().data;
    expect(funnel).toEqual({
      id: matching(/^fun_[0-9a-z]{21}$/),
      numeric_id: anyNumber,
      website_id: site.id,
      name: 'Signup',
      window_seconds: null,
      backfill: containing({ state: 'queued', progress: 0 }),
      created_at: anyString,
      updated_at: anyString,
      steps: [
        {
          id: matching(/^fstep_[0-9a-z]{21}$/),
          funnel_id: funnel.id,
          step_order: 1,
          step_type: 'page_view',
          match_value: '/pricing',
          match_operator: 'equals',
          case_sensitive: true,
          property_filters: [],
          hostname: null,
          label: 'Pricing',
          created_at: anyString,
        },
        containing({ step_order: 2, step_type: 'event', label: 'signup_started' }),
        containing({
          step_order: 3,
          match_value: 'signup_done',
          label: 'signup_done',
        }),
      ],
    });
    // Each step is a goal the processor matches and the backfill fills in; the goal routes
    // never show it.
    const steps = await goalRepository.stepsOfFunnels(f.db, [funnel.id]);
    expect(steps.map((s) => s.step_order)).toEqual([1, 2, 3]);
    for (const s of steps) expect(await f.queue.getJob(backfillJobId(s.id, 1))).toBeDefined();
    const goals = await req('GET', `/api/websites/${site.id}/goals`);
    expect(goals.json<{ data: unknown[] }>().data).toEqual([]);
    expect((await req('GET', `/api/websites/${site.id}/goals/${steps[0]!.id}`)).statusCode).toBe(
      404,
    );
    // A goal may take a step's label as its name.
    expect(
      (
        await req('POST', `/api/websites/${site.id}/goals`, {
          name: 'Pricing',
          goal_type: 'pageview',
          match_value: '/pricing',
        })
      ).statusCode,
    ).toBe(201);

    const list = await req('GET', funnelsUrl(site.id));
    expect(list.json()).toEqual({
      data: [
        {
          id: funnel.id,
          website_id: site.id,
          name: 'Signup',
          step_count: 3,
          backfill: containing({ state: 'queued' }),
          created_at: anyString,
          updated_at: anyString,
        },
      ],
    });
    const byNumeric = await req('GET', `${funnelsUrl(site.id)}/${String(funnel.numeric_id)}`);
    expect(byNumeric.json<{ data: { id: string } }>().data.id).toBe(funnel.id);

    // A rename and new labels keep the steps (and their matches); new conditions replace them.
    const renamed = await req('PUT', `${funnelsUrl(site.id)}/${funnel.id}`, {
      name: 'Signup v2',
      steps: signup.steps.map((s, i) => ({ ...s, label: `Step ${i + 1}` })),
    });
    expect(renamed.statusCode).toBe(200);
    const r = renamed.json<{
      data: { name: string; steps: Array<{ id: string; label: string }> };
    }>().data;
    expect(r.name).toBe('Signup v2');
    expect(r.steps.map((s) => s.id)).toEqual(funnel.steps.map((s) => s.id));
    expect(r.steps.map((s) => s.label)).toEqual(['Step 1', 'Step 2', 'Step 3']);
    const replaced = await req('PUT', `${funnelsUrl(site.id)}/${funnel.id}`, {
      steps: [
        { step_type: 'page_view', match_value: '/pricing', match_operator: 'contains' },
        { step_type: 'event', match_value: 'signup_done' },
      ],
      window_seconds: 3600,
    });
    expect(replaced.statusCode).toBe(200);
    const rep = replaced.json<{
      data: { name: string; window_seconds: number; steps: Array<{ id: string }> };
    }>().data;
    expect(rep.name).toBe('Signup v2');
    expect(rep.window_seconds).toBe(3600);
    expect(rep.steps).toHaveLength(2);
    expect(rep.steps.some((s) => funnel.steps.some((o) => o.id === s.id))).toBe(false);
    expect(await goalRepository.stepsOfFunnels(f.db, [funnel.id])).toHaveLength(2);

    expect((await req('DELETE', `${funnelsUrl(site.id)}/${funnel.id}`)).statusCode).toBe(204);
    expect((await req('DELETE', `${funnelsUrl(site.id)}/${funnel.id}`)).json()).toEqual({
      error: { code: 'not_found', message: 'funnel not found', field: 'funnel_id' },
    });
    expect(await goalRepository.stepsOfFunnels(f.db, [funnel.id])).toEqual([]);
  });

  it('Sparklytics: refuses bad funnels in its check order, naming the field', async () => {
    const site = await createSite();
    const url = funnelsUrl(site.id);
    const refused = async (
      payload: unknown,
      status: number,
      code: string,
      field: string | null,
    ) => {
      const res = await req('POST', url, payload);
      expect({
        payload,
        status: res.statusCode,
        code: res.json<{ error: { code: string } }>().error.code,
        field: res.json<{ error: { field: string | null } }>().error.field,
      }).toEqual({ payload, status, code, field });
    };
    const step = { step_type: 'page_view', match_value: '/a' };
    await refused({ name: '  ', steps: [step] }, 422, 'validation_error', 'name');
    await refused({ name: 'x'.repeat(101), steps: [step, step] }, 422, 'validation_error', 'name');
    await refused({ name: 'One step', steps: [step] }, 422, 'validation_error', 'steps');
    await refused({ name: 'Nine', steps: Array(9).fill(step) }, 422, 'validation_error', 'steps');
    await refused(
      { name: 'Blank', steps: [step, { step_type: 'event', match_value: '' }] },
      422,
      'validation_error',
      'match_value',
    );
    await refused(
      { name: 'Label', steps: [step, { ...step, label: ' ' }] },
      422,
      'validation_error',
      'label',
    );
    await refused(
      { name: 'Regex', steps: [step, { ...step, match_operator: 'regex', match_value: '(a' }] },
      422,
      'validation_error',
      'match_value',
    );
    await refused(
      { name: 'Type', steps: [step, { step_type: 'path', match_value: '/a' }] },
      422,
      'validation_error',
      'steps[1].step_type',
    );
    await refused(
      { name: 'Unknown', steps: [step, step], extra: 1 },
      422,
      'validation_error',
      anyString as string,
    );

    for (let i = 0; i < 20; i++) {
      expect(
        (await req('POST', url, { name: `Funnel ${i}`, steps: [step, step] })).statusCode,
      ).toBe(201);
    }
    // The limit comes before the duplicate check.
    await refused({ name: 'funnel 0', steps: [step, step] }, 422, 'limit_exceeded', 'funnels');
    const list = (await req('GET', url)).json<{ data: Array<{ id: string; name: string }> }>().data;
    expect(list.map((x) => x.name)).toEqual(
      Array.from({ length: 20 }, (_, i) => `Funnel ${19 - i}`),
    );
    await req('DELETE', `${url}/${list[0]!.id}`);
    await refused({ name: 'FUNNEL 0', steps: [step, step] }, 422, 'duplicate_name', 'name');
    // Renaming onto another funnel's name, ignoring case.
    const rename = await req('PUT', `${url}/${list[1]!.id}`, { name: 'funnel 1' });
    expect(rename.json<{ error: { code: string } }>().error.code).toBe('duplicate_name');
    // An empty update is refused before the funnel is looked up.
    const empty = await req('PUT', `${url}/fun_${'0'.repeat(21)}`, {});
    expect(empty.statusCode).toBe(400);
    expect(empty.json<{ error: { message: string } }>().error.message).toBe(
      'request must include at least one updatable field',
    );
    expect((await req('PUT', `${url}/fun_${'0'.repeat(21)}`, { name: 'x' })).statusCode).toBe(404);
    expect((await req('GET', `${url}/not-a-funnel`)).statusCode).toBe(404);
  });

  it('Rybbit: saves, replaces by reportId and deletes; one model with the Sparklytics dialect', async () => {
    const site = await createSite();
    const other = await createSite();
    const saved = await req('POST', `/api/sites/${site.numeric_id}/funnels`, {
      name: 'Checkout',
      steps: [
        { type: 'page', value: '/cart/**', hostname: 'shop.example.com' },
        { type: 'page', value: '/checkout', propertyFilters: [{ key: 'step', value: 2 }] },
        { type: 'button_click', value: 'Pay*', name: 'Pay' },
      ],
    });
    expect(saved.statusCode).toBe(201);
    const { funnelId } = saved.json<{ success: true; funnelId: number }>();
    expect(saved.json()).toEqual({ success: true, funnelId: anyNumber });

    // Visible to the Sparklytics dialect, with the steps as goal conditions.
    const sp = (await req('GET', `${funnelsUrl(site.id)}/${funnelId}`)).json<{
      data: { steps: unknown[] };
    }>().data;
    expect(sp.steps).toEqual([
      containing({
        step_type: 'page_view',
        match_operator: 'glob',
        match_value: '/cart/**',
        hostname: 'shop.example.com',
      }),
      containing({
        property_filters: [{ key: 'step', operator: 'equals', value: 2 }],
      }),
      containing({
        step_type: 'button_click',
        match_operator: 'glob',
        match_value: 'Pay*',
        label: 'Pay',
      }),
    ]);
    // A Sparklytics funnel shows in the Rybbit list, oldest first.
    expect((await req('POST', funnelsUrl(site.id), signup)).statusCode).toBe(201);
    for (const url of [
      `/api/sites/${site.numeric_id}/funnels`,
      `/api/funnels/${site.numeric_id}`,
    ]) {
      const list = (await req('GET', url)).json<{ data: Array<Record<string, unknown>> }>().data;
      expect(list.map((x) => x.name)).toEqual(['Checkout', 'Signup']);
      expect(list[0]).toEqual({
        id: funnelId,
        name: 'Checkout',
        steps: [
          { type: 'page', value: '/cart/**', name: '/cart/**', hostname: 'shop.example.com' },
          {
            type: 'page',
            value: '/checkout',
            name: '/checkout',
            propertyFilters: [{ key: 'step', value: 2 }],
          },
          { type: 'button_click', value: 'Pay*', name: 'Pay' },
        ],
        configuration: {},
        createdAt: anyString,
        updatedAt: anyString,
        conversionRate: null,
        totalVisitors: null,
        funnelId: matching(/^fun_/),
        window_seconds: null,
        backfill: containing({ state: 'queued' }),
      });
      expect(list[1]!.steps).toEqual([
        { type: 'page', value: '/pricing', name: 'Pricing' },
        { type: 'event', value: 'signup_started', name: 'signup_started' },
        { type: 'event', value: 'signup_done', name: 'signup_done' },
      ]);
    }

    // Replace by reportId.
    const replaced = await req('POST', `/api/funnels/${site.numeric_id}`, {
      name: 'Checkout 2',
      reportId: funnelId,
      steps: [
        { type: 'page', value: '/cart' },
        { type: 'event', value: 'paid' },
      ],
    });
    expect(replaced.json()).toEqual({ success: true, funnelId });
    const after = (await req('GET', `${funnelsUrl(site.id)}/${funnelId}`)).json<{
      data: { name: string; steps: unknown[] };
    }>().data;
    expect(after.name).toBe('Checkout 2');
    expect(after.steps).toHaveLength(2);
    const otherSaved = await req('POST', `/api/sites/${other.numeric_id}/funnels`, {
      name: 'Other',
      steps: [
        { type: 'page', value: '/' },
        { type: 'event', value: 'x' },
      ],
    });
    const otherId = otherSaved.json<{ funnelId: number }>().funnelId;

    const refusals: Array<[unknown, number, string]> = [
      [
        { name: 'x', steps: [{ type: 'page', value: '/' }] },
        400,
        'At least 2 steps are required for a funnel',
      ],
      [
        {
          name: 'x',
          steps: [
            { type: 'page', value: '/' },
            { type: 'path', value: '/' },
          ],
        },
        400,
        'Invalid step type',
      ],
      [
        { name: 'x', steps: [{ type: 'page', value: '/' }, { type: 'event' }] },
        400,
        'Page and event steps require a value',
      ],
      [
        {
          steps: [
            { type: 'page', value: '/' },
            { type: 'event', value: 'e' },
          ],
        },
        400,
        'Funnel name is required',
      ],
      [
        { name: 'x', steps: Array(9).fill({ type: 'page', value: '/' }) },
        400,
        'A funnel has at most 8 steps',
      ],
      [
        {
          name: 'x',
          reportId: 999_999_999,
          steps: [
            { type: 'page', value: '/' },
            { type: 'event', value: 'e' },
          ],
        },
        404,
        'Funnel not found',
      ],
      [
        {
          name: 'x',
          reportId: otherId,
          steps: [
            { type: 'page', value: '/' },
            { type: 'event', value: 'e' },
          ],
        },
        403,
        'Forbidden',
      ],
      [
        {
          name: 'signup',
          steps: [
            { type: 'page', value: '/' },
            { type: 'event', value: 'e' },
          ],
        },
        400,
        'funnel name already exists for this website',
      ],
    ];
    for (const [payload, status, error] of refusals) {
      const res = await req('POST', `/api/sites/${site.numeric_id}/funnels`, payload);
      expect({
        payload,
        status: res.statusCode,
        error: res.json<{ error: string }>().error,
      }).toEqual({ payload, status, error });
    }

    expect(
      (await req('DELETE', `/api/sites/${site.numeric_id}/funnels/${otherId}`)).statusCode,
    ).toBe(403);
    const del = await req('DELETE', `/api/funnels/${funnelId}/${site.numeric_id}`);
    expect(del.json()).toEqual({ success: true });
    const again = await req('DELETE', `/api/sites/${site.numeric_id}/funnels/${funnelId}`);
    expect({ status: again.statusCode, body: again.json<unknown>() }).toEqual({
      status: 404,
      body: { error: 'Funnel not found' },
    });
  });

  it('results: the query rules of Sparklytics, and rates of 0 when nobody entered', async () => {
    const site = await createSite();
    const created = await req('POST', funnelsUrl(site.id), signup);
    const id = created.json<{ data: { id: string } }>().data.id;
    const results = (q: string) => req('GET', `${funnelsUrl(site.id)}/${id}/results${q}`);
    const ok = await results('?start_date=2026-01-01&end_date=2026-01-31&timezone=Europe/Berlin');
    expect(ok.statusCode).toBe(200);
    expect(ok.json<{ data: unknown }>().data).toEqual({
      funnel_id: id,
      name: 'Signup',
      total_sessions_entered: 0,
      final_conversion_rate: 0,
      backfill: containing({ state: 'queued' }),
      steps: ['Pricing', 'signup_started', 'signup_done'].map((label, i) => ({
        step_order: i + 1,
        label,
        sessions_reached: 0,
        drop_off_count: 0,
        drop_off_rate: 0,
        conversion_rate_from_start: 0,
        conversion_rate_from_previous: 0,
      })),
    });
    expect((await results('')).statusCode).toBe(200);
    const bad: Array<[string, string, string]> = [
      ['?start_date=2026-1-01', 'start_date', 'invalid start_date (expected YYYY-MM-DD)'],
      ['?end_date=2026-02-30', 'end_date', 'invalid end_date (expected YYYY-MM-DD)'],
      ['?start_date=2026-03-02&end_date=2026-03-01', 'end_date', 'end_date is before start_date'],
      [
        '?start_date=2026-01-01&end_date=2026-04-01',
        'start_date',
        'date range too large: 91 days (max 90)',
      ],
      ['?timezone=', 'timezone', 'invalid timezone'],
      ['?timezone=Mars/Base', 'timezone', 'invalid timezone'],
      ['?filter_country=%20', 'filter_country', 'filter_country must be 1–64 characters'],
      [`?filter_page=${'a'.repeat(513)}`, 'filter_page', 'filter_page must be 1–512 characters'],
      ['?include_bots=yes', 'include_bots', 'include_bots must be true or false'],
    ];
    for (const [q, field, message] of bad) {
      const res = await results(q);
      expect({ q, status: res.statusCode, body: res.json<unknown>() }).toEqual({
        q,
        status: 400,
        body: { error: { code: 'validation_error', message, field } },
      });
    }
    const steps = await req('GET', `${funnelsUrl(site.id)}/${id}/steps/4/sessions`);
    expect(steps.statusCode).toBe(404);
    const none = await req('GET', `${funnelsUrl(site.id)}/${id}/steps/2/sessions?mode=dropped`);
    expect(none.json()).toEqual({ data: [], next_cursor: null });

    // Rybbit's analysis and step sessions refuse what they cannot run.
    const analyze = (payload: unknown, q = '') =>
      req('POST', `/api/sites/${site.numeric_id}/funnels/analyze${q}`, payload);
    const two = [
      { type: 'page', value: '/pricing' },
      { type: 'event', value: 'signup_done' },
    ];
    const a = await analyze({ steps: two });
    expect(a.json()).toEqual({
      data: [
        {
          step_number: 1,
          step_name: '/pricing',
          sessions: 0,
          visitors: 0,
          conversion_rate: 0,
          dropoff_rate: 0,
        },
        {
          step_number: 2,
          step_name: 'signup_done',
          sessions: 0,
          visitors: 0,
          conversion_rate: 0,
          dropoff_rate: 0,
        },
      ],
    });
    const long = await analyze({ steps: two }, '?start_date=2026-01-01&end_date=2026-04-30');
    expect({ status: long.statusCode, error: long.json<{ error: string }>().error }).toEqual({
      status: 400,
      error: 'an analysis window is at most 90 days',
    });
    const sessions = (n: string, q: string) =>
      req('POST', `/api/sites/${site.numeric_id}/funnels/${n}/sessions${q}`, { steps: two });
    expect((await sessions('3', '')).json()).toEqual({
      error: 'Invalid step number',
      details: [{ field: 'stepNumber', message: 'Invalid step number' }],
    });
    expect((await sessions('1', '?mode=gone')).json<{ error: string }>().error).toBe(
      "Mode must be 'reached' or 'dropped'",
    );
    expect((await sessions('1', '?limit=101')).statusCode).toBe(400);
    expect((await sessions('2', '?mode=dropped')).json()).toEqual({ data: [] });
    const summary = await req('GET', `/api/sites/${site.numeric_id}/funnels/summary`);
    expect(summary.json()).toEqual({
      data: {
        sessions_entered_any: 0,
        truncated: false,
        funnels: [
          {
            funnel_id: anyNumber,
            steps: [
              { sessions: 0, median_seconds_to_next: null },
              { sessions: 0, median_seconds_to_next: null },
              { sessions: 0, median_seconds_to_next: null },
            ],
            median_seconds_to_convert: null,
          },
        ],
      },
    });
  });
});
