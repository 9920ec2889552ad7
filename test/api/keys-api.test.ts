import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { generateApiKey } from '../../shared/auth/api-keys.js';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import type { HttpApp } from '../../shared/http/http-app.js';
import { openTestDeps, type TestDeps } from '../helpers/deps.js';
import { bearer } from './api-fixture.js';
import { ROOT } from '../helpers/services.js';
import { testConfig } from '../helpers/test-env.js';

const BOOTSTRAP = `spk_selfhosted_${'5e'.repeat(16)}`;

interface KeyView {
  id: string;
  name: string;
  kind: string;
  key_prefix: string;
  website_ids: string[] | null;
  revoked_at: string | null;
  key?: string;
}

/**
 * `/api/keys`: all-sites manage keys list, create and revoke keys; every other key is refused
 * before its body is read; changes are audited in the log without the secret; the CLI's `keys`
 * commands go through the same service and see the same keys.
 */
describe('API key routes', () => {
  let deps: TestDeps;
  let app: HttpApp;
  const logLines: Array<Record<string, unknown>> = [];
  const siteIds: string[] = [];
  const keyIds: string[] = [];

  beforeAll(async () => {
    deps = openTestDeps('keys-api');
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) {
          logLines.push(JSON.parse(l) as Record<string, unknown>);
        }
        done();
      },
    });
    app = await buildApiApp({
      db: deps.db,
      redis: deps.redis,
      logger: pino({ level: 'info' }, sink),
      bootstrapApiKey: BOOTSTRAP,
    });
    for (const name of ['Keys A', 'Keys B']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/websites',
        headers: bearer(BOOTSTRAP),
        payload: { name, domain: 'keys.example' },
      });
      siteIds.push(res.json<{ data: { id: string } }>().data.id);
    }
  });

  afterAll(async () => {
    await app?.close();
    await deps.db.query('test.cleanup', 'DELETE FROM api_keys WHERE id = ANY($1)', [keyIds]);
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [siteIds]);
    await deps.close();
  });

  async function storedKey(kind: 'manage' | 'collect', sites: string[] | null) {
    const k = generateApiKey();
    await apiKeyRepository.create(deps.db, {
      id: k.id,
      name: 'fixture',
      key_hash: k.hash,
      key_prefix: k.prefix,
      kind,
      website_ids: sites,
    });
    keyIds.push(k.id);
    return k;
  }

  it('an all-sites manage key creates a scoped key, sees it listed, revokes it; audit lines name the actor, never the secret', async () => {
    const admin = await storedKey('manage', null);
    const created = await app.inject({
      method: 'POST',
      url: '/api/keys',
      headers: bearer(admin.key),
      payload: { name: '  Dashboard for A ', website_ids: [siteIds[0]] },
    });
    expect(created.statusCode).toBe(201);
    const k = created.json<{ data: KeyView }>().data;
    keyIds.push(k.id);
    expect(k).toMatchObject({
      name: 'Dashboard for A',
      kind: 'manage',
      website_ids: [siteIds[0]],
      revoked_at: null,
    });
    expect(k.key).toMatch(/^spk_selfhosted_[0-9a-f]{32}$/);
    expect(k.key!.startsWith(k.key_prefix)).toBe(true);

    // The new key works, within its scope only.
    const sites = await app.inject({
      method: 'GET',
      url: '/api/websites',
      headers: bearer(k.key!),
    });
    expect(sites.json<{ data: Array<{ id: string }> }>().data.map((s) => s.id)).toEqual([
      siteIds[0],
    ]);

    const list = await app.inject({ method: 'GET', url: '/api/keys', headers: bearer(admin.key) });
    expect(list.statusCode).toBe(200);
    const listed = list.json<{ data: KeyView[] }>().data.find((x) => x.id === k.id);
    expect(listed).toMatchObject({ name: 'Dashboard for A', revoked_at: null });
    expect(listed).not.toHaveProperty('key');
    expect(JSON.stringify(list.json())).not.toContain(k.key!);

    const del = await app.inject({
      method: 'DELETE',
      url: `/api/keys/${k.id}`,
      headers: bearer(admin.key),
    });
    expect(del.statusCode).toBe(204);
    expect(
      (await app.inject({ method: 'GET', url: '/api/websites', headers: bearer(k.key!) }))
        .statusCode,
    ).toBe(401);
    const again = await app.inject({
      method: 'DELETE',
      url: `/api/keys/${k.id}`,
      headers: bearer(admin.key),
    });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({
      error: { code: 'not_found', message: 'api key not found', field: 'key_id' },
    });

    const audit = logLines.filter((l) => l.key_id === k.id);
    expect(audit.map((l) => [l.msg, l.actor])).toEqual([
      ['api_key_created', admin.id],
      ['api_key_revoked', admin.id],
    ]);
    expect(JSON.stringify(logLines)).not.toContain(k.key!);
  });

  it('only all-sites manage keys: 401 without a key, 403 for scoped and collect keys, before the body is validated', async () => {
    const scoped = await storedKey('manage', [siteIds[0]!]);
    const collect = await storedKey('collect', null);
    for (const [headers, status] of [
      [{}, 401],
      [bearer(scoped.key), 403],
      [bearer(collect.key), 403],
    ] as const) {
      for (const [method, url] of [
        ['GET', '/api/keys'],
        ['POST', '/api/keys'],
        ['DELETE', `/api/keys/${scoped.id}`],
      ] as const) {
        const res = await app.inject({
          method,
          url,
          headers,
          payload: method === 'POST' ? {} : undefined,
        });
        expect([method, url, res.statusCode]).toEqual([method, url, status]);
        expect(res.json<{ error: { code: string } }>().error.code).toBe(
          status === 401 ? 'unauthorized' : 'forbidden',
        );
      }
    }
    // The scoped key was not revoked by its own attempt.
    expect(
      (await app.inject({ method: 'GET', url: '/api/websites', headers: bearer(scoped.key) }))
        .statusCode,
    ).toBe(200);
  });

  it('validation errors name their field', async () => {
    const cases: Array<[object, string]> = [
      [{ name: '   ' }, 'name'],
      [{}, 'name'],
      [{ name: 'x', website_ids: [] }, 'website_ids'],
      [{ name: 'x', website_ids: [siteIds[0], 'site_doesnotexist'] }, 'website_ids[1]'],
      [{ name: 'x', kind: 'admin' }, 'kind'],
      [{ name: 'x', extra: 1 }, 'extra'],
    ];
    for (const [payload, field] of cases) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/keys',
        headers: bearer(BOOTSTRAP),
        payload,
      });
      expect([
        payload,
        res.statusCode,
        res.json<{ error: { field: string } }>().error.field,
      ]).toEqual([payload, 422, field]);
    }
  });

  it('the CLI creates, lists and revokes through the same service', async () => {
    const cli = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'api/cli/main.ts', 'keys', ...args],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', DATABASE_URL: testConfig.DATABASE_URL },
        },
      );
    const out = (await cli('create', '--name', 'cli key', '--sites', siteIds[1]!)).stdout;
    const id = /created manage key (key_\w+)/.exec(out)![1]!;
    keyIds.push(id);
    const list = await app.inject({ method: 'GET', url: '/api/keys', headers: bearer(BOOTSTRAP) });
    expect(list.json<{ data: KeyView[] }>().data.find((x) => x.id === id)).toMatchObject({
      name: 'cli key',
      website_ids: [siteIds[1]],
    });
    expect((await cli('list')).stdout).toContain(id);
    await app.inject({ method: 'DELETE', url: `/api/keys/${id}`, headers: bearer(BOOTSTRAP) });
    await expect(cli('revoke', id)).rejects.toMatchObject({ code: 65 });
  });
});
