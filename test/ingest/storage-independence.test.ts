import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyLookup } from '../../ingest/lookups/api-key.lookup.js';
import { WebsiteLookup } from '../../ingest/lookups/website.lookup.js';
import { generateApiKey } from '../../shared/auth/api-keys.js';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import {
  websiteRepository,
  type Website,
} from '../../shared/db/repositories/website.repository.js';
import { newWebsiteId } from '../../shared/ids.js';
import { openTestDeps, waitFor, type TestDeps } from '../helpers/deps.js';
import { testConfig } from '../helpers/test-env.js';
import { openIngestHarness, type IngestHarness } from './ingest-harness.js';

/**
 * Ingest never waits on storage for a website it has seen: with the websites table locked (a
 * database that answers nothing about websites), collect for a known website still answers
 * 202, while one never seen waits for the database — the control that shows the lock holds.
 */
describe('ingest with a database that does not answer', () => {
  let deps: TestDeps;
  let h: IngestHarness;
  let seen: Website;
  let unseen: Website;
  let slow: Website;

  beforeAll(async () => {
    deps = openTestDeps('ingest-storage');
    const create = (name: string) =>
      websiteRepository.create(deps.db, { id: newWebsiteId(), name, domain: `${name}.example` });
    seen = await create('seen');
    unseen = await create('unseen');
    slow = await create('slow');
    // Every request for a known website also starts a background reload: the test then
    // proves that the reload, stuck behind the lock, holds up no request.
    h = await openIngestHarness(deps, 'ingest-storage', {
      websites: new WebsiteLookup(deps.db, { refreshAfterMs: 0 }),
    });
  });

  afterAll(async () => {
    await h?.close();
    await deps.db.query('test.cleanup', 'DELETE FROM websites WHERE id = ANY($1)', [
      [seen.id, unseen.id, slow.id],
    ]);
    await deps.close();
  });

  const post = (site: Website, app = h.app) =>
    app.inject({
      method: 'POST',
      url: '/api/collect',
      headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 test' },
      payload: JSON.stringify({
        website_id: site.id,
        type: 'pageview',
        url: '/p',
        visitor_id: `v-${randomUUID()}`,
      }),
    });

  /** Queries of this test's pool waiting for a lock on `websites`. */
  const lockedLookups = async (locker: pg.Client) => {
    // The locker is inside its transaction, whose view of pg_stat_activity is a snapshot.
    await locker.query('SELECT pg_stat_clear_snapshot()');
    return Number(
      (
        await locker.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE application_name = 'goalpost-test-ingest-storage'
              AND wait_event_type = 'Lock' AND query ILIKE '%websites%'`,
        )
      ).rows[0]!.n,
    );
  };

  it('answers a known website from memory while lookups wait; an unseen one waits', async () => {
    expect((await post(seen)).statusCode).toBe(202);

    const locker = new pg.Client({ connectionString: testConfig.DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE websites IN ACCESS EXCLUSIVE MODE');

      const known = await post(seen);
      expect(known.statusCode).toBe(202);
      // The reload that request started is stuck behind the lock: the answer did not wait.
      await waitFor('the background reload to wait on the lock', async () =>
        (await lockedLookups(locker)) >= 1 ? true : undefined,
      );
      expect((await post(seen)).statusCode).toBe(202);

      let unseenDone = false;
      const unseenReply = post(unseen).finally(() => (unseenDone = true));
      await waitFor('the unseen website’s lookup to wait on the lock', async () =>
        (await lockedLookups(locker)) >= 2 ? true : undefined,
      );
      expect(unseenDone).toBe(false);
      await locker.query('COMMIT');
      expect((await unseenReply).statusCode).toBe(202);
    } finally {
      await locker.end();
    }
  });

  it('sheds load with 503 and Retry-After once too many requests are in flight', async () => {
    const app = await h.build({ options: { shedMaxInFlight: 1 } });
    const locker = new pg.Client({ connectionString: testConfig.DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE websites IN ACCESS EXCLUSIVE MODE');
      // In flight: its website lookup waits on the lock.
      const waiting = post(slow, app);
      await waitFor('the request in flight to wait on the lock', async () =>
        (await lockedLookups(locker)) >= 1 ? true : undefined,
      );
      const refused = await post(seen, app);
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json()).toMatchObject({ error: { code: 'overloaded' } });
      await locker.query('COMMIT');
      expect((await waiting).statusCode).toBe(202);
      expect((await post(seen, app)).statusCode).toBe(202);
    } finally {
      await locker.end();
    }
  });

  it('keeps a revoked collect key working at most 30 s, reloading it after 15 s', async () => {
    let now = Date.now();
    const keys = new ApiKeyLookup(deps.db, { now: () => now });
    const collectKey = async () => {
      const k = generateApiKey();
      await apiKeyRepository.create(deps.db, {
        id: k.id,
        name: 'collect',
        key_hash: k.hash,
        key_prefix: k.prefix,
        kind: 'collect',
        website_ids: [seen.id],
      });
      return k;
    };
    const first = await collectKey();
    const key = first.key;
    expect(await keys.authenticate(key)).toMatchObject({ kind: 'collect' });
    await apiKeyRepository.revoke(deps.db, first.id);
    now += 10_000;
    expect(await keys.authenticate(key)).not.toBeNull(); // cached, fresh: no reload yet
    now += 5_000;
    expect(await keys.authenticate(key)).not.toBeNull(); // served while its reload runs
    await waitFor('the reload to see the revocation', async () =>
      (await keys.authenticate(key)) === null ? true : undefined,
    );

    // Not asked between 15 and 30 s: past 30 s the caller waits for the database.
    const other = await collectKey();
    expect(await keys.authenticate(other.key)).not.toBeNull();
    await apiKeyRepository.revoke(deps.db, other.id);
    now += 30_000;
    expect(await keys.authenticate(other.key)).toBeNull();
  });
});
