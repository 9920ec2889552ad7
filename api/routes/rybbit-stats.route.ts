import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { rybbitErrors } from '../http/error-responses.js';
import { goalRepository, type Goal } from '../../shared/db/goal.repository.js';
import { statsRepository, type SessionScope } from '../../shared/db/stats.repository.js';
import type { Website } from '../../shared/db/website.repository.js';
import { validationError } from '../../shared/errors/errors.js';
import { resolveDayRange } from '../stats/date-range.js';
import { parseRybbitFilters, rawRate, resolveIncludeBots, round } from '../stats/stats-params.js';
import { findGoalOf } from '../goals/goal.service.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { RybbitGoalSchema, toRybbitGoal } from '../goals/goal.schemas.js';
import { SessionSchema } from '../stats/stats.schemas.js';
import { resolveWindow, toSessionView } from '../stats/stats.service.js';
import type { Db } from '../../shared/db/pool.js';

const str = (description: string) => Type.Optional(Type.String({ description }));

const CommonQuery = {
  start_date: str('YYYY-MM-DD; with end_date absent too: all retained data'),
  end_date: str('YYYY-MM-DD'),
  time_zone: str('IANA time zone; default the website’s'),
  filters: str(
    'JSON array of at most 20 {parameter, type, value: string[]} (1–20 values each); values OR, ' +
      'filters AND. type=regex takes the goal regex dialect (RE2 syntax, unanchored; no \\p{…} ' +
      'classes here); a pattern it refuses is a 400 naming filters[i].value[j]',
  ),
};

const SORTS = ['goalId', 'name', 'goalType', 'createdAt', 'conversions'] as const;
type Sort = (typeof SORTS)[number];

/** A positive integer query parameter within [1, max]; absent → `dflt`. */
function intParam(raw: string | undefined, field: string, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw validationError(
      `${field} must be an integer from 1${max < 1e9 ? ` to ${max}` : ''}`,
      field,
    );
  }
  return Number(raw);
}

/**
 * Rybbit scope: both dates absent → all retained data; otherwise the Sparklytics rules (one
 * absent is defaulted from the other, 400-day cap). Rybbit has no bot parameter: the website's
 * bot policy decides.
 */
async function rybbitScope(
  db: Db,
  site: Website,
  query: { start_date?: string; end_date?: string; time_zone?: string; filters?: string },
): Promise<SessionScope> {
  const tz = { timezone: query.time_zone, websiteTimezone: site.timezone };
  const filters = parseRybbitFilters(query.filters);
  const includeBots = resolveIncludeBots(undefined, site.bot_policy);
  if (query.start_date === undefined && query.end_date === undefined) {
    // Still validate the time zone, which would otherwise be silently ignored.
    resolveDayRange({ ...tz, timezoneField: 'time_zone' });
    return { websiteId: site.id, lo: '-infinity', hi: 'infinity', includeBots, filters };
  }
  const range = resolveDayRange({
    start_date: query.start_date,
    end_date: query.end_date,
    ...tz,
    timezoneField: 'time_zone',
  });
  const w = await resolveWindow(db, range);
  return { websiteId: site.id, lo: w.lo, hi: w.hi, includeBots, filters };
}

function compareGoals(sort: Sort, metrics: Map<string, number>) {
  return (a: Goal, b: Goal): number => {
    switch (sort) {
      case 'goalId':
        return a.numeric_id - b.numeric_id;
      case 'name':
        return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      case 'goalType':
        return a.goal_type < b.goal_type ? -1 : a.goal_type > b.goal_type ? 1 : 0;
      case 'createdAt':
        return a.created_at.getTime() - b.created_at.getTime();
      case 'conversions':
        return (metrics.get(a.id) ?? 0) - (metrics.get(b.id) ?? 0);
    }
  };
}

/**
 * Rybbit statistics: the goal list with metrics (`GET /api/goals/:site`) and the converting
 * sessions of a goal (`GET /api/goals/:goalId/sessions/:site`), also under `/api/sites/:site/…`.
 * Errors are `{error, details?}` (400 for any invalid parameter).
 */
export const rybbitStatsRoutes: FastifyPluginAsyncTypebox<AuthDeps> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];
  const tags = ['goals (Rybbit)'];
  const site = Type.String({ description: 'numeric site id (or `site_…` id)' });

  for (const url of ['/api/goals/:site', '/api/sites/:site/goals']) {
    app.get(
      url,
      {
        schema: {
          tags,
          summary: 'Goals with their conversion metrics, paginated',
          security,
          params: Type.Object({ site }),
          querystring: Type.Object({
            ...CommonQuery,
            page: str('≥ 1, default 1'),
            page_size: str('1–100, default 10'),
            pageSize: str('alias of page_size'),
            sort: str(`${SORTS.join(' | ')}; default createdAt`),
            order: str('asc | desc; default desc'),
          }),
          response: {
            200: Type.Object({
              data: Type.Array(
                Type.Composite([
                  RybbitGoalSchema,
                  Type.Object({
                    total_conversions: Type.Integer({ description: 'converting sessions' }),
                    total_sessions: Type.Integer(),
                    conversion_rate: Type.Number(),
                  }),
                ]),
              ),
              meta: Type.Object({
                total: Type.Integer(),
                page: Type.Integer(),
                pageSize: Type.Integer(),
                totalPages: Type.Integer(),
              }),
            }),
            ...rybbitErrors,
          },
        },
      },
      async (req) => {
        const website = websiteOf(req);
        const q = req.query;
        const page = intParam(q.page, 'page', 1, 1e9);
        if (q.page_size !== undefined && q.pageSize !== undefined && q.page_size !== q.pageSize) {
          throw validationError('page_size and pageSize disagree', 'page_size');
        }
        const pageSize = intParam(
          q.page_size ?? q.pageSize,
          q.page_size !== undefined ? 'page_size' : 'pageSize',
          10,
          100,
        );
        const sort = (q.sort ?? 'createdAt') as Sort;
        if (!SORTS.includes(sort)) {
          throw validationError(`sort must be one of ${SORTS.join(', ')}`, 'sort');
        }
        const order = q.order ?? 'desc';
        if (order !== 'asc' && order !== 'desc') {
          throw validationError('order must be asc or desc', 'order');
        }
        const scope = await rybbitScope(deps.db, website, q);
        const goals = await goalRepository.listForWebsite(deps.db, website.id);
        // At most 50 goals per website: metrics for all of them come from one query, which
        // also lets `sort=conversions` order the whole list before paging.
        const m = await statsRepository.goalListMetrics(deps.db, {
          ...scope,
          goalIds: goals.map((g) => g.id),
        });
        const converting = new Map([...m.goals].map(([id, r]) => [id, r.converting_sessions]));
        const cmp = compareGoals(sort, converting);
        const sorted = [...goals].sort((a, b) => {
          const c = cmp(a, b) || a.numeric_id - b.numeric_id;
          return order === 'asc' ? c : -c;
        });
        const slice = sorted.slice((page - 1) * pageSize, page * pageSize);
        return {
          data: slice.map((g) => {
            const conv = converting.get(g.id) ?? 0;
            return {
              ...toRybbitGoal(g),
              total_conversions: conv,
              total_sessions: m.total_sessions,
              conversion_rate: round(rawRate(conv, m.total_sessions), 4),
            };
          }),
          meta: {
            total: goals.length,
            page,
            pageSize,
            totalPages: Math.ceil(goals.length / pageSize),
          },
        };
      },
    );
  }

  for (const url of [
    '/api/goals/:goalId/sessions/:site',
    '/api/sites/:site/goals/:goalId/sessions',
  ]) {
    app.get(
      url,
      {
        schema: {
          tags,
          summary: 'Sessions that converted on a goal, newest end first',
          security,
          params: Type.Object({
            goalId: Type.String({ description: 'numeric goal id (or `goal_…` id)' }),
            site,
          }),
          querystring: Type.Object({
            ...CommonQuery,
            page: str('≥ 1, default 1'),
            limit: str('1–100, default 25'),
          }),
          response: {
            200: Type.Object({
              data: Type.Array(SessionSchema),
              meta: Type.Object({
                total: Type.Integer(),
                page: Type.Integer(),
                limit: Type.Integer(),
              }),
            }),
            ...rybbitErrors,
          },
        },
      },
      async (req) => {
        const website = websiteOf(req);
        const page = intParam(req.query.page, 'page', 1, 1e9);
        const limit = intParam(req.query.limit, 'limit', 25, 100);
        const goal = await findGoalOf(deps.db, website, req.params.goalId, 'goalId');
        const scope = await rybbitScope(deps.db, website, req.query);
        const rows = await statsRepository.convertingSessions(
          deps.db,
          { ...scope, goalId: goal.id },
          { limit, offset: (page - 1) * limit },
        );
        let total = rows[0]?.total;
        if (total === undefined) {
          // Past the last page the window function has no row to report the count on.
          total =
            page === 1
              ? 0
              : ((
                  await statsRepository.convertingSessions(
                    deps.db,
                    { ...scope, goalId: goal.id },
                    { limit: 1, offset: 0 },
                  )
                )[0]?.total ?? 0);
        }
        return { data: rows.map(toSessionView), meta: { total, page, limit } };
      },
    );
  }
};
