import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { rybbitErrors } from '../http/error-responses.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { resolveRybbitGoal, rybbitDefaultName } from '../goals/goal-input.js';
import type { GoalService } from '../goals/goal.service.js';
import { RybbitGoalBody } from '../goals/goal.schemas.js';

const SiteDescription = { description: 'numeric site id (or `site_…` id)' };
const GoalIdDescription = { description: 'numeric goal id (or `goal_…` id)' };

/**
 * Rybbit dialect: `POST /api/goals/:site`, `PUT|DELETE /api/goals/:goalId/:site`, and the
 * newer `/api/sites/:site/goals[/:goalId]` aliases. The list and sessions routes belong to the
 * statistics API. Errors are `{error, details?}` with 400 for any validation failure.
 */
export const rybbitGoalRoutes: FastifyPluginAsyncTypebox<
  AuthDeps & { goals: GoalService }
> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];
  const tags = ['goals (Rybbit)'];

  for (const url of ['/api/goals/:site', '/api/sites/:site/goals']) {
    app.post(
      url,
      {
        schema: {
          tags,
          summary: 'Create a goal',
          security,
          params: Type.Object({ site: Type.String(SiteDescription) }),
          body: RybbitGoalBody,
          response: {
            201: Type.Object({ success: Type.Literal(true), goalId: Type.Integer() }),
            ...rybbitErrors,
          },
        },
      },
      async (req, reply) => {
        const fields = resolveRybbitGoal(null, req.body);
        const c = req.body.config;
        const subject = (c.pathPattern ?? c.eventName ?? c.valuePattern ?? '').trim();
        const goal = await deps.goals.create(
          websiteOf(req),
          fields,
          rybbitDefaultName(req.body.goalType, subject),
        );
        return reply.status(201).send({ success: true, goalId: goal.numeric_id });
      },
    );
  }

  const byGoal = [{ url: '/api/goals/:goalId/:site' }, { url: '/api/sites/:site/goals/:goalId' }];
  const GoalParams = Type.Object({
    goalId: Type.String(GoalIdDescription),
    site: Type.String(SiteDescription),
  });
  for (const { url } of byGoal) {
    app.put(
      url,
      {
        schema: {
          tags,
          summary: 'Replace the name and config of a goal (goalType cannot change)',
          security,
          params: GoalParams,
          body: RybbitGoalBody,
          response: {
            200: Type.Object({ success: Type.Literal(true), goalId: Type.Integer() }),
            ...rybbitErrors,
          },
        },
      },
      async (req) => {
        const goal = await deps.goals.update(
          websiteOf(req),
          req.params.goalId,
          'goalId',
          (existing) => {
            const next = resolveRybbitGoal(existing, req.body);
            return { ...next, name: next.name ?? existing.name };
          },
        );
        return { success: true as const, goalId: goal.numeric_id };
      },
    );
    app.delete(
      url,
      {
        schema: {
          tags,
          summary: 'Delete a goal (its stored conversions stay)',
          security,
          params: GoalParams,
          response: { 200: Type.Object({ success: Type.Literal(true) }), ...rybbitErrors },
        },
      },
      async (req) => {
        await deps.goals.delete(websiteOf(req), req.params.goalId, 'goalId');
        return { success: true as const };
      },
    );
  }
};
