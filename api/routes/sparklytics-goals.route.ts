import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sparklyticsErrors } from '../http/error-responses.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { resolveSparklyticsGoal } from '../goals/goal-input.js';
import type { GoalService } from '../goals/goal.service.js';
import {
  CreateSparklyticsGoalBody,
  SparklyticsGoalSchema,
  toSparklyticsGoal,
  UpdateSparklyticsGoalBody,
} from '../goals/goal.schemas.js';

const SiteParams = Type.Object({
  website_id: Type.String({ description: '`site_…` or numeric id' }),
});
const GoalParams = Type.Object({
  website_id: Type.String({ description: '`site_…` or numeric id' }),
  goal_id: Type.String({ description: '`goal_…` id' }),
});

/** Sparklytics dialect: `/api/websites/:website_id/goals…`. */
export const sparklyticsGoalRoutes: FastifyPluginAsyncTypebox<
  AuthDeps & { goals: GoalService }
> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/websites/:website_id/goals',
    {
      schema: {
        tags: ['goals (Sparklytics)'],
        summary: 'List the goals of a website',
        security,
        params: SiteParams,
        response: {
          200: Type.Object({ data: Type.Array(SparklyticsGoalSchema) }),
          ...sparklyticsErrors,
        },
      },
    },
    async (req) => ({ data: (await deps.goals.list(websiteOf(req))).map(toSparklyticsGoal) }),
  );

  app.post(
    '/api/websites/:website_id/goals',
    {
      schema: {
        tags: ['goals (Sparklytics)'],
        summary: 'Create a goal (at most 50 per website)',
        security,
        params: SiteParams,
        body: CreateSparklyticsGoalBody,
        response: { 201: Type.Object({ data: SparklyticsGoalSchema }), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      const fields = resolveSparklyticsGoal(null, req.body);
      const goal = await deps.goals.create(websiteOf(req), fields);
      return reply.status(201).send({ data: toSparklyticsGoal(goal) });
    },
  );

  app.get(
    '/api/websites/:website_id/goals/:goal_id',
    {
      schema: {
        tags: ['goals (Sparklytics)'],
        summary: 'Get one goal',
        security,
        params: GoalParams,
        response: { 200: Type.Object({ data: SparklyticsGoalSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => ({
      data: toSparklyticsGoal(await deps.goals.get(websiteOf(req), req.params.goal_id, 'goal_id')),
    }),
  );

  app.put(
    '/api/websites/:website_id/goals/:goal_id',
    {
      schema: {
        tags: ['goals (Sparklytics)'],
        summary: 'Update a goal (partial; the merged result is validated)',
        security,
        params: GoalParams,
        body: UpdateSparklyticsGoalBody,
        response: { 200: Type.Object({ data: SparklyticsGoalSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => {
      const goal = await deps.goals.update(
        websiteOf(req),
        req.params.goal_id,
        'goal_id',
        (existing) => resolveSparklyticsGoal(existing, req.body),
      );
      return { data: toSparklyticsGoal(goal) };
    },
  );

  app.delete(
    '/api/websites/:website_id/goals/:goal_id',
    {
      schema: {
        tags: ['goals (Sparklytics)'],
        summary: 'Delete a goal (its stored conversions stay)',
        security,
        params: GoalParams,
        response: { 204: Type.Null(), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      await deps.goals.delete(websiteOf(req), req.params.goal_id, 'goal_id');
      return reply.status(204).send(null);
    },
  );
};
