import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sparklyticsErrors } from '../http/error-responses.js';
import { statsRepository } from '../../shared/db/repositories/stats.repository.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { validationError } from '../../shared/errors/errors.js';
import { resolveDayRange } from '../stats/date-range.js';
import {
  resolveIncludeBots,
  SPARKLYTICS_FILTERS,
  sparklyticsFilters,
  type SparklyticsFilterParam,
} from '../stats/stats-params.js';
import { findGoalOf } from '../goals/goal.service.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { decodeCursor, goalStats, resolveWindow, sessionPage } from '../stats/stats.service.js';
import { GoalStatsSchema, SessionPageQuery, SessionPageSchema } from '../stats/stats.schemas.js';

const str = (description: string) => Type.Optional(Type.String({ description }));

/** Date, time zone, filter and bot parameters shared by the Sparklytics statistics routes. */
const CommonQuery = {
  start_date: str('YYYY-MM-DD, inclusive; default end_date − 6'),
  end_date: str('YYYY-MM-DD, inclusive; default today in the time zone'),
  timezone: str('IANA time zone; default the website’s'),
  include_bots: str('`true` | `false`; default from the website’s bot_policy'),
  ...(Object.fromEntries(
    Object.keys(SPARKLYTICS_FILTERS).map((k) => [k, str('selects sessions')]),
  ) as Record<SparklyticsFilterParam, ReturnType<typeof str>>),
};

type CommonQueryValues = Partial<Record<keyof typeof CommonQuery, string>>;

function commonScope(site: Website, query: CommonQueryValues) {
  const range = resolveDayRange({
    start_date: query.start_date,
    end_date: query.end_date,
    timezone: query.timezone,
    websiteTimezone: site.timezone,
  });
  return {
    range,
    includeBots: resolveIncludeBots(query.include_bots, site.bot_policy),
    filters: sparklyticsFilters(query),
  };
}

/**
 * Sparklytics statistics: `GET /api/websites/:website_id/goals/:goal_id/stats` and the
 * converting sessions at `…/goals/:goal_id/sessions`.
 */
export const statsRoutes: FastifyPluginAsyncTypebox<AuthDeps> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];
  const params = Type.Object({
    website_id: Type.String({ description: '`site_…` or numeric id' }),
    goal_id: Type.String({ description: '`goal_…` id' }),
  });

  app.get(
    '/api/websites/:website_id/goals/:goal_id/stats',
    {
      schema: {
        tags: ['goals'],
        summary: 'Conversion statistics of one goal',
        security,
        params,
        querystring: Type.Object({
          ...CommonQuery,
          include: str('`timeseries` adds per-period figures'),
          granularity: str('`day` (default) | `hour` (ranges up to 31 days)'),
        }),
        response: { 200: Type.Object({ data: GoalStatsSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => {
      const site = websiteOf(req);
      const goal = await findGoalOf(deps.db, site, req.params.goal_id, 'goal_id');
      const { range, includeBots, filters } = commonScope(site, req.query);
      const include = (req.query.include ?? '').split(',').filter((s) => s !== '');
      for (const inc of include) {
        if (inc !== 'timeseries') {
          throw validationError('include accepts only timeseries', 'include');
        }
      }
      const granularity = req.query.granularity ?? 'day';
      if (granularity !== 'day' && granularity !== 'hour') {
        throw validationError('granularity must be day or hour', 'granularity');
      }
      const window = await resolveWindow(deps.db, range);
      const data = await goalStats(deps.db, {
        goal,
        window,
        includeBots,
        filters,
        timeseries: include.includes('timeseries') ? granularity : null,
      });
      return { data };
    },
  );

  app.get(
    '/api/websites/:website_id/goals/:goal_id/sessions',
    {
      schema: {
        tags: ['goals'],
        summary: 'Sessions that converted on a goal, newest end first',
        security,
        params,
        querystring: Type.Object({
          ...CommonQuery,
          ...SessionPageQuery,
        }),
        response: {
          200: SessionPageSchema,
          ...sparklyticsErrors,
        },
      },
    },
    async (req) => {
      const site = websiteOf(req);
      const goal = await findGoalOf(deps.db, site, req.params.goal_id, 'goal_id');
      const { range, includeBots, filters } = commonScope(site, req.query);
      const after = req.query.cursor === undefined ? undefined : decodeCursor(req.query.cursor);
      const limit = req.query.limit ?? 25;
      const w = await resolveWindow(deps.db, range);
      const rows = await statsRepository.convertingSessions(
        deps.db,
        { websiteId: site.id, lo: w.lo, hi: w.hi, includeBots, filters, goalId: goal.id },
        { limit: limit + 1, after },
      );
      return sessionPage(rows, limit);
    },
  );
};
