import { Type } from '@sinclair/typebox';
import { randomId } from '../../shared/ids.js';
import { loadConfig } from '../../shared/config/load-config.js';
import { DatabaseEnv, KafkaEnv, RedisEnv } from '../../shared/config/env.js';

/**
 * Where the integration tests find the stack (`npm test` starts it). Tests use their own
 * database (`goalpost_test`) and their own topics, groups and websites per test.
 */
export const TestConfigSchema = Type.Object({
  ...KafkaEnv,
  ...RedisEnv,
  DATABASE_URL: Type.String({
    pattern: '^postgres(ql)?://',
    default: 'postgres://postgres@127.0.0.1:25432/goalpost_test',
  }),
  DATABASE_POOL_MAX: DatabaseEnv.DATABASE_POOL_MAX,
  TEST_LOG_LEVEL: Type.String({ default: 'silent' }),
});

export const testConfig = loadConfig(TestConfigSchema);

/** A unique suffix for topic, group and queue names of one test. */
export const uniqueSuffix = () => `${Date.now().toString(36)}-${randomId(6)}`;
