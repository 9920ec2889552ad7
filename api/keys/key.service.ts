import { generateApiKey, type Principal } from '../../shared/auth/api-keys.js';
import {
  apiKeyRepository,
  type ApiKeyRow,
} from '../../shared/db/repositories/api-key.repository.js';
import type { Db } from '../../shared/db/pool.js';
import { websiteRepository } from '../../shared/db/repositories/website.repository.js';
import { notFound, validationError } from '../../shared/errors/errors.js';
import { parseWebsiteRef } from '../../shared/ids.js';
import type { Static } from '@sinclair/typebox';
import type { CreateApiKeyBody } from './key.schemas.js';
import type { Logger } from '../../shared/logger.js';

/**
 * API key administration: the one place that creates, lists and revokes keys, used by the
 * `/api/keys` routes and by the CLI's `keys` commands. Every change is logged as an audit line
 * (`api_key_created`, `api_key_revoked`) naming the actor (a key id, `bootstrap` or `cli`) and
 * the key, never the secret. Only the SHA-256 of a key is stored (shared/auth/api-keys.ts).
 */

/** A key to create, as the route's body says (`website_ids`: null/absent = every website). */
export type NewKeyInput = Static<typeof CreateApiKeyBody>;

/** Who made a change, for the audit line: the key that made it, or `cli` for an operator. */
export type KeyActor = Pick<Principal, 'keyId'> | 'cli';

const MAX_NAME = 100;

export class KeyService {
  constructor(private readonly deps: { db: Db; logger: Logger }) {}

  list(): Promise<ApiKeyRow[]> {
    return apiKeyRepository.list(this.deps.db);
  }

  /**
   * Creates a key; returns the row and the secret, which exists nowhere else afterwards.
   * 422 naming `name` or `website_ids` when the input is wrong.
   */
  async create(actor: KeyActor, input: NewKeyInput): Promise<{ row: ApiKeyRow; key: string }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > MAX_NAME) {
      throw validationError(`name must be 1–${MAX_NAME} characters`, 'name');
    }
    let websiteIds: string[] | null = null;
    if (input.website_ids !== undefined && input.website_ids !== null) {
      if (input.website_ids.length === 0) {
        throw validationError(
          'website_ids must name at least one website, or be null',
          'website_ids',
        );
      }
      websiteIds = [];
      for (const [i, ref] of input.website_ids.entries()) {
        const parsed = parseWebsiteRef(ref.trim());
        const site =
          parsed === null ? null : await websiteRepository.findByRef(this.deps.db, parsed);
        if (!site) throw validationError(`unknown website ${ref}`, `website_ids[${i}]`);
        if (!websiteIds.includes(site.id)) websiteIds.push(site.id);
      }
    }
    const k = generateApiKey();
    const row = await apiKeyRepository.create(this.deps.db, {
      id: k.id,
      name,
      key_hash: k.hash,
      key_prefix: k.prefix,
      kind: input.kind ?? 'manage',
      website_ids: websiteIds,
    });
    this.deps.logger.info(
      {
        actor: actorId(actor),
        key_id: row.id,
        kind: row.kind,
        website_ids: row.website_ids ?? 'all',
      },
      'api_key_created',
    );
    return { row, key: k.key };
  }

  /** Revokes an active key; 404 (field `key_id`) when there is no active key with that id. */
  async revoke(actor: KeyActor, id: string): Promise<void> {
    if (!(await apiKeyRepository.revoke(this.deps.db, id))) throw notFound('api key', 'key_id');
    this.deps.logger.info({ actor: actorId(actor), key_id: id }, 'api_key_revoked');
  }
}

const actorId = (a: KeyActor) => (a === 'cli' ? 'cli' : a.keyId);
