import type { NewGoal } from '../shared/db/repositories/goal.repository.js';
import { newGoalId } from '../shared/ids.js';

/**
 * The synthetic websites' content and goals, shared by the benchmarks that match events
 * (bench:processor, bench:pipeline), so both measure the same goal mix against the same pages.
 */

/** Page paths: checkout steps (every 10th), blog posts with a trailing slash, plain pages. */
export const PATHS = Array.from({ length: 200 }, (_, i) =>
  i % 10 === 0 ? `/checkout/step-${i}` : i % 7 === 0 ? `/blog/post-${i}/` : `/page/${i}`,
);

/** Custom event names: every 4th a purchase, the others clicks. */
export const EVENT_NAMES = Array.from({ length: 20 }, (_, i) =>
  i % 4 === 0 ? `purchase_${i}` : `click_${i}`,
);

/**
 * Goal `i` of a website, of mixed kinds by `i % 8`: pageview goals with each match operator
 * (equals, starts_with, contains, glob, regex; every other one with a fixed value), then event
 * goals (`equals` on a name of EVENT_NAMES): plain (5), with a property filter `plan = pro` (6),
 * valued by the event's `amount` property (7). Every third goal is case-insensitive.
 */
export function goalFor(websiteId: string, i: number): NewGoal {
  const base = {
    id: newGoalId(),
    website_id: websiteId,
    name: `bench goal ${i}`,
    description: null,
    case_sensitive: i % 3 !== 0,
    property_filters: [] as NewGoal['property_filters'],
    value_mode: 'none' as NewGoal['value_mode'],
    fixed_value: null as string | null,
    value_property_key: null as string | null,
    currency: 'USD',
  };
  const kind = i % 8;
  if (kind < 5) {
    const [op, value] = (
      [
        ['equals', PATHS[(i * 7) % PATHS.length]!],
        ['starts_with', '/checkout/'],
        ['contains', `post-${i % 9}`],
        ['glob', '/blog/*/'],
        ['regex', `^/page/${i % 10}\\d$`],
      ] as const
    )[kind]!;
    return {
      ...base,
      goal_type: 'pageview',
      match_operator: op,
      match_value: value,
      value_mode: i % 2 ? 'fixed' : 'none',
      fixed_value: i % 2 ? '9.99' : null,
    };
  }
  return {
    ...base,
    goal_type: 'event',
    match_operator: 'equals',
    match_value: EVENT_NAMES[(i * 3) % EVENT_NAMES.length]!,
    property_filters: kind === 6 ? [{ key: 'plan', operator: 'equals', value: 'pro' }] : [],
    value_mode: kind === 7 ? 'event_property' : 'none',
    value_property_key: kind === 7 ? 'amount' : null,
  };
}
