import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/services.js';
import { testConfig } from '../helpers/test-env.js';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

/**
 * The CLI's `sites create` and the API's `POST /api/websites` apply the same website rules
 * (api/websites/website-input.ts): every website the API refuses, the CLI refuses too, naming
 * the same field as its option, and creates nothing.
 */

let f: ApiFixture;
beforeAll(async () => {
  f = await openApiFixture('websites-cli');
});
afterAll(async () => {
  await f.close();
});

const cli = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'api/cli/main.ts', 'sites', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: testConfig.DATABASE_URL },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

/** Each case: the API body, the same website as CLI options, and the option the CLI names. */
const CASES: Array<{ body: Record<string, unknown>; args: string[]; option: string }> = [
  {
    body: { name: 'x', domain: 'not a host!' },
    args: ['--name', 'x', '--domain', 'not a host!'],
    option: '--domain',
  },
  {
    body: { name: 'n'.repeat(101), domain: 'long-name.example' },
    args: ['--name', 'n'.repeat(101), '--domain', 'long-name.example'],
    option: '--name',
  },
  {
    body: { name: 'x', domain: 'origins.example', allowed_origins: ['ftp://origins.example'] },
    args: ['--name', 'x', '--domain', 'origins.example', '--origins', 'ftp://origins.example'],
    option: '--origins',
  },
  {
    body: { name: 'x', domain: 'zone.example', timezone: 'US/Pacific-New' },
    args: ['--name', 'x', '--domain', 'zone.example', '--timezone', 'US/Pacific-New'],
    option: '--timezone',
  },
  {
    body: { name: 'x', domain: 'bots.example', bot_policy: 'everything' },
    args: ['--name', 'x', '--domain', 'bots.example', '--bot-policy', 'everything'],
    option: '--bot-policy',
  },
];

describe('sites create (CLI) and POST /api/websites refuse the same websites', () => {
  it.each(CASES)('refuses $option in both', async ({ body, args, option }) => {
    const res = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: bearer(f.bootstrapKey),
      payload: body,
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    const domain = body.domain as string;
    const out = await cli(['create', ...args]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(option);
    const stored = await f.db.query('test.sites', 'SELECT 1 FROM websites WHERE domain = $1', [
      domain,
    ]);
    expect(stored.rowCount).toBe(0);
  });

  it('creates what the API accepts', async () => {
    const out = await cli(['create', '--name', 'Fine', '--domain', 'cli-fine.example']);
    expect(out.stdout).toMatch(/^created website site_[0-9a-z]{10} /);
    const id = /site_[0-9a-z]{10}/.exec(out.stdout)![0];
    await f.db.query('test.sites', 'DELETE FROM websites WHERE id = $1', [id]);
  });
});
