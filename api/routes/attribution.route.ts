import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ClientError } from '../../shared/errors/errors.js';
import { attribution } from '../attribution/attribution.service.js';
import { AttributionSchema, RevenueSummarySchema } from '../attribution/attribution.schemas.js';
import { findGoalOf } from '../goals/goal.service.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { sparklyticsErrors } from '../http/error-responses.js';
import { SPARKLYTICS_FILTERS, type SparklyticsFilterParam } from '../stats/stats-params.js';

const str = (description: string) => Type.Optional(Type.String({ description }));
const Query = Type.Object({
  goal_id: str('required: `goal_…` or numeric id'),
  model: str('first_touch | last_touch (default)'),
  scope: str(
    'Goalpost: session (default) | visitor: first touch over the visitor’s earlier sessions (stable user id only)',
  ),
  lookback_days: str('scope=visitor: 1–90, default 30'),
  start_date: str('YYYY-MM-DD, inclusive; default end_date − 6'),
  end_date: str('YYYY-MM-DD, inclusive; default today in the time zone'),
  timezone: str('IANA time zone; default the website’s; the window is its local days'),
  include_bots: str('`true` | `false`; default from the website’s bot_policy'),
  ...(Object.fromEntries(
    Object.keys(SPARKLYTICS_FILTERS).map((k) => [k, str('selects sessions; trimmed, not blank')]),
  ) as Record<SparklyticsFilterParam, ReturnType<typeof str>>),
});
const params = Type.Object({ website_id: Type.String({ description: '`site_…` or numeric id' }) });

/** Sparklytics attribution and revenue summary: `/api/websites/:website_id/attribution`, `…/revenue/summary`. */
export const attributionRoutes: FastifyPluginAsyncTypebox<AuthDeps> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];
  const tags = ['attribution (Sparklytics)'];

  const resolve = async (
    req: { query: Record<string, string | undefined> } & Parameters<typeof websiteOf>[0],
  ) => {
    const site = websiteOf(req);
    const { goal_id: goalRef, ...query } = req.query;
    if (goalRef === undefined || goalRef === '') {
      throw new ClientError(400, 'validation_error', 'goal_id is required', 'goal_id');
    }
    const goal = await findGoalOf(deps.db, site, goalRef, 'goal_id').catch((err: unknown) => {
      throw err instanceof ClientError && err.statusCode === 404
        ? new ClientError(404, 'not_found', 'Goal not found', 'goal_id')
        : err;
    });
    return attribution(deps.db, site, goal, query);
  };

  app.get(
    '/api/websites/:website_id/attribution',
    {
      schema: {
        tags,
        summary: 'A goal’s conversions and revenue by channel, first or last touch',
        security,
        params,
        querystring: Query,
        response: { 200: Type.Object({ data: AttributionSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => ({ data: await resolve(req) }),
  );

  app.get(
    '/api/websites/:website_id/revenue/summary',
    {
      schema: {
        tags,
        summary: 'A goal’s conversions and revenue in the window (the attribution totals)',
        security,
        params,
        querystring: Query,
        response: { 200: Type.Object({ data: RevenueSummarySchema }), ...sparklyticsErrors },
      },
    },
    async (req) => {
      const a = await resolve(req);
      return {
        data: {
          goal_id: a.goal_id,
          model: a.model,
          currency: a.currency,
          conversions: a.totals.conversions,
          revenue: a.totals.revenue,
        },
      };
    },
  );
};
