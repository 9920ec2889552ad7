import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { SECRET } from './env.js';
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

  it('never prints a secret value or a password inside a URL', () => {
    const S = Type.Object({
      API_KEY: Type.String({ minLength: 32, ...SECRET }),
      DATABASE_URL: Type.String({ pattern: '^postgres://.+/db$' }),
    });
    let err: unknown;
    try {
      loadConfig(S, { API_KEY: 'hunter2-short', DATABASE_URL: 'postgres://app:s3cr3t@db:5432/x' });
    } catch (e) {
      err = e;
    }
    const text = (err as ConfigError).message;
    expect(text).toMatch(/^ {2}API_KEY: .*\(value hidden\)$/m);
    expect(text).toContain('postgres://app:***@db:5432/x');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('s3cr3t');
  });

  it('adds the problems a check finds once the schema is satisfied', () => {
    const check = (c: { PORT: number }) => (c.PORT === 81 ? ['PORT: 81 is reserved'] : []);
    expect(() => loadConfig(Schema, { PORT: '81' }, check)).toThrow(/PORT: 81 is reserved/);
    expect(loadConfig(Schema, { PORT: '82' }, check).PORT).toBe(82);
  });
});
