import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { toRybbitGoal } from '../../api/goals/goal.schemas.js';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

/**
 * Issue 16 through the API app on the real stack: per-website capture settings, and goals of
 * the autocapture types (and path goals' hostname and query-string filters) in both dialects,
 * stored as one goal model and shown back in each.
 */
describe('autocapture settings and goal types (API)', () => {
  let f: ApiFixture;
  let auth: Record<string, string>;
  const siteIds: string[] = [];

  beforeAll(async () => {
    f = await openApiFixture('autocapture-goals');
    auth = bearer(f.bootstrapKey);
  });

  afterAll(async () => {
    if (siteIds.length > 0) {
      await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [siteIds]);
    }
    await f.close();
  });

  const inject = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    f.app.inject({
      method,
      url,
      headers: auth,
      ...(payload ? { payload: payload } : {}),
    });

  async function createSite(extra: Record<string, unknown> = {}) {
    const res = await inject('POST', '/api/websites', {
      name: 'Auto',
      domain: `auto${siteIds.length}.example`,
      ...extra,
    });
    expect(res.statusCode).toBe(201);
    const site = res.json<{ data: { id: string; numeric_id: number; tracking: unknown } }>().data;
    siteIds.push(site.id);
    return site;
  }

  it('websites carry tracking settings: defaults, partial updates, validation', async () => {
    const site = await createSite();
    expect(site.tracking).toMatchObject({
      trackOutbound: true,
      trackFileDownloads: true,
      trackButtonClicks: false,
      trackCopy: false,
      trackFormInteractions: false,
    });
    const upd = await inject('PUT', `/api/websites/${site.id}`, {
      tracking: { trackButtonClicks: true, fileExtensions: ['.PDF', 'epub'] },
    });
    expect(upd.statusCode).toBe(200);
    const again = await inject('PUT', `/api/websites/${site.id}`, {
      tracking: { trackOutbound: false },
    });
    expect(again.json<{ data: { tracking: unknown } }>().data.tracking).toEqual({
      trackOutbound: false,
      trackFileDownloads: true,
      trackButtonClicks: true,
      trackCopy: false,
      trackFormInteractions: false,
      fileExtensions: ['pdf', 'epub'],
    });
    for (const [tracking, field] of [
      [{ fileExtensions: ['a b'] }, 'tracking.fileExtensions[0]'],
      [{ trackCopy: 'yes' }, 'tracking.trackCopy'],
      [{ trackEverything: true }, 'tracking.trackEverything'],
    ] as const) {
      const bad = await inject('PUT', `/api/websites/${site.id}`, { tracking });
      expect(bad.statusCode, JSON.stringify(tracking)).toBe(422);
      expect(bad.json<{ error: { field: string } }>().error.field).toBe(field);
    }
  });

  it('Rybbit creates autocapture goals; Sparklytics sees the same goal and vice versa', async () => {
    const site = await createSite();
    const created: Record<string, number> = {};
    for (const [goalType, config] of [
      ['outbound', {}],
      ['file_download', { valuePattern: '**.pdf' }],
      ['button_click', { valuePattern: 'Buy*', propertyFilters: [{ key: 'plan', value: 'pro' }] }],
      ['form_submit', { valuePattern: 'signup' }],
      ['copy', { valuePattern: '' }],
      [
        'path',
        {
          pathPattern: '/p/*',
          hostname: 'Shop.example',
          propertyFilters: [{ key: 'ref', value: 5 }],
        },
      ],
    ] as const) {
      const res = await inject('POST', `/api/sites/${site.numeric_id}/goals`, { goalType, config });
      expect(res.statusCode, goalType).toBe(201);
      created[goalType] = res.json<{ goalId: number }>().goalId;
    }
    const list = await inject('GET', `/api/websites/${site.id}/goals`);
    const goals = list.json<{ data: Array<Record<string, unknown>> }>().data;
    const byNumeric = new Map(goals.map((g) => [g.numeric_id, g]));
    expect(byNumeric.get(created.outbound)).toMatchObject({
      name: 'outbound: any',
      goal_type: 'outbound',
      match_operator: 'any',
      match_value: '',
    });
    expect(byNumeric.get(created.button_click)).toMatchObject({
      goal_type: 'button_click',
      match_operator: 'glob',
      match_value: 'Buy*',
      property_filters: [{ key: 'plan', operator: 'equals', value: 'pro' }],
    });
    expect(byNumeric.get(created.path)).toMatchObject({
      goal_type: 'pageview',
      hostname: 'shop.example',
      property_filters: [{ key: 'ref', operator: 'equals', value: 5 }],
    });
    // The Rybbit view gives the same config back, exactly (no goalpost object).
    for (const [type, id] of Object.entries(created)) {
      const g = await goalRepository.findByRef(f.db, site.id, { numericId: id });
      const view = toRybbitGoal(g!);
      expect(view.goalType, type).toBe(type);
      expect(view.goalpost, type).toBeUndefined();
    }
    const copy = await goalRepository.findByRef(f.db, site.id, { numericId: created.copy! });
    expect(toRybbitGoal(copy!).config).toEqual({});
    const path = await goalRepository.findByRef(f.db, site.id, { numericId: created.path! });
    expect(toRybbitGoal(path!).config).toEqual({
      pathPattern: '/p/*',
      hostname: 'shop.example',
      propertyFilters: [{ key: 'ref', value: 5 }],
    });

    // Sparklytics creates a regex button goal; Rybbit shows it with the goalpost object.
    const sp = await inject('POST', `/api/websites/${site.id}/goals`, {
      name: 'Buy regex',
      goal_type: 'button_click',
      match_operator: 'regex',
      match_value: '^buy',
      case_sensitive: false,
    });
    expect(sp.statusCode).toBe(201);
    const spGoal = await goalRepository.findById(
      f.db,
      site.id,
      sp.json<{ data: { id: string } }>().data.id,
    );
    const view = toRybbitGoal(spGoal!);
    expect(view).toMatchObject({ goalType: 'button_click', config: { valuePattern: '^buy' } });
    expect(view.goalpost).toMatchObject({ match_operator: 'regex', case_sensitive: false });
  });
});
