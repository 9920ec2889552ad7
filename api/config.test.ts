import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/load-config.js';
import { ApiConfigSchema, checkApiConfig } from './config.js';

describe('API config', () => {
  const load = (key: string) =>
    loadConfig(ApiConfigSchema, { GOALPOST_BOOTSTRAP_API_KEY: key }, checkApiConfig);

  it('wants the bootstrap key to be at least 32 random characters, and never prints it', () => {
    expect(() => load('short-key-0123456789')).toThrow(/GOALPOST_BOOTSTRAP_API_KEY/);
    expect(() => load('a'.repeat(40))).toThrow(/at least 10 different/);
    expect(() => load('1212121212121212121212121212121212')).toThrow(/random/);
    for (const bad of ['short-key-0123456789', 'a'.repeat(40)]) {
      expect(() => load(bad)).not.toThrow(new RegExp(bad));
    }
    expect(load('c0ffee5a1d2b3e4f5a6b7c8d9e0f1a2b3c4d').GOALPOST_BOOTSTRAP_API_KEY).toBeDefined();
  });
});
