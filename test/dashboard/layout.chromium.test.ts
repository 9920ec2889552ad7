import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboardStack, type DashboardStack, type Website } from './dashboard-stack.js';
import { seedShop } from './shop-data.js';

/**
 * Presses Tab until the focused element matches, as a keyboard user would. `focused` is a
 * script expression over `el`, the focused element (page scripts are strings here: the test
 * project has no DOM types).
 */
async function tabTo(page: Page, what: string, focused: string, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const js = `(() => { const el = document.activeElement; return !!el && (${focused}); })()`;
    if (await page.evaluate<boolean>(js)) return;
  }
  throw new Error(`Tab never reached ${what}`);
}

/** How far the page is wider than the window (0 when nothing sticks out). */
const overflowOf = (page: Page) =>
  page.evaluate<number>('document.documentElement.scrollWidth - innerWidth');

/**
 * The dashboard in Chromium for people who do not use a mouse or a large screen: a goal
 * created with the keyboard alone, the layout at 360 px and in dark mode (screenshots; axe),
 * and a key scoped to one website, which sees nothing of the others.
 */
describe('dashboard: keyboard, small screens, dark mode and scoped keys in Chromium', () => {
  let s: DashboardStack;
  let shop: Website;
  let blog: Website;
  let signup: { id: string };

  beforeAll(async () => {
    s = await openDashboardStack('layout');
    ({ shop, blog, signup } = await seedShop(s, Date.now()));
  }, 90_000);

  afterAll(async () => {
    await s?.close();
  });

  it('a goal is created with the keyboard alone', async () => {
    const { page } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${shop.id}`);
    await page.getByRole('heading', { name: 'Goals' }).waitFor();
    await tabTo(page, 'New goal', "el.textContent.trim() === 'New goal'");
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'New goal' }).waitFor();
    await tabTo(page, 'Name', "el.id === 'gf-name'");
    await page.keyboard.type('Thanks page');
    await page.keyboard.press('Tab'); // type
    await page.keyboard.press('p'); // "Page view"
    await tabTo(page, 'Match value', "el.id === 'gf-match_value'");
    await page.keyboard.type('/thanks');
    await tabTo(page, 'Create goal', "el.textContent.trim() === 'Create goal'");
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Thanks page', level: 1 }).waitFor();
    const goals = (
      await s.get<{ data: Array<Record<string, unknown>> }>(`/api/websites/${shop.id}/goals`)
    ).data;
    expect(goals.find((g) => g.name === 'Thanks page')).toMatchObject({
      goal_type: 'pageview',
      match_value: '/thanks',
    });
    await page.context().close();
  });

  it('a key scoped to one website sees only that website', async () => {
    const scoped = await s.key([blog.id]);
    const { page } = await s.page();
    await s.signIn(page, scoped);
    await page.locator('li.card').first().waitFor();
    expect(await page.locator('li.card h2').allInnerTexts()).toEqual(['Blog']);
    expect(await page.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await page.goto(`${s.apiUrl}/app/#/sites/${shop.id}`);
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/may not see/);
    expect(await page.locator('text=Signup').count()).toBe(0);
    await page.context().close();
  });

  it('is readable at 360 px and in dark mode (screenshots), without serious axe issues', async () => {
    for (const [name, opts] of [
      ['360', { viewport: { width: 360, height: 740 } }],
      ['dark', { colorScheme: 'dark' as const }],
    ] as const) {
      const { page, errors } = await s.page(opts);
      await s.signIn(page, s.adminKey);
      await page.goto(`${s.apiUrl}/app/#/sites/${shop.id}?range=30d`);
      await page.locator(`tr[data-goal-id="${signup.id}"] [data-col="conversions"]`).waitFor();
      // Nothing wider than the screen but the tables' own scrolling regions.
      expect(await overflowOf(page)).toBeLessThanOrEqual(0);
      await s.shot(page, `goals-${name}`);
      expect(await s.axe(page)).toEqual([]);
      await page.goto(`${s.apiUrl}/app/#/sites/${shop.id}/goals/${signup.id}?range=30d`);
      await page.locator('.chart canvas').first().waitFor();
      await page.getByRole('region', { name: 'Converting sessions' }).waitFor();
      expect(await overflowOf(page)).toBeLessThanOrEqual(0);
      await s.shot(page, `goal-${name}`);
      if (name === 'dark') await s.shot(page, 'goal-dark-window', { fullPage: false });
      if (name === 'dark') expect(await s.axe(page)).toEqual([]);
      expect(errors).toEqual([]);
      await page.context().close();
    }
  });
});
