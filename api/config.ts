import { Type, type Static } from '@sinclair/typebox';
import { DatabaseEnv, LogEnv, RedisEnv } from '../shared/config/env.js';

export const ApiConfigSchema = Type.Object({
  ...LogEnv,
  ...DatabaseEnv,
  ...RedisEnv,
  API_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  API_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3200 }),
  /** Accepted as an all-sites manage key, so automation can start from nothing. */
  GOALPOST_BOOTSTRAP_API_KEY: Type.Optional(Type.String({ minLength: 16 })),
});
export type ApiConfig = Static<typeof ApiConfigSchema>;
