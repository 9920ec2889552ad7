import type { CollectEvent, DashboardStack, Website } from './dashboard-stack.js';

export const DAY = 86_400_000;
export const utcDate = (t: number) => new Date(t).toISOString().slice(0, 10);

/** 14 days of sessions on the site: a home page view, some pricing views, some signups. */
export function dataset(site: string, now: number): CollectEvent[] {
  const out: CollectEvent[] = [];
  for (let d = 0; d < 14; d++) {
    for (let i = 0; i < 3 + (d % 4); i++) {
      const t = now - d * DAY - 3_600_000 - i * 120_000;
      const visitor_id = `v-${d}-${i}`;
      out.push({ website_id: site, type: 'pageview', url: '/', visitor_id, timestamp: t });
      if (i % 2 === 0) {
        out.push({
          website_id: site,
          type: 'pageview',
          url: '/pricing',
          visitor_id,
          timestamp: t + 20_000,
        });
      }
      if (i % 3 === 0 || d % 5 === 0) {
        out.push({
          website_id: site,
          type: 'event',
          event_name: 'signup',
          url: '/pricing',
          visitor_id,
          timestamp: t + 40_000,
        });
      }
    }
  }
  return out;
}

/**
 * Two websites (Shop, Blog) and their goals, created through the API, and Shop's 14 days of
 * data sent through ingest and processed.
 */
export async function seedShop(s: DashboardStack, now: number) {
  const shop: Website = await s.site('Shop');
  const blog: Website = await s.site('Blog');
  const signup = await s.goal(shop.id, {
    name: 'Signup',
    goal_type: 'event',
    match_value: 'signup',
    value_mode: 'fixed',
    fixed_value: 10,
    currency: 'EUR',
  });
  const pricing = await s.goal(shop.id, {
    name: 'Pricing page',
    goal_type: 'pageview',
    match_value: '/pricing',
  });
  await s.goal(blog.id, { name: 'Read', goal_type: 'pageview', match_value: '/post' });
  const events = dataset(shop.id, now);
  await s.send(events);
  await s.waitForEvents(shop.id, events.length);
  return { shop, blog, signup, pricing };
}
