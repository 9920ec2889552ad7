import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ClientError } from '../../shared/errors/errors.js';
import { resolveSparklyticsFunnel } from '../funnels/funnel-input.js';
import { funnelStatsRepository } from '../../shared/db/repositories/funnel-stats.repository.js';
import { funnelResults, resultsScope, savedScope } from '../funnels/funnel-results.service.js';
import { SessionPageQuery, SessionPageSchema } from '../stats/stats.schemas.js';
import { decodeCursor, sessionPage } from '../stats/stats.service.js';
import {
  CreateSparklyticsFunnelBody,
  FunnelResultsSchema,
  SparklyticsFunnelSchema,
  SparklyticsFunnelSummarySchema,
  toSparklyticsFunnel,
  toSparklyticsFunnelSummary,
  UpdateSparklyticsFunnelBody,
} from '../funnels/funnel.schemas.js';
import type { FunnelService } from '../funnels/funnel.service.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { sparklyticsErrors } from '../http/error-responses.js';
import { SPARKLYTICS_FILTERS, type SparklyticsFilterParam } from '../stats/stats-params.js';

const SiteParams = Type.Object({
  website_id: Type.String({ description: '`site_…` or numeric id' }),
});
const FunnelParams = Type.Object({
  website_id: Type.String({ description: '`site_…` or numeric id' }),
  funnel_id: Type.String({ description: '`fun_…` or numeric id' }),
});

const str = (description: string) => Type.Optional(Type.String({ description }));
const ResultsQuery = Type.Object({
  start_date: str('YYYY-MM-DD, inclusive; default end_date − 29'),
  end_date: str('YYYY-MM-DD, inclusive; default today in the time zone'),
  timezone: str('IANA time zone; default the website’s'),
  include_bots: str('`true` | `false`; default from the website’s bot_policy'),
  ...(Object.fromEntries(
    Object.keys(SPARKLYTICS_FILTERS).map((k) => [k, str('selects sessions; trimmed, not blank')]),
  ) as Record<SparklyticsFilterParam, ReturnType<typeof str>>),
});

/** Sparklytics dialect: `/api/websites/:website_id/funnels…`. */
export const sparklyticsFunnelRoutes: FastifyPluginAsyncTypebox<
  AuthDeps & { funnels: FunnelService }
> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];
  const tags = ['funnels (Sparklytics)'];

  app.get(
    '/api/websites/:website_id/funnels',
    {
      schema: {
        tags,
        summary: 'List the funnels of a website (newest first)',
        security,
        params: SiteParams,
        response: {
          200: Type.Object({ data: Type.Array(SparklyticsFunnelSummarySchema) }),
          ...sparklyticsErrors,
        },
      },
    },
    async (req) => {
      const funnels = await deps.funnels.list(websiteOf(req));
      // Newest first, then id descending (Sparklytics' order).
      funnels.sort(
        (a, b) =>
          b.created_at.getTime() - a.created_at.getTime() ||
          (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
      );
      return { data: funnels.map(toSparklyticsFunnelSummary) };
    },
  );

  app.post(
    '/api/websites/:website_id/funnels',
    {
      schema: {
        tags,
        summary: 'Create a funnel (2–8 steps, at most 20 per website); its past is backfilled',
        security,
        params: SiteParams,
        body: CreateSparklyticsFunnelBody,
        response: { 201: Type.Object({ data: SparklyticsFunnelSchema }), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      const fields = resolveSparklyticsFunnel(null, req.body);
      const funnel = await deps.funnels.create(websiteOf(req), fields);
      return reply.status(201).send({ data: toSparklyticsFunnel(funnel) });
    },
  );

  app.get(
    '/api/websites/:website_id/funnels/:funnel_id',
    {
      schema: {
        tags,
        summary: 'Get one funnel with its steps',
        security,
        params: FunnelParams,
        response: { 200: Type.Object({ data: SparklyticsFunnelSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => ({
      data: toSparklyticsFunnel(
        await deps.funnels.get(websiteOf(req), req.params.funnel_id, 'funnel_id'),
      ),
    }),
  );

  app.put(
    '/api/websites/:website_id/funnels/:funnel_id',
    {
      schema: {
        tags,
        summary:
          'Update a funnel (partial: name, steps, window_seconds); new steps replace all steps and are backfilled',
        security,
        params: FunnelParams,
        body: UpdateSparklyticsFunnelBody,
        response: { 200: Type.Object({ data: SparklyticsFunnelSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => {
      const body = req.body;
      if (
        body.name === undefined &&
        body.steps === undefined &&
        body.window_seconds === undefined
      ) {
        // Checked before the funnel's existence, as Sparklytics does.
        throw new ClientError(
          400,
          'validation_error',
          'request must include at least one updatable field',
          null,
        );
      }
      const funnel = await deps.funnels.update(
        websiteOf(req),
        req.params.funnel_id,
        'funnel_id',
        (current) => resolveSparklyticsFunnel(current, body),
      );
      return { data: toSparklyticsFunnel(funnel) };
    },
  );

  app.delete(
    '/api/websites/:website_id/funnels/:funnel_id',
    {
      schema: {
        tags,
        summary: 'Delete a funnel and its step matches',
        security,
        params: FunnelParams,
        response: { 204: Type.Null(), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      await deps.funnels.delete(websiteOf(req), req.params.funnel_id, 'funnel_id');
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/websites/:website_id/funnels/:funnel_id/results',
    {
      schema: {
        tags,
        summary:
          'Sessions reaching each step in the window (step n at the first match after step n−1, by event time then arrival)',
        security,
        params: FunnelParams,
        querystring: ResultsQuery,
        response: { 200: Type.Object({ data: FunnelResultsSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => {
      const site = websiteOf(req);
      const funnel = await deps.funnels.get(site, req.params.funnel_id, 'funnel_id');
      const scope = await resultsScope(deps.db, site, req.query);
      return { data: await funnelResults(deps.db, funnel, scope) };
    },
  );

  app.get(
    '/api/websites/:website_id/funnels/:funnel_id/steps/:step_order/sessions',
    {
      schema: {
        tags,
        summary:
          'Sessions that reached a step (mode=reached) or reached it and not the next (mode=dropped), newest end first',
        security,
        params: Type.Object({
          ...FunnelParams.properties,
          step_order: Type.String({ description: '1 … the number of steps' }),
        }),
        querystring: Type.Object({
          ...ResultsQuery.properties,
          mode: Type.Optional(
            Type.Union([Type.Literal('reached'), Type.Literal('dropped')], { default: 'reached' }),
          ),
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
      const funnel = await deps.funnels.get(site, req.params.funnel_id, 'funnel_id');
      const raw = req.params.step_order;
      const step = /^\d{1,2}$/.test(raw) ? Number(raw) : 0;
      if (step < 1 || step > funnel.steps.length) {
        throw new ClientError(404, 'not_found', 'step not found', 'step_order');
      }
      const { mode, cursor, limit: rawLimit, ...query } = req.query;
      const scope = await resultsScope(deps.db, site, query);
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      const limit = rawLimit ?? 25;
      const rows = await funnelStatsRepository.stepSessions(
        deps.db,
        savedScope(funnel, scope),
        step,
        mode ?? 'reached',
        { limit: limit + 1, after },
      );
      return sessionPage(rows, limit);
    },
  );
};
