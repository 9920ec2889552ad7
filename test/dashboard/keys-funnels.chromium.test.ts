import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/deps.js';
import {
  openDashboardStack,
  type CollectEvent,
  type DashboardStack,
  type Website,
} from './dashboard-stack.js';

/**
 * The API keys page (list, create with the secret shown once, revoke) and the funnels page in
 * Chromium against the running services: a funnel created through the API, its steps sent
 * through ingest, the bars and drop-offs as `GET …/funnels/:id/results` counts them, and a
 * step's dropped sessions.
 */
describe('dashboard: API keys and funnels in Chromium', () => {
  let s: DashboardStack;
  let site: Website;

  beforeAll(async () => {
    s = await openDashboardStack('keys');
    site = await s.site('Keys shop');
  }, 90_000);

  afterAll(async () => {
    await s?.close();
  });

  it('creates a scoped key shown once, lists it, revokes it; the new key sees only its website', async () => {
    const { page, errors } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();

    await page.getByText('Create a key').click();
    // An empty name: the API's error, next to the field.
    await page.getByRole('button', { name: 'Create key' }).click();
    await expect.poll(() => page.locator('#key-name-error').innerText()).toMatch(/name/);
    await page.getByLabel('Name').fill('Dashboard e2e');
    await page.getByLabel('Only these:').check();
    await page.getByLabel('Keys shop').check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.locator('#new-key').inputValue();
    expect(secret).toMatch(/^spk_selfhosted_[0-9a-f]{32}$/);
    await s.shot(page, 'keys');
    expect(await s.axe(page)).toEqual([]);

    const keys = (
      await s.get<{ data: Array<{ id: string; name: string; website_ids: string[] | null }> }>(
        '/api/keys',
      )
    ).data;
    const created = keys.find((k) => k.name === 'Dashboard e2e')!;
    expect(created.website_ids).toEqual([site.id]);
    const row = page.locator(`tr[data-key-id="${created.id}"]`);
    expect(await row.innerText()).toContain('Keys shop');
    // Once stored, the secret is gone from the page.
    await page.getByRole('button', { name: 'Done, I stored it' }).click();
    expect(await page.content()).not.toContain(secret);

    // The new key works, for its website only.
    const sites = await s.get<{ data: Array<{ id: string }> }>('/api/websites', secret);
    expect(sites.data.map((x) => x.id)).toEqual([site.id]);

    await row.getByRole('button', { name: 'Revoke Dashboard e2e' }).click();
    await row.getByRole('button', { name: 'Revoke now' }).click();
    await expect.poll(() => row.innerText()).toContain('revoked');
    await expect(s.get('/api/websites', secret)).rejects.toThrow(/401/);
    expect(errors.filter((e) => !e.includes('422'))).toEqual([]);
    await page.context().close();
  });

  it('the funnels page of a website without funnels says how to create one', async () => {
    const { page } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${site.id}/funnels`);
    await page.getByRole('heading', { name: 'Funnels', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'No funnels yet' }).waitFor();
    expect(await s.axe(page)).toEqual([]);
    await page.context().close();
  });

  it('draws a funnel from events sent through ingest, as the funnel API counts them', async () => {
    const shop = await s.site('Funnel shop');
    const created = await s.post<{ data: { id: string } }>(`/api/websites/${shop.id}/funnels`, {
      name: 'Signup',
      steps: [
        { step_type: 'page_view', match_value: '/pricing', label: 'Pricing' },
        { step_type: 'event', match_value: 'signup_form', label: 'Signup form' },
        { step_type: 'event', match_value: 'signup_done', label: 'Signup completed' },
      ],
    });
    const funnelId = created.data.id;
    // Once the (empty) past is backfilled, the processor matches the steps of new events.
    await waitFor(
      'funnel backfill done',
      async () => {
        const f = await s.get<{ data: { backfill: { state: string } | null } }>(
          `/api/websites/${shop.id}/funnels/${funnelId}`,
        );
        return f.data.backfill?.state === 'done' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // Ten visitors see the pricing page, six open the form, three finish: one session each.
    const url = (path: string) => `https://funnel-shop.example${path}`;
    const events: CollectEvent[] = [];
    for (let v = 0; v < 10; v++) {
      const visitor = `funnel-visitor-${v}`;
      const base = { website_id: shop.id, visitor_id: visitor };
      events.push({ ...base, type: 'pageview', url: url('/pricing') });
      if (v < 6)
        events.push({ ...base, type: 'event', url: url('/signup'), event_name: 'signup_form' });
      if (v < 3)
        events.push({ ...base, type: 'event', url: url('/signup'), event_name: 'signup_done' });
    }
    await s.send(events);
    await s.waitForEvents(shop.id, events.length);
    const results = await waitFor(
      'results counted',
      async () => {
        const r = await s.get<{
          data: { total_sessions_entered: number; steps: Array<{ sessions_reached: number }> };
        }>(`/api/websites/${shop.id}/funnels/${funnelId}/results`);
        return r.data.steps[2]!.sessions_reached === 3 ? r.data : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(results.steps.map((x) => x.sessions_reached)).toEqual([10, 6, 3]);

    const { page, errors } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${shop.id}/funnels?range=30d`);
    await page.getByText('10 sessions entered; 30.0% reached the last step.').waitFor();
    const steps = await page.locator('ol.funnel > li').allInnerTexts();
    expect(steps).toHaveLength(3);
    expect(steps[0]).toContain('1. Pricing');
    expect(steps[0]).toContain('4 dropped off (40.0%)');
    expect(steps[1]).toContain('6 sessions (60.0% of the start)');
    expect(steps[1]).toContain('3 dropped off (50.0%)');
    expect(steps[2]).not.toContain('dropped off');
    await page.getByRole('button', { name: 'Sessions that dropped after step 2' }).click();
    await page.getByRole('heading', { name: 'Sessions that dropped off after step 2' }).waitFor();
    const region = page.getByRole('region', { name: 'Sessions of step 2' });
    await expect.poll(() => region.locator('tbody tr').count()).toBe(3);
    await s.shot(page, 'funnel');
    expect(await s.axe(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('empty states say what to do next: no goals, no websites', async () => {
    const { page } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${site.id}`);
    await page.getByRole('heading', { name: 'No goals yet' }).waitFor();
    await page.getByRole('link', { name: 'Create the first goal' }).waitFor();
    expect(await s.axe(page)).toEqual([]);
    await page.goto(`${s.apiUrl}/app/#/sites/${site.id}/live`);
    await page.getByRole('heading', { name: 'No goals to count' }).waitFor();
    // A key for a website that was deleted sees no website at all.
    const gone = await s.site('Gone');
    const orphan = await s.key([gone.id]);
    await fetch(`${s.apiUrl}/api/websites/${gone.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await s.signIn(page, orphan);
    await page.getByRole('heading', { name: 'No websites yet' }).waitFor();
    await s.shot(page, 'no-websites');
    await page.context().close();
  });
});
