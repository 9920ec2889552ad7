import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { apiKeyRepository } from '../db/repositories/api-key.repository.js';
import type { Queryable } from '../db/pool.js';
import { randomId } from '../ids.js';

export const API_KEY_PREFIX = 'spk_selfhosted_';
const API_KEY_RE = /^spk_selfhosted_[0-9a-f]{32}$/;

/** What a request may do, once its key is verified. */
export interface Principal {
  keyId: string;
  kind: 'manage' | 'collect';
  /** null = every website. */
  websiteIds: string[] | null;
}

/**
 * API keys are 128 random bits, so a fast hash is enough (there is nothing to brute-force);
 * only the SHA-256 is stored.
 */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function generateApiKey(): { key: string; hash: Buffer; prefix: string; id: string } {
  const key = API_KEY_PREFIX + randomBytes(16).toString('hex');
  return {
    key,
    hash: hashApiKey(key),
    prefix: key.slice(0, API_KEY_PREFIX.length + 4),
    id: `key_${randomId(16)}`,
  };
}

/** Parses `Authorization: Bearer <key>`; null when absent or malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/**
 * Resolves a presented key to a principal, or null. The key is looked up by its hash and the
 * stored hash is compared in constant time; the bootstrap key (from config) is compared the
 * same way, so response timing says nothing about how much of a guess was right.
 */
export async function authenticateApiKey(
  q: Queryable,
  presented: string | null,
  bootstrapKey: string | null,
): Promise<Principal | null> {
  if (presented === null) return null;
  const hash = hashApiKey(presented);
  if (bootstrapKey && timingSafeEqual(hash, hashApiKey(bootstrapKey))) {
    return { keyId: 'bootstrap', kind: 'manage', websiteIds: null };
  }
  if (!API_KEY_RE.test(presented)) return null;
  const row = await apiKeyRepository.findActiveByHash(q, hash);
  if (!row || row.key_hash.length !== hash.length || !timingSafeEqual(row.key_hash, hash)) {
    return null;
  }
  return { keyId: row.id, kind: row.kind, websiteIds: row.website_ids };
}

export function canAccessWebsite(p: Principal, websiteId: string): boolean {
  return p.websiteIds === null || p.websiteIds.includes(websiteId);
}
