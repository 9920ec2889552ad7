import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { goalRepository } from '../../shared/db/goal.repository.js';
import { statsRepository } from '../../shared/db/stats.repository.js';
import { notFound } from '../../shared/errors/errors.js';
import { ErrorBodySchema } from '../../shared/http/schemas.js';
import { GOAL_ID_RE } from '../../shared/ids.js';
import { resolveDayRange } from '../../shared/stats/date-range.js';
import { requirePrincipal, requireWebsite, type AuthDeps } from '../auth.js';

const GoalStatsSchema = Type.Object({
  goal_id: Type.String(),
  start_date: Type.String(),
  end_date: Type.String(),
  timezone: Type.String(),
  conversions: Type.Integer(),
  converting_sessions: Type.Integer(),
  total_sessions: Type.Integer(),
  conversion_rate: Type.Number(),
});

/** Sparklytics `GET /api/websites/:website_id/goals/:goal_id/stats`. */
export const statsRoutes: FastifyPluginAsyncTypebox<AuthDeps> = async (app, deps) => {
  app.get(
    '/api/websites/:website_id/goals/:goal_id/stats',
    {
      schema: {
        tags: ['goals'],
        summary: 'Conversion statistics of one goal',
        params: Type.Object({ website_id: Type.String(), goal_id: Type.String() }),
        querystring: Type.Object({
          start_date: Type.Optional(Type.String()),
          end_date: Type.Optional(Type.String()),
          timezone: Type.Optional(Type.String()),
        }),
        response: {
          200: Type.Object({ data: GoalStatsSchema }),
          401: ErrorBodySchema,
          403: ErrorBodySchema,
          404: ErrorBodySchema,
          422: ErrorBodySchema,
        },
      },
    },
    async (req) => {
      const principal = await requirePrincipal(deps, req);
      const site = await requireWebsite(deps, principal, req.params.website_id);
      if (!GOAL_ID_RE.test(req.params.goal_id)) throw notFound('goal', 'goal_id');
      const goal = await goalRepository.findById(deps.db, site.id, req.params.goal_id);
      if (!goal) throw notFound('goal', 'goal_id');
      const range = resolveDayRange({
        start_date: req.query.start_date,
        end_date: req.query.end_date,
        timezone: req.query.timezone ?? site.timezone,
      });
      const t = await statsRepository.goalTotals(deps.db, site.id, goal.id, range);
      const rate = t.total_sessions === 0 ? 0 : t.converting_sessions / t.total_sessions;
      return {
        data: {
          goal_id: goal.id,
          start_date: range.start,
          end_date: range.end,
          timezone: range.timezone,
          ...t,
          conversion_rate: Math.round(rate * 10_000) / 10_000,
        },
      };
    },
  );
};
