import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  authenticateApiKey,
  bearerToken,
  canAccessWebsite,
  type Principal,
} from '../../shared/auth/api-keys.js';
import type { Db } from '../../shared/db/pool.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import { forbidden, notFound, unauthorized } from '../../shared/errors/errors.js';
import type { ApiGuards } from './guards.js';
import { parseWebsiteRef } from '../../shared/ids.js';

export interface AuthDeps {
  db: Db;
  bootstrapApiKey: string | null;
  guards: ApiGuards;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link installAuth} for every route of the plugin that installed it. */
    principal: Principal | null;
    /** The website named by the route's `:website_id` or `:site`, when it has one. */
    website: Website | null;
  }
}

/**
 * 401 unless the request carries a valid, unrevoked key (429 instead once its address failed
 * too often, see ApiGuards); 403 for a `collect` key, which is genuine but may only send events
 * (it is meant to sit in page HTML, so it must never manage); 429 beyond the key's request
 * limit.
 */
export async function requirePrincipal(deps: AuthDeps, req: FastifyRequest): Promise<Principal> {
  const p = await authenticateApiKey(
    deps.db,
    bearerToken(req.headers.authorization),
    deps.bootstrapApiKey,
  );
  if (!p) deps.guards.failed(req.ip);
  if (p.kind !== 'manage') throw forbidden('collect keys may only send events');
  deps.guards.admit(p.keyId);
  return p;
}

/**
 * The website a path names (`site_…` or numeric id, {@link parseWebsiteRef}): 404 when the
 * reference is malformed or unknown. No access check: callers decide who may see it.
 */
export async function findWebsite(deps: AuthDeps, ref: string): Promise<Website> {
  const parsed = parseWebsiteRef(ref);
  const site = parsed === null ? null : await websiteRepository.findByRef(deps.db, parsed);
  if (!site) throw notFound('website', 'website_id');
  return site;
}

/**
 * Resolves the website named in a path (`site_…` or numeric id): 404 when malformed or
 * unknown, 403 when it exists but lies outside the key's scope.
 */
export async function requireWebsite(
  deps: AuthDeps,
  principal: Principal,
  ref: string,
): Promise<Website> {
  const site = await findWebsite(deps, ref);
  if (!canAccessWebsite(principal, site.id)) throw forbidden();
  return site;
}

/**
 * Authenticates every route of the (encapsulated) plugin before its body is validated, so the
 * order of refusals is 401/403 (key) → 404/403 (website) → 422 (body): a caller without a
 * valid key learns nothing about which websites exist or what a valid body looks like.
 */
export function installAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.addHook('onRequest', async (req) => {
    req.principal = await requirePrincipal(deps, req);
  });
  app.addHook('preValidation', async (req) => {
    const params = req.params as Record<string, string | undefined>;
    const ref = params.website_id ?? params.site;
    if (ref !== undefined && req.principal) {
      req.website = await requireWebsite(deps, req.principal, ref);
    }
  });
}

/** The authenticated principal of a route under {@link installAuth}. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

/** The website resolved from the path of a route under {@link installAuth}. */
export function websiteOf(req: FastifyRequest): Website {
  if (!req.website) throw notFound('website', 'website_id');
  return req.website;
}
