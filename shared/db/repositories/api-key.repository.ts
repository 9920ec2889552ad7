import type { Queryable } from '../pool.js';

export interface ApiKeyRow {
  id: string;
  name: string;
  key_hash: Buffer;
  key_prefix: string;
  kind: 'manage' | 'collect';
  website_ids: string[] | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS =
  'id, name, key_hash, key_prefix, kind, website_ids, created_at, last_used_at, revoked_at';

export const apiKeyRepository = {
  async create(
    q: Queryable,
    k: Pick<ApiKeyRow, 'id' | 'name' | 'key_hash' | 'key_prefix' | 'kind' | 'website_ids'>,
  ): Promise<ApiKeyRow> {
    const { rows } = await q.query<ApiKeyRow>(
      'api_key.create',
      `INSERT INTO api_keys (id, name, key_hash, key_prefix, kind, website_ids)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [k.id, k.name, k.key_hash, k.key_prefix, k.kind, k.website_ids],
    );
    return rows[0]!;
  },

  /** The active (not revoked) key with this SHA-256 hash, if any. */
  async findActiveByHash(q: Queryable, hash: Buffer): Promise<ApiKeyRow | null> {
    const { rows } = await q.query<ApiKeyRow>(
      'api_key.find_active_by_hash',
      `SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [hash],
    );
    return rows[0] ?? null;
  },

  /** Which of these key ids are active (exist and are not revoked). */
  async activeIds(q: Queryable, ids: readonly string[]): Promise<Set<string>> {
    const { rows } = await q.query<{ id: string }>(
      'api_key.active_ids',
      'SELECT id FROM api_keys WHERE id = ANY($1) AND revoked_at IS NULL',
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  },

  async list(q: Queryable): Promise<ApiKeyRow[]> {
    const { rows } = await q.query<ApiKeyRow>(
      'api_key.list',
      `SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`,
    );
    return rows;
  },

  async revoke(q: Queryable, id: string): Promise<boolean> {
    const res = await q.query(
      'api_key.revoke',
      'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
      [id],
    );
    return (res.rowCount ?? 0) > 0;
  },
};
