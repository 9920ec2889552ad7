import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { canAccessWebsite } from '../../shared/auth/api-keys.js';
import { funnelStatsRepository } from '../../shared/db/repositories/funnel-stats.repository.js';
import type { Funnel } from '../../shared/db/repositories/funnel.repository.js';
import { ClientError } from '../../shared/errors/errors.js';
import { resolveRybbitFunnel, resolveRybbitSteps } from '../funnels/funnel-input.js';
import {
  RybbitFunnelSchema,
  RybbitSaveFunnelBody,
  RybbitStepsBody,
  toRybbitFunnel,
} from '../funnels/funnel.schemas.js';
import type { FunnelService } from '../funnels/funnel.service.js';
import { adhocFunnelScope, funnelSummary, rybbitRows } from '../funnels/rybbit-funnels.service.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { rybbitErrors } from '../http/error-responses.js';
import { rawEventsScope, rybbitScope } from '../stats/rybbit-stats.service.js';
import { SessionSchema } from '../stats/stats.schemas.js';
import { toSessionView } from '../stats/stats.service.js';

const str = (description: string) => Type.Optional(Type.String({ description }));
const CommonQuery = {
  start_date: str('YYYY-MM-DD'),
  end_date: str('YYYY-MM-DD'),
  time_zone: str('IANA time zone; default the website’s'),
  filters: str('JSON array of {parameter, type, value: string[]} (as for goals); selects sessions'),
};
const site = Type.String({ description: 'numeric site id (or `site_…` id)' });

/** At most this many sessions per page of step sessions. */
export const MAX_STEP_SESSIONS_LIMIT = 100;

const AnalyzeRow = Type.Object({
  step_number: Type.Integer(),
  step_name: Type.String(),
  sessions: Type.Integer(),
  visitors: Type.Integer({ description: 'deprecated copy of sessions' }),
  conversion_rate: Type.Number({ description: 'percent of step 1, 2 decimals' }),
  dropoff_rate: Type.Number({ description: 'percent lost since the previous step, 2 decimals' }),
});

const SummarySchema = Type.Object({
  sessions_entered_any: Type.Integer(),
  truncated: Type.Boolean(),
  funnels: Type.Array(
    Type.Object({
      funnel_id: Type.Integer(),
      steps: Type.Array(
        Type.Object({
          sessions: Type.Integer(),
          median_seconds_to_next: Type.Union([Type.Number(), Type.Null()]),
        }),
      ),
      median_seconds_to_convert: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});

const funnelNotFound = (field: string) =>
  new ClientError(404, 'not_found', 'Funnel not found', field);

/** A funnel of another website: 403 when this key may see that website, else 404. */
const otherSite =
  (req: FastifyRequest, field: string) =>
  (f: Funnel): never => {
    if (req.principal && canAccessWebsite(req.principal, f.website_id)) {
      throw new ClientError(403, 'forbidden', 'Forbidden', field);
    }
    throw funnelNotFound(field);
  };

/** 1-based page and a limit of 1–100 (default 25). */
function paging(query: { page?: string; limit?: string }): { limit: number; offset: number } {
  const int = (raw: string | undefined, field: string, dflt: number, max: number) => {
    if (raw === undefined) return dflt;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
      throw new ClientError(
        400,
        'validation_error',
        `${field} must be an integer from 1 to ${max}`,
        field,
      );
    }
    return Number(raw);
  };
  const limit = int(query.limit, 'limit', 25, MAX_STEP_SESSIONS_LIMIT);
  const page = int(query.page, 'page', 1, 1_000_000);
  return { limit, offset: (page - 1) * limit };
}

/**
 * Rybbit funnels: saved funnels (list, create or replace by `reportId`, delete), ad-hoc
 * analysis, step sessions and the funnel summary, under `/api/sites/:site/funnels…` and the
 * legacy `/api/funnels…` paths. Saved funnels are the same funnels the Sparklytics dialect
 * manages. Errors are `{error, details?}`, 400 for any invalid input.
 */
export const rybbitFunnelRoutes: FastifyPluginAsyncTypebox<
  AuthDeps & { funnels: FunnelService }
> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];
  const tags = ['funnels (Rybbit)'];

  for (const url of ['/api/funnels/:site', '/api/sites/:site/funnels']) {
    app.get(
      url,
      {
        schema: {
          tags,
          summary: 'Saved funnels, oldest first',
          security,
          params: Type.Object({ site }),
          response: { 200: Type.Object({ data: Type.Array(RybbitFunnelSchema) }), ...rybbitErrors },
        },
      },
      async (req) => ({ data: (await deps.funnels.list(websiteOf(req))).map(toRybbitFunnel) }),
    );

    app.post(
      url,
      {
        schema: {
          tags,
          summary:
            'Save a funnel, or replace one (`reportId`); 2–8 steps, 20 funnels per website, names unique ignoring case',
          security,
          params: Type.Object({ site }),
          body: RybbitSaveFunnelBody,
          response: {
            201: Type.Object({ success: Type.Literal(true), funnelId: Type.Integer() }),
            ...rybbitErrors,
          },
        },
      },
      async (req, reply) => {
        const website = websiteOf(req);
        const fields = resolveRybbitFunnel(req.body);
        const { reportId } = req.body;
        const funnel =
          reportId === undefined
            ? await deps.funnels.create(website, fields)
            : await deps.funnels
                .update(website, reportId, 'reportId', () => fields, otherSite(req, 'reportId'))
                .catch((err: unknown) => {
                  throw err instanceof ClientError && err.statusCode === 404
                    ? funnelNotFound('reportId')
                    : err;
                });
        return reply.status(201).send({ success: true, funnelId: funnel.numeric_id });
      },
    );
  }

  for (const url of ['/api/funnels/:funnelId/:site', '/api/sites/:site/funnels/:funnelId']) {
    app.delete(
      url,
      {
        schema: {
          tags,
          summary: 'Delete a saved funnel and its step matches',
          security,
          params: Type.Object({
            funnelId: Type.String({ description: 'numeric funnel id (or `fun_…`)' }),
            site,
          }),
          response: { 200: Type.Object({ success: Type.Literal(true) }), ...rybbitErrors },
        },
      },
      async (req) => {
        await deps.funnels
          .delete(websiteOf(req), req.params.funnelId, 'funnelId', otherSite(req, 'funnelId'))
          .catch((err: unknown) => {
            throw err instanceof ClientError && err.statusCode === 404
              ? funnelNotFound('funnelId')
              : err;
          });
        return { success: true as const };
      },
    );
  }

  for (const url of ['/api/funnels/analyze/:site', '/api/sites/:site/funnels/analyze']) {
    app.post(
      url,
      {
        schema: {
          tags,
          summary:
            'Analyze ad-hoc steps over raw events (window at most 90 days, default the last 90)',
          security,
          params: Type.Object({ site }),
          querystring: Type.Object(CommonQuery),
          body: RybbitStepsBody,
          response: { 200: Type.Object({ data: Type.Array(AnalyzeRow) }), ...rybbitErrors },
        },
      },
      async (req) => {
        const website = websiteOf(req);
        const steps = resolveRybbitSteps(req.body.steps);
        const scope = adhocFunnelScope(
          website,
          steps,
          await rawEventsScope(deps.db, website, req.query, 'analysis'),
        );
        const reached = await deps.db.tx((q) => funnelStatsRepository.reached(q, scope));
        return {
          data: rybbitRows(
            steps.map((s) => s.name),
            reached,
          ),
        };
      },
    );
  }

  for (const url of [
    '/api/funnels/:stepNumber/sessions/:site',
    '/api/sites/:site/funnels/:stepNumber/sessions',
  ]) {
    app.post(
      url,
      {
        schema: {
          tags,
          summary:
            'Sessions that reached a step (mode=reached) or reached it and not the next (mode=dropped), newest first',
          security,
          params: Type.Object({ stepNumber: Type.String(), site }),
          querystring: Type.Object({
            ...CommonQuery,
            mode: str('reached (default) | dropped'),
            page: str('1-based page, default 1'),
            limit: str(`1–${MAX_STEP_SESSIONS_LIMIT}, default 25`),
          }),
          body: RybbitStepsBody,
          response: { 200: Type.Object({ data: Type.Array(SessionSchema) }), ...rybbitErrors },
        },
      },
      async (req) => {
        const website = websiteOf(req);
        const steps = resolveRybbitSteps(req.body.steps);
        const raw = req.params.stepNumber;
        const step = /^\d{1,2}$/.test(raw) ? Number(raw) : 0;
        if (step < 1 || step > steps.length) {
          throw new ClientError(400, 'validation_error', 'Invalid step number', 'stepNumber');
        }
        const mode = req.query.mode ?? 'reached';
        if (mode !== 'reached' && mode !== 'dropped') {
          throw new ClientError(
            400,
            'validation_error',
            "Mode must be 'reached' or 'dropped'",
            'mode',
          );
        }
        const page = paging(req.query);
        const scope = adhocFunnelScope(
          website,
          steps,
          await rawEventsScope(deps.db, website, req.query, 'analysis'),
        );
        const rows = await deps.db.tx((q) =>
          funnelStatsRepository.stepSessions(q, scope, step, mode, page),
        );
        return { data: rows.map(toSessionView) };
      },
    );
  }

  app.get(
    '/api/sites/:site/funnels/summary',
    {
      schema: {
        tags,
        summary:
          'Saved funnels (the 50 oldest): sessions per step and median seconds between steps',
        security,
        params: Type.Object({ site }),
        querystring: Type.Object(CommonQuery),
        response: { 200: Type.Object({ data: SummarySchema }), ...rybbitErrors },
      },
    },
    async (req) => {
      const website = websiteOf(req);
      const scope = await rybbitScope(deps.db, website, req.query);
      return { data: await funnelSummary(deps.db, await deps.funnels.list(website), scope) };
    },
  );
};
