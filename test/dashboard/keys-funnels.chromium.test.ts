import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboardStack, type DashboardStack, type Website } from './dashboard-stack.js';

/**
 * The API keys page (list, create with the secret shown once, revoke) and the funnels page in
 * Chromium against the running services. The funnel routes do not exist in the API yet
 * (issue 17): the page must say so. When they land, the funnel assertions go in the second test:
 * create a funnel through `POST /api/websites/:id/funnels`, send its steps through ingest, and
 * compare the bars and drop-offs with `GET …/funnels/:id/results`, then open a step's sessions.
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

  it('the funnels page says when the API has no funnel routes yet', async () => {
    const { page } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${site.id}/funnels`);
    await page.getByRole('heading', { name: 'Funnels', level: 1 }).waitFor();
    const funnels = await fetch(`${s.apiUrl}/api/websites/${site.id}/funnels`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(funnels.status).toBe(404);
    await page
      .getByRole('heading', { name: 'Funnels are not available on this server yet' })
      .waitFor();
    expect(await s.axe(page)).toEqual([]);
    await page.context().close();
  });

  it('draws a funnel from answers shaped as the Sparklytics funnel API (stubbed until the routes exist)', async () => {
    // TEMPORARY (issue 17): the API has no funnel routes yet, so the browser's requests for
    // them are answered here with the shapes of the Sparklytics funnel API (one of the
    // Sparklytics/Rybbit contracts). When the routes land, remove these stubs, create the funnel
    // with POST …/funnels, send its steps through ingest, and compare the bars with
    // GET …/funnels/:id/results.
    const { page, errors } = await s.page();
    const base = `${s.apiUrl}/api/websites/${site.id}/funnels`;
    const seen: string[] = [];
    await page.route(`${base}**`, async (route) => {
      const url = new URL(route.request().url());
      seen.push(url.pathname + url.search);
      const json = (data: unknown) =>
        route.fulfill({ contentType: 'application/json', body: JSON.stringify(data) });
      if (url.pathname.endsWith('/funnels')) {
        return json({
          data: [{ id: 'fun_a', website_id: site.id, name: 'Signup', step_count: 3 }],
        });
      }
      if (url.pathname.endsWith('/results')) {
        const step = (
          n: number,
          label: string,
          reached: number,
          next: number | null,
          first: number,
          prev: number,
        ) => ({
          step_order: n,
          label,
          sessions_reached: reached,
          drop_off_count: next === null ? 0 : reached - next,
          drop_off_rate: next === null ? 0 : (reached - next) / reached,
          conversion_rate_from_start: reached / first,
          conversion_rate_from_previous: reached / prev,
        });
        return json({
          data: {
            funnel_id: 'fun_a',
            name: 'Signup',
            total_sessions_entered: 200,
            final_conversion_rate: 0.25,
            steps: [
              step(1, 'Pricing', 200, 120, 200, 200),
              step(2, 'Signup form', 120, 50, 200, 200),
              step(3, 'Signup completed', 50, null, 200, 120),
            ],
          },
        });
      }
      return json({
        data: [
          {
            session_id: 's1',
            user_id: null,
            country: 'DE',
            browser: 'Chrome',
            operating_system: 'Linux',
            device_type: 'desktop',
            entry_page: '/pricing',
            exit_page: '/signup',
            pageviews: 2,
            session_duration: 40,
            session_start: new Date().toISOString(),
            session_end: new Date().toISOString(),
            referrer: null,
            channel: 'direct',
          },
        ],
        next_cursor: null,
      });
    });
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${site.id}/funnels?range=30d`);
    await page.getByText('200 sessions entered; 25.0% reached the last step.').waitFor();
    const steps = await page.locator('ol.funnel > li').allInnerTexts();
    expect(steps).toHaveLength(3);
    expect(steps[0]).toContain('1. Pricing');
    expect(steps[0]).toContain('80 dropped off (40.0%)');
    expect(steps[1]).toContain('120 sessions (60.0% of the start)');
    expect(steps[2]).not.toContain('dropped off');
    await page.getByRole('button', { name: 'Sessions that dropped after step 2' }).click();
    await page.getByRole('heading', { name: 'Sessions that dropped off after step 2' }).waitFor();
    await page.getByRole('region', { name: 'Sessions of step 2' }).getByText('/signup').waitFor();
    expect(seen.some((u) => u.includes('/funnels/fun_a/results?start_date='))).toBe(true);
    expect(seen.some((u) => /\/funnels\/fun_a\/steps\/2\/sessions\?.*mode=dropped/.test(u))).toBe(
      true,
    );
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
