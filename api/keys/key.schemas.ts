import { Type, type Static } from '@sinclair/typebox';
import type { ApiKeyRow } from '../../shared/db/repositories/api-key.repository.js';
import { isoSeconds } from '../goals/goal.schemas.js';
import { literals } from '../http/schema-helpers.js';

/** How `/api/keys` shows keys (never the hash; the secret only once, in the create answer). */

const KeyKind = literals(['manage', 'collect'] as const);
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const ApiKeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: KeyKind,
  key_prefix: Type.String({ description: 'the first characters of the key, to recognise it' }),
  website_ids: Type.Union([Type.Array(Type.String()), Type.Null()], {
    description: 'null = every website',
  }),
  created_at: Type.String(),
  last_used_at: NullableString,
  revoked_at: NullableString,
});
export type ApiKeyView = Static<typeof ApiKeySchema>;

export const CreatedApiKeySchema = Type.Composite([
  ApiKeySchema,
  Type.Object({ key: Type.String({ description: 'the secret, shown this once' }) }),
]);

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ description: '1–100 characters after trimming' }),
    kind: Type.Optional(
      Type.Union([Type.Literal('manage'), Type.Literal('collect')], {
        description: '`manage` (default): the API; `collect`: may only send events',
      }),
    ),
    website_ids: Type.Optional(
      Type.Union([Type.Array(Type.String()), Type.Null()], {
        description:
          '`site_…` or numeric ids the key is limited to; absent or null = every website',
      }),
    ),
  },
  { additionalProperties: false },
);

export function toApiKey(r: ApiKeyRow): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    key_prefix: r.key_prefix,
    website_ids: r.website_ids,
    created_at: isoSeconds(r.created_at),
    last_used_at: r.last_used_at === null ? null : isoSeconds(r.last_used_at),
    revoked_at: r.revoked_at === null ? null : isoSeconds(r.revoked_at),
  };
}
