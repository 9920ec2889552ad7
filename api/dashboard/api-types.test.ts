import type { Static } from '@sinclair/typebox';
import { describe, expectTypeOf, it } from 'vitest';
import type { SparklyticsGoal } from '../goals/goal.schemas.js';
import type { ApiKeyView, CreatedApiKeySchema } from '../keys/key.schemas.js';
import type { GoalStats, SessionView, TimeseriesPoint } from '../stats/stats.schemas.js';
import type { WebsiteView } from '../websites/website.schemas.js';
import type * as Dashboard from './src/api-types.js';

/**
 * The dashboard declares the answer shapes it reads (it cannot import the API's schema modules,
 * whose types reach the server's); these checks, made by `tsc` over the API's project, keep
 * those declarations true: the API's own type of each answer must fit the dashboard's, so a
 * field renamed, removed or retyped in a schema fails the type check until the dashboard follows.
 */
describe('dashboard answer shapes', () => {
  it('are fitted by the types of the API schemas', () => {
    expectTypeOf<WebsiteView>().toExtend<Dashboard.Website>();
    expectTypeOf<SparklyticsGoal>().toExtend<Dashboard.Goal>();
    expectTypeOf<NonNullable<SparklyticsGoal['backfill']>>().toExtend<Dashboard.Backfill>();
    expectTypeOf<
      SparklyticsGoal['property_filters'][number]
    >().toExtend<Dashboard.PropertyFilter>();
    expectTypeOf<TimeseriesPoint>().toExtend<Dashboard.TimeseriesPoint>();
    expectTypeOf<GoalStats>().toExtend<Dashboard.GoalStats>();
    expectTypeOf<SessionView>().toExtend<Dashboard.Session>();
    expectTypeOf<ApiKeyView>().toExtend<Dashboard.ApiKey>();
    expectTypeOf<Static<typeof CreatedApiKeySchema>>().toExtend<Dashboard.ApiKey>();
  });
});
