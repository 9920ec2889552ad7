import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { goalRepository, type Goal } from '../../shared/db/repositories/goal.repository.js';
import {
  GOAL_BUCKETS,
  statsRepository,
  type GoalBucket,
} from '../../shared/db/repositories/stats.repository.js';
import { validationError } from '../../shared/errors/errors.js';
import { parseGoalRef, type EntityRef } from '../../shared/ids.js';
import { RybbitGoalBody, toRybbitGoal } from '../goals/goal.schemas.js';
import { findGoalOf } from '../goals/goal.service.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { rybbitErrors } from '../http/error-responses.js';
import {
  checkBucketCount,
  MAX_PREVIEW_DAYS,
  previewRybbitGoal,
  rybbitScope,
} from '../stats/rybbit-stats.service.js';
import { rawRate, round } from '../stats/stats-params.js';
import {
  GoalPreviewSchema,
  RybbitGoalWithMetricsSchema,
  RybbitSummaryGoalSchema,
  SessionSchema,
  type RybbitGoalMetrics,
} from '../stats/stats.schemas.js';
import { toSessionView } from '../stats/stats.service.js';

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

function parseBucket(raw: string | undefined): GoalBucket {
  const b = raw ?? 'hour';
  if (!(GOAL_BUCKETS as readonly string[]).includes(b)) {
    throw validationError(`Invalid bucket value: ${b}`, 'bucket');
  }
  return b as GoalBucket;
}

/**
 * `goal_ids` as Rybbit sends it: repeated, a JSON array, or a comma list (mixed too). Each is
 * a goal reference ({@link parseGoalRef}: numeric, or Goalpost's `goal_…` id); anything else is
 * dropped.
 */
function parseGoalIds(raw: string | string[] | undefined): EntityRef[] {
  const parts: unknown[] = [];
  for (const v of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
    const t = v.trim();
    if (t.startsWith('[')) {
      try {
        const arr: unknown = JSON.parse(t);
        if (Array.isArray(arr)) parts.push(...(arr as unknown[]));
        continue;
      } catch {
        // not JSON: read as a comma list
      }
    }
    parts.push(...t.split(','));
  }
  const refs: EntityRef[] = [];
  for (const p of parts) {
    const ref = parseGoalRef(
      typeof p === 'number' ? String(p) : typeof p === 'string' ? p.trim() : '',
    );
    if (ref !== null) refs.push(ref);
  }
  return refs;
}

/** Whether `g` is one of the goals `refs` name. */
function isNamedBy(refs: readonly EntityRef[]): (g: Goal) => boolean {
  const ids = new Set(refs.flatMap((r) => ('id' in r ? [r.id] : [])));
  const numeric = new Set(refs.flatMap((r) => ('numericId' in r ? [r.numericId] : [])));
  return (g) => ids.has(g.id) || numeric.has(g.numeric_id);
}

const goalMetrics = (
  converting: number,
  totalSessions: number,
  rate: number,
): RybbitGoalMetrics => ({
  total_conversions: converting,
  total_sessions: totalSessions,
  conversion_rate: rate,
});

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
export const rybbitStatsRoutes: FastifyPluginAsyncTypebox<
  AuthDeps & { previewTimeoutMs: number }
> = async (app, deps) => {
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
              data: Type.Array(RybbitGoalWithMetricsSchema),
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
              ...goalMetrics(conv, m.total_sessions, round(rawRate(conv, m.total_sessions), 4)),
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

  const SeriesQuery = Type.Object({
    ...CommonQuery,
    bucket: str(`${GOAL_BUCKETS.join(' | ')}; default hour`),
    goal_ids: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String())], {
        description: 'numeric goal ids (or `goal_…` ids): repeated, a JSON array or a comma list',
      }),
    ),
  });
  const SeriesRow = Type.Object({
    time: Type.String({ description: 'bucket start in time_zone, YYYY-MM-DD HH:MI:SS' }),
    goal_id: Type.Integer(),
    conversions: Type.Integer({ description: 'sessions converting on the goal in the bucket' }),
    total_sessions: Type.Integer({ description: 'sessions overlapping the bucket' }),
    conversion_rate: Type.Number(),
  });
  for (const url of ['/api/sites/:site/goals/time-series', '/api/sites/:site/goals/bucketed']) {
    app.get(
      url,
      {
        schema: {
          tags,
          summary: 'Conversions of goals per time bucket',
          security,
          params: Type.Object({ site }),
          querystring: SeriesQuery,
          response: { 200: Type.Object({ data: Type.Array(SeriesRow) }), ...rybbitErrors },
        },
      },
      async (req) => {
        const website = websiteOf(req);
        const bucket = parseBucket(req.query.bucket);
        const scope = await rybbitScope(deps.db, website, req.query);
        const wanted = isNamedBy(parseGoalIds(req.query.goal_ids));
        const goals = (await goalRepository.listForWebsite(deps.db, website.id)).filter(wanted);
        if (goals.length === 0) return { data: [] };
        await checkBucketCount(deps.db, scope, bucket);
        const tz = req.query.time_zone ?? website.timezone;
        const numeric = new Map(goals.map((g) => [g.id, g.numeric_id]));
        const rows = await statsRepository.goalBucketSeries(
          deps.db,
          { ...scope, goalIds: goals.map((g) => g.id) },
          bucket,
          tz,
        );
        return {
          data: rows
            .map((r) => ({
              time: r.time,
              goal_id: numeric.get(r.goal_id)!,
              conversions: r.conversions,
              total_sessions: r.total_sessions,
              conversion_rate: rawRate(r.conversions, r.total_sessions),
            }))
            .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.goal_id - b.goal_id)),
        };
      },
    );
  }

  app.get(
    '/api/sites/:site/goals/summary',
    {
      schema: {
        tags,
        summary: 'Every goal with its metrics, and the sessions converting on any',
        security,
        params: Type.Object({ site }),
        querystring: Type.Object(CommonQuery),
        response: {
          200: Type.Object({
            data: Type.Object({
              goals: Type.Array(RybbitSummaryGoalSchema),
              total_sessions: Type.Integer(),
              converting_sessions: Type.Integer({ description: 'sessions completing any goal' }),
              total_goals: Type.Integer(),
            }),
          }),
          ...rybbitErrors,
        },
      },
    },
    async (req) => {
      const website = websiteOf(req);
      const scope = await rybbitScope(deps.db, website, req.query);
      const goals = await goalRepository.listForWebsite(deps.db, website.id);
      const goalIds = goals.map((g) => g.id);
      const m = await statsRepository.goalListMetrics(deps.db, { ...scope, goalIds });
      const any =
        goals.length === 0
          ? 0
          : await statsRepository.convertingAnyCount(deps.db, { ...scope, goalIds });
      const conv = (id: string) => m.goals.get(id)?.converting_sessions ?? 0;
      const sorted = [...goals].sort(
        (a, b) =>
          conv(b.id) - conv(a.id) ||
          b.created_at.getTime() - a.created_at.getTime() ||
          b.numeric_id - a.numeric_id,
      );
      return {
        data: {
          goals: sorted.map((g) => {
            const { goalpost: _full, ...r } = toRybbitGoal(g);
            const n = conv(g.id);
            return { ...r, ...goalMetrics(n, m.total_sessions, rawRate(n, m.total_sessions)) };
          }),
          total_sessions: m.total_sessions,
          converting_sessions: any,
          total_goals: goals.length,
        },
      };
    },
  );

  app.post(
    '/api/sites/:site/goals/preview',
    {
      schema: {
        tags,
        summary: 'What an unsaved goal would have converted (from raw events; nothing stored)',
        description:
          `Window at most ${MAX_PREVIEW_DAYS} days (start_date and end_date, or the last ` +
          `${MAX_PREVIEW_DAYS} days when both are absent), ${deps.previewTimeoutMs / 1000} s of ` +
          'query time. A condition SQL cannot reproduce exactly (e.g. query-string filters) is a ' +
          '400 "Invalid goal configuration".',
        security,
        params: Type.Object({ site }),
        querystring: Type.Object({
          ...CommonQuery,
          bucket: str(`${GOAL_BUCKETS.join(' | ')}; default hour`),
        }),
        body: RybbitGoalBody,
        response: {
          200: Type.Object({ data: GoalPreviewSchema }),
          ...rybbitErrors,
        },
      },
    },
    async (req) => ({
      data: await previewRybbitGoal(
        deps.db,
        websiteOf(req),
        req.body,
        req.query,
        parseBucket(req.query.bucket),
        deps.previewTimeoutMs,
      ),
    }),
  );
};
