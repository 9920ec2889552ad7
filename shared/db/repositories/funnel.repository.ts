import type { EntityRef } from '../../ids.js';
import type { Queryable } from '../pool.js';
import { isConstraintError } from '../pg-error.js';

/** A saved funnel (migration 016); its steps are step goals (`goalRepository.stepsOfFunnels`). */
export interface Funnel {
  id: string;
  numeric_id: number;
  website_id: string;
  name: string;
  /** The last step must follow the first within this many seconds; null = no limit. */
  window_seconds: number | null;
  definition_version: number;
  /**
   * The definition version whose stored walks are complete (migration 017); results count
   * them only when it is the current one.
   */
  walks_version: number | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, numeric_id::int AS numeric_id, website_id, name, window_seconds,
  definition_version, walks_version, created_at, updated_at`;

/** The insert or rename hit the per-website case-insensitive funnel name uniqueness. */
export const isDuplicateFunnelName = (err: unknown): boolean =>
  isConstraintError(err, '23505', 'funnels_website_name_ci_key');

/** The insert hit the 20-funnels-per-website limit (trigger of migration 016). */
export const isFunnelLimitExceeded = (err: unknown): boolean =>
  isConstraintError(err, '23514', 'funnels_per_website_limit');

/** Funnels per website; the database trigger of migration 016 enforces the same number. */
export const MAX_FUNNELS_PER_WEBSITE = 20;

export const funnelRepository = {
  async create(
    q: Queryable,
    f: Pick<Funnel, 'id' | 'website_id' | 'name' | 'window_seconds'>,
  ): Promise<Funnel> {
    const { rows } = await q.query<Funnel>(
      'funnel.create',
      `INSERT INTO funnels (id, website_id, name, window_seconds) VALUES ($1, $2, $3, $4)
       RETURNING ${COLUMNS}`,
      [f.id, f.website_id, f.name, f.window_seconds],
    );
    return rows[0]!;
  },

  /** The website's funnels, oldest first. */
  async listForWebsite(q: Queryable, websiteId: string): Promise<Funnel[]> {
    const { rows } = await q.query<Funnel>(
      'funnel.list_for_website',
      `SELECT ${COLUMNS} FROM funnels WHERE website_id = $1 ORDER BY created_at, numeric_id`,
      [websiteId],
    );
    return rows;
  },

  /**
   * The funnel named by `fun_…` id or numeric id, wherever it is (callers compare its website).
   * With `forUpdate` the row is locked until the surrounding transaction ends.
   */
  async findByRef(
    q: Queryable,
    ref: EntityRef,
    opts: { forUpdate?: boolean } = {},
  ): Promise<Funnel | null> {
    const { rows } = await q.query<Funnel>(
      'funnel.find_by_ref',
      `SELECT ${COLUMNS} FROM funnels WHERE ${'id' in ref ? 'id' : 'numeric_id'} = $1
        ${opts.forUpdate ? 'FOR UPDATE' : ''}`,
      ['id' in ref ? ref.id : ref.numericId],
    );
    return rows[0] ?? null;
  },

  /**
   * Writes name and window; with `bumpVersion` (the steps were replaced) the definition version
   * moves on. `updated_at` always moves.
   */
  async update(
    q: Queryable,
    id: string,
    c: Pick<Funnel, 'name' | 'window_seconds'>,
    bumpVersion: boolean,
  ): Promise<Funnel> {
    const { rows } = await q.query<Funnel>(
      'funnel.update',
      `UPDATE funnels SET name = $2, window_seconds = $3, updated_at = now(),
              definition_version = definition_version + $4
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, c.name, c.window_seconds, bumpVersion ? 1 : 0],
    );
    return rows[0]!;
  },

  /** Deletes the funnel and (by cascade) its step goals. */
  async delete(q: Queryable, id: string): Promise<boolean> {
    const res = await q.query('funnel.delete', 'DELETE FROM funnels WHERE id = $1', [id]);
    return (res.rowCount ?? 0) > 0;
  },
};
