import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboardStack, type DashboardStack, type Website } from './dashboard-stack.js';
import { DAY, seedShop, utcDate } from './shop-data.js';

interface Stats {
  goal_id: string;
  conversions: number;
  converting_sessions: number;
  conversion_rate: number;
  total_value: number | null;
}

/** The numbers of a goal's row as the page shows them. */
async function rowCells(page: Page, goalId: string) {
  const row = page.locator(`tr[data-goal-id="${goalId}"]`);
  await row.locator('[data-col="conversions"]').waitFor();
  const cell = (c: string) => row.locator(`[data-col="${c}"]`).innerText();
  return {
    conversions: await cell('conversions'),
    converting_sessions: await cell('converting_sessions'),
    conversion_rate: await cell('conversion_rate'),
    total_value: await cell('total_value'),
  };
}

/** The same numbers formatted as the page formats them (en-US). */
const expected = (s: Stats, currency: string | null) => ({
  conversions: s.conversions.toLocaleString('en-US'),
  converting_sessions: s.converting_sessions.toLocaleString('en-US'),
  conversion_rate: `${(s.conversion_rate * 100).toFixed(2)}%`,
  total_value:
    currency === null || s.total_value === null
      ? '–'
      : new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(s.total_value),
});

/**
 * The dashboard in headless Chromium against the running services (ingest, processor, api as
 * child processes), with data sent through ingest's collect endpoint: sign in and out, the goals
 * table against the API's own numbers, the range in the URL, the goal form (mouse and keyboard,
 * the API's errors beside their fields), a scoped key, axe-core on every page, screenshots.
 */
describe('dashboard: websites and goals in Chromium', () => {
  let s: DashboardStack;
  let shop: Website;
  let signup: { id: string };
  let pricing: { id: string };
  const now = Date.now();

  beforeAll(async () => {
    s = await openDashboardStack('goals');
    ({ shop, signup, pricing } = await seedShop(s, now));
  }, 90_000);

  afterAll(async () => {
    await s?.close();
  });

  const statsOf = async (goalId: string, start: string, end: string, extra = '') =>
    (
      await s.get<{ data: Stats }>(
        `/api/websites/${shop.id}/goals/${goalId}/stats?start_date=${start}&end_date=${end}&timezone=UTC${extra}`,
      )
    ).data;

  it('signs in with a pasted key kept in sessionStorage only, and signs out', async () => {
    const { page, errors } = await s.page();
    await page.goto(`${s.apiUrl}/`);
    expect(page.url()).toBe(`${s.apiUrl}/app/`);
    await s.shot(page, 'sign-in');
    expect(await s.axe(page)).toEqual([]);
    await page.getByLabel('API key').fill('spk_selfhosted_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#api-key-error').innerText()).toMatch(/not valid/);

    await s.signIn(page, s.adminKey);
    expect(await page.evaluate<string | null>("sessionStorage.getItem('goalpost.apiKey')")).toBe(
      s.adminKey,
    );
    expect(await page.evaluate<string>('document.cookie')).toBe('');
    expect(page.url()).not.toContain(s.adminKey);
    await page.getByRole('heading', { name: 'Websites' }).waitFor();
    // The website list: ids and the three tracker snippets.
    const card = page.locator('li.card', { hasText: 'Shop' });
    await card.getByText('Tracker snippets').click();
    await expect.poll(() => card.innerText()).toContain(shop.id);
    const text = await card.innerText();
    expect(text).toContain(`data-website-id="${shop.id}"`);
    expect(text).toContain('/s.js');
    expect(text).toContain(`data-site-id="${shop.numeric_id}"`);
    await s.shot(page, 'websites');
    expect(await s.axe(page)).toEqual([]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
    await page.context().close();
  });

  it('the goals table shows the API’s numbers; changing the range updates the URL and the numbers', async () => {
    const { page, errors } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.getByRole('link', { name: 'Shop' }).first().click();
    await page.getByRole('heading', { name: 'Goals' }).waitFor();

    const today = utcDate(now);
    const check = async (start: string, end: string, extra = '') => {
      for (const [goal, currency] of [
        [signup.id, 'EUR'],
        [pricing.id, null],
      ] as const) {
        const want = expected(await statsOf(goal, start, end, extra), currency);
        await expect.poll(() => rowCells(page, goal), { timeout: 15_000 }).toEqual(want);
      }
    };
    await check(utcDate(now - 6 * DAY), today);
    const week = await statsOf(signup.id, utcDate(now - 6 * DAY), today);
    expect(week.conversions).toBeGreaterThan(0);
    await s.shot(page, 'goals');
    expect(await s.axe(page)).toEqual([]);

    await page.getByRole('combobox', { name: 'Date range' }).selectOption('30d');
    await expect.poll(() => page.url()).toContain('range=30d');
    const month = await statsOf(signup.id, utcDate(now - 29 * DAY), today);
    expect(month.conversions).toBeGreaterThan(week.conversions);
    await check(utcDate(now - 29 * DAY), today);

    // Custom dates, and a reload keeps the view (it is all in the URL).
    await page.getByRole('combobox', { name: 'Date range' }).selectOption('custom');
    const [from, to] = [utcDate(now - 10 * DAY), utcDate(now - 3 * DAY)];
    await page.getByLabel('From', { exact: true }).fill(from);
    await page.getByLabel('To', { exact: true }).fill(to);
    await page.getByRole('button', { name: 'Apply dates' }).click();
    await expect.poll(() => page.url()).toContain(`start_date=${from}&end_date=${to}`);
    await check(from, to);
    await page.reload();
    await check(from, to);
    expect(await page.getByRole('combobox', { name: 'Date range' }).inputValue()).toBe('custom');

    // A filter and the bots setting go to the URL and into the API's query.
    await page.locator('details.filters summary').click();
    await page.getByLabel('Page contains').fill('/pricing');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.url()).toContain('filter_page=%2Fpricing');
    const filtered = await statsOf(signup.id, from, to, '&filter_page=%2Fpricing');
    expect(filtered.conversion_rate).not.toBe((await statsOf(signup.id, from, to)).conversion_rate);
    await check(from, to, '&filter_page=%2Fpricing');
    await page.getByRole('combobox', { name: 'Bots' }).selectOption('true');
    await expect.poll(() => page.url()).toContain('include_bots=true');
    await check(from, to, '&filter_page=%2Fpricing&include_bots=true');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.url()).not.toContain('filter_page');

    // The goal page: figures, the chart, converting sessions.
    await page.getByRole('link', { name: 'Signup' }).click();
    await page.getByRole('heading', { name: 'Signup', level: 1 }).waitFor();
    expect(page.url()).toContain(`start_date=${from}`);
    await page.locator('.chart canvas').first().waitFor();
    await page.getByRole('region', { name: 'Converting sessions' }).waitFor();
    await page.getByLabel('Hours').check();
    await expect.poll(() => page.url()).toContain('granularity=hour');
    await page.locator('.chart canvas').first().waitFor();
    await s.shot(page, 'goal');
    expect(await s.axe(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('a goal created in the form appears; a bad one shows the API’s error next to its field', async () => {
    const { page, errors } = await s.page();
    await s.signIn(page, s.adminKey);
    await page.goto(`${s.apiUrl}/app/#/sites/${shop.id}/goals/new`);
    await page.getByRole('heading', { name: 'New goal' }).waitFor();

    // Bad: a regular expression that does not compile. The message is the API's own.
    const bad = { name: 'Broken', goal_type: 'event', match_operator: 'regex', match_value: '(' };
    const apiAnswer = await fetch(`${s.apiUrl}/api/websites/${shop.id}/goals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        ...bad,
        case_sensitive: true,
        property_filters: [],
        value_mode: 'none',
      }),
    });
    const apiError = ((await apiAnswer.json()) as { error: { field: string; message: string } })
      .error;
    expect([apiAnswer.status, apiError.field]).toEqual([422, 'match_value']);
    await page.getByLabel('Name').fill(bad.name);
    await page.getByLabel('Match', { exact: true }).selectOption('regex');
    await page.getByLabel('Match value').fill(bad.match_value);
    await page.getByRole('button', { name: 'Create goal' }).click();
    const fieldError = page.locator('#gf-match_value-error');
    await expect.poll(() => fieldError.innerText()).toBe(apiError.message);
    expect(await page.getByLabel('Match value').getAttribute('aria-invalid')).toBe('true');
    // Focus moves to the field in an effect after the error renders.
    await expect
      .poll(() => page.evaluate<string>('document.activeElement.id'))
      .toBe('gf-match_value');
    await s.shot(page, 'goal-form-error');
    expect(await s.axe(page)).toEqual([]);

    // Bad: a name another goal has (the API compares ignoring case).
    await page.getByLabel('Match', { exact: true }).selectOption('equals');
    await page.getByLabel('Match value').fill('newsletter');
    await page.getByLabel('Name').fill('SIGNUP');
    await page.getByRole('button', { name: 'Create goal' }).click();
    await expect.poll(() => page.locator('#gf-name-error').innerText()).toMatch(/name/i);

    // Good: every option of a value goal, with a property filter.
    await page.getByLabel('Name').fill('Newsletter');
    await page.getByRole('button', { name: 'Add a property filter' }).click();
    await page.getByLabel('Property').fill('plan');
    await page.locator('#gf-property_filters-0-value').fill('pro');
    await page.locator('#gf-value_mode').selectOption('event_property');
    await page.getByLabel('Event property holding the value').fill('amount');
    await page.getByLabel('Currency').fill('usd');
    await page.getByRole('button', { name: 'Create goal' }).click();
    await page.getByRole('heading', { name: 'Newsletter', level: 1 }).waitFor();
    const goals = (
      await s.get<{ data: Array<Record<string, unknown>> }>(`/api/websites/${shop.id}/goals`)
    ).data;
    expect(goals.find((g) => g.name === 'Newsletter')).toMatchObject({
      goal_type: 'event',
      match_value: 'newsletter',
      property_filters: [{ key: 'plan', operator: 'equals', value: 'pro' }],
      value_mode: 'event_property',
      value_property_key: 'amount',
      currency: 'USD',
    });
    // Edit it, then delete it.
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Name').fill('Newsletter signup');
    await page.getByRole('button', { name: 'Save goal' }).click();
    await page.getByRole('heading', { name: 'Newsletter signup', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Goals' }).first().click();
    await page.locator('tr', { hasText: 'Newsletter signup' }).waitFor();
    await page.getByRole('link', { name: 'Newsletter signup' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete goal' }).click();
    await page.getByRole('heading', { name: 'Goals', level: 1 }).waitFor();
    await expect.poll(() => page.locator('tr', { hasText: 'Newsletter' }).count()).toBe(0);
    const left = (await s.get<{ data: Array<{ name: string }> }>(`/api/websites/${shop.id}/goals`))
      .data;
    expect(left.map((g) => g.name)).not.toContain('Newsletter signup');
    expect(errors.filter((e) => !e.includes('422'))).toEqual([]);
    await page.context().close();
  });
});
