import type { EntityRef } from '../../ids.js';
import { trackingSettingsOf, type TrackingSettings } from '../../goals/tracking-settings.js';
import type { Queryable } from '../pool.js';

/** How a website treats bot traffic in its statistics (see ingest/enrichment/bot.ts). */
export const BOT_POLICIES = ['off', 'balanced', 'strict'] as const;
export type BotPolicy = (typeof BOT_POLICIES)[number];

export interface Website {
  id: string;
  numeric_id: number;
  name: string;
  domain: string;
  allowed_origins: string[];
  timezone: string;
  bot_policy: BotPolicy;
  /** Autocapture switches, defaults applied (see `shared/goals/tracking-settings.ts`). */
  tracking: TrackingSettings;
  created_at: Date;
  updated_at: Date;
}

export interface NewWebsite {
  id: string;
  name: string;
  domain: string;
  allowed_origins?: string[];
  timezone?: string;
  bot_policy?: BotPolicy;
  /** Settings to store (merged into the stored object on update). */
  tracking?: Partial<TrackingSettings>;
}

/** A row as read, with the tracking defaults applied. */
const withTracking = (w: Website): Website => ({ ...w, tracking: trackingSettingsOf(w.tracking) });

const COLUMNS =
  'id, numeric_id, name, domain, allowed_origins, timezone, bot_policy, tracking, created_at, updated_at';

export const websiteRepository = {
  async create(q: Queryable, w: NewWebsite): Promise<Website> {
    const { rows } = await q.query<Website>(
      'website.create',
      `INSERT INTO websites (id, name, domain, allowed_origins, timezone, bot_policy, tracking)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [
        w.id,
        w.name,
        w.domain,
        w.allowed_origins ?? [],
        w.timezone ?? 'UTC',
        w.bot_policy ?? 'balanced',
        JSON.stringify(w.tracking ?? {}),
      ],
    );
    return withTracking(rows[0]!);
  },

  /** The website a parsed reference (`parseWebsiteRef`) names, by `site_…` or numeric id. */
  async findByRef(q: Queryable, ref: EntityRef): Promise<Website | null> {
    const { rows } = await q.query<Website>(
      'website.find_by_ref',
      'id' in ref
        ? `SELECT ${COLUMNS} FROM websites WHERE id = $1`
        : `SELECT ${COLUMNS} FROM websites WHERE numeric_id = $1`,
      ['id' in ref ? ref.id : ref.numericId],
    );
    return rows[0] ? withTracking(rows[0]) : null;
  },

  /** Applies the given fields (others unchanged); null when the website does not exist. */
  async update(
    q: Queryable,
    id: string,
    c: Partial<Omit<NewWebsite, 'id'>>,
  ): Promise<Website | null> {
    const { rows } = await q.query<Website>(
      'website.update',
      `UPDATE websites SET
         name = COALESCE($2, name),
         domain = COALESCE($3, domain),
         allowed_origins = COALESCE($4, allowed_origins),
         timezone = COALESCE($5, timezone),
         bot_policy = COALESCE($6, bot_policy),
         tracking = tracking || COALESCE($7::jsonb, '{}'::jsonb),
         updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [
        id,
        c.name ?? null,
        c.domain ?? null,
        c.allowed_origins ?? null,
        c.timezone ?? null,
        c.bot_policy ?? null,
        c.tracking === undefined ? null : JSON.stringify(c.tracking),
      ],
    );
    return rows[0] ? withTracking(rows[0]) : null;
  },

  /** Deletes the website and (cascade) its goal definitions; events and conversions stay. */
  async delete(q: Queryable, id: string): Promise<boolean> {
    const res = await q.query('website.delete', 'DELETE FROM websites WHERE id = $1', [id]);
    return (res.rowCount ?? 0) > 0;
  },

  /** Every website's domain and allowed origins (the CORS index of ingest). */
  async originsOfAll(q: Queryable): Promise<Array<Pick<Website, 'domain' | 'allowed_origins'>>> {
    const { rows } = await q.query<Pick<Website, 'domain' | 'allowed_origins'>>(
      'website.origins_of_all',
      'SELECT domain, allowed_origins FROM websites',
    );
    return rows;
  },

  async list(q: Queryable, ids: string[] | null): Promise<Website[]> {
    const { rows } = await q.query<Website>(
      'website.list',
      `SELECT ${COLUMNS} FROM websites WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY created_at, id`,
      [ids],
    );
    return rows.map(withTracking);
  },
};
