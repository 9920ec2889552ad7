import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sparklyticsErrors } from '../http/error-responses.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import { forbidden, notFound } from '../../shared/errors/errors.js';
import { invalidateGoalCache } from '../../shared/cache/goal-definitions.cache.js';
import { newWebsiteId } from '../../shared/ids.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from '../../shared/redis/redis.js';
import { installAuth, principalOf, websiteOf, type AuthDeps } from '../http/auth.js';
import { normalizeWebsiteInput, resolveNewWebsite } from '../websites/website-input.js';
import {
  CreateWebsiteBody,
  toWebsite,
  UpdateWebsiteBody,
  WebsiteSchema,
} from '../websites/website.schemas.js';

/**
 * `/api/websites[/:website_id]`. Only all-sites keys may create websites (a scoped key could
 * not reach the site it created); listing shows the sites in the key's scope.
 */
export const websiteRoutes: FastifyPluginAsyncTypebox<
  AuthDeps & { redis: Redis; logger: Logger }
> = async (app, deps) => {
  installAuth(app, deps);
  const security = [{ bearerAuth: [] }];
  const tags = ['websites'];
  const SiteParams = Type.Object({
    website_id: Type.String({ description: '`site_…` or numeric id' }),
  });

  app.post(
    '/api/websites',
    {
      schema: {
        tags,
        summary: 'Create a website (all-sites keys only)',
        security,
        body: CreateWebsiteBody,
        response: { 201: Type.Object({ data: WebsiteSchema }), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      if (principalOf(req).websiteIds !== null) {
        throw forbidden('only an all-sites key may create websites');
      }
      const site = await websiteRepository.create(deps.db, {
        id: newWebsiteId(),
        ...resolveNewWebsite(req.body),
      });
      return reply.status(201).send({ data: toWebsite(site) });
    },
  );

  app.get(
    '/api/websites',
    {
      schema: {
        tags,
        summary: "List the websites in the key's scope",
        security,
        response: { 200: Type.Object({ data: Type.Array(WebsiteSchema) }), ...sparklyticsErrors },
      },
    },
    async (req) => ({
      data: (await websiteRepository.list(deps.db, principalOf(req).websiteIds)).map(toWebsite),
    }),
  );

  app.get(
    '/api/websites/:website_id',
    {
      schema: {
        tags,
        summary: 'Get one website',
        security,
        params: SiteParams,
        response: { 200: Type.Object({ data: WebsiteSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => ({ data: toWebsite(websiteOf(req)) }),
  );

  app.put(
    '/api/websites/:website_id',
    {
      schema: {
        tags,
        summary: 'Update a website (partial)',
        security,
        params: SiteParams,
        body: UpdateWebsiteBody,
        response: { 200: Type.Object({ data: WebsiteSchema }), ...sparklyticsErrors },
      },
    },
    async (req) => {
      const site = await websiteRepository.update(
        deps.db,
        websiteOf(req).id,
        normalizeWebsiteInput(req.body),
      );
      if (!site) throw notFound('website', 'website_id');
      return { data: toWebsite(site) };
    },
  );

  app.delete(
    '/api/websites/:website_id',
    {
      schema: {
        tags,
        summary: 'Delete a website and its goal definitions (events and conversions stay)',
        security,
        params: SiteParams,
        response: { 204: Type.Null(), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      const site = websiteOf(req);
      if (!(await websiteRepository.delete(deps.db, site.id))) {
        throw notFound('website', 'website_id');
      }
      await invalidateGoalCache(deps.redis, site.id).catch((err: Error) =>
        deps.logger.warn(
          { website_id: site.id, err: err.message },
          'goal_cache_invalidation_failed',
        ),
      );
      return reply.status(204).send(null);
    },
  );
};
