import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from '@sinclair/typebox';
import { websiteRepository, type Website } from '../../shared/db/website.repository.js';
import { forbidden, notFound, validationError } from '../../shared/errors/errors.js';
import { invalidateGoalCache } from '../../shared/cache/goal-definitions.cache.js';
import { ErrorBodySchema } from '../../shared/http/error.schemas.js';
import { newWebsiteId } from '../../shared/ids.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from '../../shared/redis/redis.js';
import { isValidTimeZone } from '../stats/date-range.js';
import { installAuth, principalOf, websiteOf, type AuthDeps } from '../http/auth.js';
import { codePoints, NAME_MAX } from '../goals/goal-input.js';
import { isoSeconds } from '../goals/goal.schemas.js';

const BotPolicy = Type.Union([
  Type.Literal('off'),
  Type.Literal('balanced'),
  Type.Literal('strict'),
]);

const WebsiteSchema = Type.Object({
  id: Type.String(),
  numeric_id: Type.Integer(),
  name: Type.String(),
  domain: Type.String(),
  allowed_origins: Type.Array(Type.String()),
  timezone: Type.String(),
  bot_policy: BotPolicy,
  created_at: Type.String(),
  updated_at: Type.String(),
});

const CreateWebsiteBody = Type.Object(
  {
    name: Type.String({ description: '1–100 characters after trimming' }),
    domain: Type.String({ description: 'host name, e.g. `shop.example.com` (optionally `:port`)' }),
    allowed_origins: Type.Optional(
      Type.Array(Type.String(), {
        description: 'extra origins (`https://host[:port]`) allowed to send events',
      }),
    ),
    timezone: Type.Optional(Type.String({ description: 'IANA time zone; default UTC' })),
    bot_policy: Type.Optional(BotPolicy),
  },
  { additionalProperties: false },
);
const UpdateWebsiteBody = Type.Partial(CreateWebsiteBody, { additionalProperties: false });
type WebsiteInput = Static<typeof UpdateWebsiteBody>;

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  422: ErrorBodySchema,
};

const HOST_RE =
  /^(?=.{1,253}(:|$))([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/;
const MAX_ORIGINS = 50;

function toWebsite(w: Website): Static<typeof WebsiteSchema> {
  return {
    id: w.id,
    numeric_id: w.numeric_id,
    name: w.name,
    domain: w.domain,
    allowed_origins: w.allowed_origins,
    timezone: w.timezone,
    bot_policy: w.bot_policy,
    created_at: isoSeconds(w.created_at),
    updated_at: isoSeconds(w.updated_at),
  };
}

/** Validates and normalizes the fields present (create requires name and domain via schema). */
export function normalizeWebsiteInput(input: WebsiteInput): WebsiteInput {
  const out: WebsiteInput = {};
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name === '') throw validationError('name must not be empty', 'name');
    if (codePoints(name) > NAME_MAX) {
      throw validationError(`name must be at most ${NAME_MAX} characters`, 'name');
    }
    out.name = name;
  }
  if (input.domain !== undefined) {
    const domain = input.domain.trim().toLowerCase().replace(/\.$/, '');
    if (!HOST_RE.test(domain)) {
      throw validationError('domain must be a host name such as shop.example.com', 'domain');
    }
    out.domain = domain;
  }
  if (input.allowed_origins !== undefined) {
    if (input.allowed_origins.length > MAX_ORIGINS) {
      throw validationError(`at most ${MAX_ORIGINS} allowed_origins`, 'allowed_origins');
    }
    out.allowed_origins = input.allowed_origins.map((o, i) => {
      let url: URL | null = null;
      try {
        url = new URL(o);
      } catch {
        url = null;
      }
      if (
        !url ||
        !/^https?:$/.test(url.protocol) ||
        url.origin !== o.replace(/\/$/, '').toLowerCase()
      ) {
        throw validationError(
          'must be an origin such as https://shop.example.com (scheme, host, optional port)',
          `allowed_origins[${i}]`,
        );
      }
      return url.origin;
    });
  }
  if (input.timezone !== undefined) {
    if (!isValidTimeZone(input.timezone)) {
      throw validationError('timezone must be an IANA time zone such as Europe/Berlin', 'timezone');
    }
    out.timezone = input.timezone;
  }
  if (input.bot_policy !== undefined) out.bot_policy = input.bot_policy;
  return out;
}

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
        response: { 201: Type.Object({ data: WebsiteSchema }), ...errors },
      },
    },
    async (req, reply) => {
      if (principalOf(req).websiteIds !== null) {
        throw forbidden('only an all-sites key may create websites');
      }
      const input = normalizeWebsiteInput(req.body);
      const site = await websiteRepository.create(deps.db, {
        id: newWebsiteId(),
        name: input.name!,
        domain: input.domain!,
        allowed_origins: input.allowed_origins,
        timezone: input.timezone,
        bot_policy: input.bot_policy,
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
        response: { 200: Type.Object({ data: Type.Array(WebsiteSchema) }), ...errors },
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
        response: { 200: Type.Object({ data: WebsiteSchema }), ...errors },
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
        response: { 200: Type.Object({ data: WebsiteSchema }), ...errors },
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
        response: { 204: Type.Null(), ...errors },
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
