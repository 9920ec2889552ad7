import { Type, type Static } from '@sinclair/typebox';
import { BOT_POLICIES, type Website } from '../../shared/db/repositories/website.repository.js';
import { literals } from '../http/schema-helpers.js';
import { isoSeconds } from '../goals/goal.schemas.js';
import { TrackingSettingsSchema } from '../../shared/goals/tracking-settings.js';

/** How the API shows websites and what it accepts for them. */

const BotPolicy = literals(BOT_POLICIES);

export const WebsiteSchema = Type.Object({
  id: Type.String(),
  numeric_id: Type.Integer(),
  name: Type.String(),
  domain: Type.String(),
  allowed_origins: Type.Array(Type.String()),
  timezone: Type.String(),
  bot_policy: BotPolicy,
  tracking: TrackingSettingsSchema,
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const CreateWebsiteBody = Type.Object(
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
    tracking: Type.Optional(
      Type.Partial(TrackingSettingsSchema, {
        additionalProperties: false,
        description:
          'what the trackers capture on their own; fields sent replace the stored ones, others stay. ' +
          'fileExtensions: at most 100, each 1–16 characters a–z/0–9',
      }),
    ),
  },
  { additionalProperties: false },
);
export const UpdateWebsiteBody = Type.Partial(CreateWebsiteBody, { additionalProperties: false });
export type WebsiteInput = Static<typeof UpdateWebsiteBody>;

export type WebsiteView = Static<typeof WebsiteSchema>;

export function toWebsite(w: Website): WebsiteView {
  return {
    id: w.id,
    numeric_id: w.numeric_id,
    name: w.name,
    domain: w.domain,
    allowed_origins: w.allowed_origins,
    timezone: w.timezone,
    bot_policy: w.bot_policy,
    tracking: w.tracking,
    created_at: isoSeconds(w.created_at),
    updated_at: isoSeconds(w.updated_at),
  };
}
