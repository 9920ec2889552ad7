import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sparklyticsErrors } from '../http/error-responses.js';
import { literals } from '../http/schema-helpers.js';
import { MATCH_OPERATORS, VALUE_MODES } from '../../shared/goals/goal-definition.js';
import { installAuth, websiteOf, type AuthDeps } from '../http/auth.js';
import { resolveSparklyticsGoal } from '../goals/goal-input.js';
import type { GoalService } from '../goals/goal.service.js';
import {
  PropertyFilterSchema,
  SparklyticsGoalSchema,
  toSparklyticsGoal,
} from '../goals/goal.schemas.js';

const GoalBodyFields = {
  name: Type.String({
    description: '1–100 characters after trimming; unique per website ignoring case',
  }),
  goal_type: Type.Union(
    [Type.Literal('event'), Type.Literal('pageview'), Type.Literal('page_view')],
    {
      description: '`page_view` is accepted as an alias of `pageview`',
    },
  ),
  match_value: Type.String({ description: '1–500 characters' }),
  match_operator: literals(MATCH_OPERATORS),
  case_sensitive: Type.Boolean({ default: true }),
  property_filters: Type.Array(PropertyFilterSchema, {
    description: 'event goals only; AND-joined',
  }),
  value_mode: literals(VALUE_MODES),
  fixed_value: Type.Union([Type.Number(), Type.Null()], {
    description: 'required when value_mode=fixed; ≥ 0',
  }),
  value_property_key: Type.Union([Type.String(), Type.Null()], {
    description: 'required when value_mode=event_property',
  }),
  currency: Type.String({ description: '1–8 characters, stored upper-case; default USD' }),
};

const CreateGoalBody = Type.Object(
  {
    name: GoalBodyFields.name,
    goal_type: GoalBodyFields.goal_type,
    match_value: GoalBodyFields.match_value,
    match_operator: Type.Optional(GoalBodyFields.match_operator),
    case_sensitive: Type.Optional(GoalBodyFields.case_sensitive),
    property_filters: Type.Optional(GoalBodyFields.property_filters),
    value_mode: Type.Optional(GoalBodyFields.value_mode),
    fixed_value: Type.Optional(GoalBodyFields.fixed_value),
    value_property_key: Type.Optional(GoalBodyFields.value_property_key),
    currency: Type.Optional(GoalBodyFields.currency),
  },
  { additionalProperties: false },
);

const UpdateGoalBody = Type.Partial(CreateGoalBody, { additionalProperties: false });

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
        body: CreateGoalBody,
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
        body: UpdateGoalBody,
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
