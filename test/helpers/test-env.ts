import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { randomId } from '../../shared/ids.js';
import { loadConfig } from '../../shared/config/load-config.js';
import { DatabaseEnv, KafkaEnv, RedisEnv } from '../../shared/config/env.js';

/**
 * The test database of this checkout: `goalpost_test_<8 hex of its path>`. Each run recreates
 * it (test/helpers/global-setup.ts), so two checkouts testing against one stack (a clean CI
 * clone reusing a developer's running stack) never drop each other's database.
 */
const CHECKOUT_DB = `goalpost_test_${createHash('sha1')
  .update(fileURLToPath(new URL('../../', import.meta.url)))
  .digest('hex')
  .slice(0, 8)}`;

/**
 * Where the integration tests find the stack (`npm test` starts it). Tests use their own
 * database (see CHECKOUT_DB) and their own topics, groups and websites per test.
 */
export const TestConfigSchema = Type.Object({
  ...KafkaEnv,
  ...RedisEnv,
  DATABASE_URL: Type.String({
    pattern: '^postgres(ql)?://',
    default: `postgres://postgres@127.0.0.1:25432/${CHECKOUT_DB}`,
  }),
  DATABASE_POOL_MAX: DatabaseEnv.DATABASE_POOL_MAX,
  TEST_LOG_LEVEL: Type.String({ default: 'silent' }),
});

export const testConfig = loadConfig(TestConfigSchema);

/** A unique suffix for topic, group and queue names of one test. */
export const uniqueSuffix = () => `${Date.now().toString(36)}-${randomId(6)}`;
