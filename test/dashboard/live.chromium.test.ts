import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboardStack, type DashboardStack, type Website } from './dashboard-stack.js';

/** Live tokens live this long here, so the page renews its token every couple of seconds. */
const TOKEN_TTL_SECONDS = 3;

/**
 * The Live page in Chromium against the running services: conversions sent through ingest
 * appear in the feed and the per-goal counters, and keep arriving, each exactly once, across
 * several token renewals (the page reconnects with a fresh token and Last-Event-ID before the
 * old token expires). The API key never appears in a URL; the stream's URL carries the token.
 */
describe('dashboard: live conversions in Chromium', () => {
  let s: DashboardStack;
  let site: Website;
  let purchase: { id: string };
  let signup: { id: string };

  beforeAll(async () => {
    s = await openDashboardStack('live', { liveTokenTtlSeconds: TOKEN_TTL_SECONDS });
    site = await s.site('Live shop');
    purchase = await s.goal(site.id, {
      name: 'Purchase',
      goal_type: 'event',
      match_value: 'purchase',
      value_mode: 'fixed',
      fixed_value: 25,
      currency: 'USD',
    });
    signup = await s.goal(site.id, { name: 'Signup', goal_type: 'event', match_value: 'signup' });
  }, 90_000);

  afterAll(async () => {
    await s?.close();
  });

  const convert = (name: string, visitor: string) =>
    s.send([
      {
        website_id: site.id,
        type: 'event',
        event_name: name,
        url: '/checkout',
        visitor_id: visitor,
      },
    ]);

  it('conversions sent through ingest appear in the feed and keep arriving across token renewals', async () => {
    const { page, errors } = await s.page();
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${site.id}/live`);
    const status = page.getByRole('status').filter({ hasText: /Connect/ });
    await expect.poll(() => status.getAttribute('data-connected')).toBe('true');
    const feedItems = page.locator('ul.feed li');
    const counter = (goalId: string) =>
      page.locator(`.counters li[data-goal-id="${goalId}"] .counter-value`).innerText();

    await convert('purchase', 'live-0');
    await expect.poll(() => feedItems.count(), { timeout: 15_000 }).toBe(1);
    expect(await feedItems.first().innerText()).toContain('Purchase');
    expect(await feedItems.first().innerText()).toContain('$25.00');
    await expect.poll(() => counter(purchase.id)).toBe('1');

    // One conversion per token lifetime, each sent right after a renewal: every one arrives,
    // once, across the switch from one stream to the next.
    const connections = async () => Number(await status.getAttribute('data-connections'));
    const connectionsBefore = await connections();
    const started = Date.now();
    const sent = ['signup', 'purchase', 'signup', 'purchase'];
    for (const [i, name] of sent.entries()) {
      const c = await connections();
      await expect.poll(connections, { timeout: 10_000 }).toBeGreaterThan(c);
      await convert(name, `live-${i + 1}`);
    }
    await expect.poll(() => feedItems.count(), { timeout: 20_000 }).toBe(1 + sent.length);
    const ids = await Promise.all(
      (await feedItems.all()).map((li) => li.getAttribute('data-event-id')),
    );
    expect(new Set(ids).size).toBe(ids.length);
    // Several tokens expired meanwhile; the page renewed before each expiry.
    expect(Date.now() - started).toBeGreaterThan(2 * TOKEN_TTL_SECONDS * 1000);
    expect((await connections()) - connectionsBefore).toBeGreaterThanOrEqual(sent.length);
    // The counters settle on the exact numbers of the last 30 minutes.
    await expect.poll(() => counter(purchase.id), { timeout: 10_000 }).toBe('3');
    await expect.poll(() => counter(signup.id), { timeout: 10_000 }).toBe('2');

    // Tokens in the stream's URL, never the API key anywhere in a URL.
    expect(urls.some((u) => u.includes('/goals/live?token='))).toBe(true);
    expect(urls.filter((u) => u.includes(s.adminKey))).toEqual([]);
    await s.shot(page, 'live');
    expect(await s.axe(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
