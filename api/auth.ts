import type { FastifyRequest } from 'fastify';
import {
  authenticateApiKey,
  bearerToken,
  canAccessWebsite,
  type Principal,
} from '../shared/auth/api-keys.js';
import type { Db } from '../shared/db/pool.js';
import { websiteRepository, type Website } from '../shared/db/website.repository.js';
import { forbidden, notFound, unauthorized } from '../shared/errors/errors.js';
import { WEBSITE_ID_RE } from '../shared/ids.js';

export interface AuthDeps {
  db: Db;
  bootstrapApiKey: string | null;
}

/** 401 unless the request carries a valid, unrevoked management key. */
export async function requirePrincipal(deps: AuthDeps, req: FastifyRequest): Promise<Principal> {
  const p = await authenticateApiKey(
    deps.db,
    bearerToken(req.headers.authorization),
    deps.bootstrapApiKey,
  );
  if (!p || p.kind !== 'manage') throw unauthorized();
  return p;
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
  if (!WEBSITE_ID_RE.test(ref) && !/^\d{1,15}$/.test(ref)) throw notFound('website', 'website_id');
  const site = await websiteRepository.findByRef(deps.db, ref);
  if (!site) throw notFound('website', 'website_id');
  if (!canAccessWebsite(principal, site.id)) throw forbidden();
  return site;
}
