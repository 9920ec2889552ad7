import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.js';

const Schema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3100 }),
  URL: Type.String({ pattern: '^postgres://', default: 'postgres://x' }),
  FLAG: Type.Boolean({ default: false }),
});

describe('loadConfig', () => {
  it('applies defaults when variables are absent or empty', () => {
    expect(loadConfig(Schema, { PORT: '' })).toEqual({
      PORT: 3100,
      URL: 'postgres://x',
      FLAG: false,
    });
  });

  it('converts strings to the declared types', () => {
    expect(loadConfig(Schema, { PORT: '8080', FLAG: 'true' })).toMatchObject({
      PORT: 8080,
      FLAG: true,
    });
  });

  it('names every wrong variable in the error', () => {
    let err: unknown;
    try {
      loadConfig(Schema, { PORT: 'eighty', URL: 'mysql://nope' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/^PORT: /m);
    expect(problems).toMatch(/^URL: /m);
  });

  it('ignores variables the schema does not declare', () => {
    expect(loadConfig(Schema, { OTHER: 'x' })).not.toHaveProperty('OTHER');
  });
});
