import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { forbidden } from '../../shared/errors/errors.js';
import { sparklyticsErrors } from '../http/error-responses.js';
import { installAuth, principalOf, type AuthDeps } from '../http/auth.js';
import {
  ApiKeySchema,
  CreateApiKeyBody,
  CreatedApiKeySchema,
  toApiKey,
} from '../keys/key.schemas.js';
import type { KeyService } from '../keys/key.service.js';

/**
 * `/api/keys[/:key_id]`: API key administration for all-sites manage keys only. A key limited
 * to some websites could otherwise mint itself a key for every website; a collect key is
 * refused by {@link installAuth} already. The CLI's `keys` commands do the same through the
 * same {@link KeyService}.
 */
export const keyRoutes: FastifyPluginAsyncTypebox<AuthDeps & { keys: KeyService }> = async (
  app,
  deps,
) => {
  installAuth(app, deps);
  app.addHook('preValidation', async (req) => {
    if (principalOf(req).websiteIds !== null) {
      throw forbidden('only an all-sites key may manage API keys');
    }
  });
  const security = [{ bearerAuth: [] }];
  const tags = ['keys'];

  app.get(
    '/api/keys',
    {
      schema: {
        tags,
        summary: 'List API keys, revoked ones included (all-sites keys only)',
        security,
        response: { 200: Type.Object({ data: Type.Array(ApiKeySchema) }), ...sparklyticsErrors },
      },
    },
    async () => ({ data: (await deps.keys.list()).map(toApiKey) }),
  );

  app.post(
    '/api/keys',
    {
      schema: {
        tags,
        summary: 'Create an API key; the answer holds the secret, shown this once',
        security,
        body: CreateApiKeyBody,
        response: { 201: Type.Object({ data: CreatedApiKeySchema }), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      const { row, key } = await deps.keys.create(principalOf(req), req.body);
      return reply.status(201).send({ data: { ...toApiKey(row), key } });
    },
  );

  app.delete(
    '/api/keys/:key_id',
    {
      schema: {
        tags,
        summary: 'Revoke an API key (it stops working at once; ingest caches for 30 s)',
        security,
        params: Type.Object({ key_id: Type.String({ description: '`key_…` id' }) }),
        response: { 204: Type.Null(), ...sparklyticsErrors },
      },
    },
    async (req, reply) => {
      await deps.keys.revoke(principalOf(req), req.params.key_id);
      return reply.status(204).send(null);
    },
  );
};
