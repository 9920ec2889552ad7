import type { Db } from '../shared/db/pool.js';

/**
 * The large dataset of `bench:query` and `bench:backfill`: E events / S sessions / 50 goals
 * (`goal_000…01` … `goal_000…50`, pageview `equals /p/N`, fixed 9.99) for one website over
 * 90 days, generated in SQL with generate_series, with their conversions and sessions derived
 * by set-based SQL, then vacuumed and analyzed. Every seventh event is a pageview of `/p/N`.
 * Loads only when the website does not already hold exactly E events (a rerun reuses it).
 */
export async function loadBenchDataset(
  db: Db,
  opts: { site: string; events: number; sessions: number; log: (msg: string) => void },
): Promise<void> {
  const { site: SITE, events: E, sessions: S, log } = opts;
  const loaded = await db.query<{ n: number }>(
    'bench.count',
    'SELECT count(*)::int AS n FROM events WHERE website_id = $1',
    [SITE],
  );
  if (loaded.rows[0]!.n !== E) {
    log(`loading ${E} events / ${S} sessions / 50 goals (90 days)…`);
    for (const t of ['conversions', 'events', 'sessions', 'goals', 'websites']) {
      await db.query(
        'bench.clear',
        `DELETE FROM ${t} WHERE ${t === 'websites' ? 'id' : 'website_id'} = $1`,
        [SITE],
      );
    }
    await db.query(
      'bench.site',
      `INSERT INTO websites (id, name, domain, bot_policy) VALUES ($1, 'bench', 'b.example', 'balanced')`,
      [SITE],
    );
    await db.query(
      'bench.goals',
      `INSERT INTO goals (id, website_id, name, goal_type, match_value, value_mode, fixed_value, definition_version)
       SELECT 'goal_' || lpad(g::text, 21, '0'), $1, 'goal ' || g, 'pageview', '/p/' || g, 'fixed', 9.99, 1
         FROM generate_series(1, 50) g`,
      [SITE],
    );
    // Session k starts at a pseudo-random second of the 90 days; its events are 1–60 s apart.
    const chunk = 1_000_000;
    const t0 = Date.now();
    for (let from = 0; from < E; from += chunk) {
      const to = Math.min(E, from + chunk) - 1;
      await db.query(
        'bench.events',
        `INSERT INTO events (event_id, event_time, received_at, website_id, session_id, visitor_id,
           type, hostname, path, referrer_domain, channel, utm_source, browser, os, device, language,
           country, is_bot)
         SELECT md5(i::text)::uuid, t, t, $1, 's' || sk, 'v' || (sk / 3), 'pageview', 'b.example',
                CASE WHEN i % 7 = 0 THEN '/p/' || (1 + (i / 7) % 50) ELSE '/page/' || (i % 40) END,
                CASE WHEN sk % 4 = 0 THEN 'google.com' END, 'organic',
                CASE WHEN sk % 5 = 0 THEN 'google' END, (ARRAY['Chrome','Safari','Firefox'])[1 + sk % 3],
                'Windows', 'desktop', 'en-US', (ARRAY['US','DE','IN','GB'])[1 + sk % 4], sk % 20 = 0
           FROM (SELECT i, i % $2 AS sk FROM generate_series($3::bigint, $4::bigint) i) x,
                LATERAL (SELECT now() - interval '90 days'
                          + ((hashint8(sk) & 2147483647) % (90 * 86400)) * interval '1 second'
                          + (i / $2) * interval '45 seconds' AS t) tt`,
        [SITE, S, from, to],
      );
      log(`events ${to + 1}/${E} (${Math.round((Date.now() - t0) / 1000)} s)`);
    }
    await db.query(
      'bench.conversions',
      `INSERT INTO conversions (goal_id, event_id, event_time, website_id, session_id, value, currency, is_bot, definition_version,
                                utm_source, utm_medium, referrer_domain)
       SELECT 'goal_' || lpad(substr(e.path, 4), 21, '0'), e.event_id, e.event_time, e.website_id, e.session_id, 9.99, 'USD', e.is_bot, 1,
              e.utm_source, e.utm_medium, e.referrer_domain
         FROM events e WHERE e.website_id = $1 AND e.path LIKE '/p/%'`,
      [SITE],
    );
    log('conversions loaded');
    await db.query(
      'bench.sessions',
      `INSERT INTO sessions (website_id, session_id, visitor_id, started_at, ended_at, first_event_id,
         entry_page, exit_page, pageviews, events, hostname, referrer_domain, channel, utm_source,
         browser, os, device, language, country, is_bot)
       SELECT website_id, session_id, min(visitor_id), min(event_time), max(event_time), min(event_id::text)::uuid,
              min(path), max(path), count(*), 0, 'b.example', min(referrer_domain), 'organic', min(utm_source),
              min(browser), 'Windows', 'desktop', 'en-US', min(country), bool_or(is_bot)
         FROM events WHERE website_id = $1 GROUP BY website_id, session_id`,
      [SITE],
    );
    log('sessions loaded; vacuum + analyze (the visibility map a settled database has)');
    for (const t of ['events', 'conversions', 'sessions'])
      await db.query('bench.analyze', `VACUUM ANALYZE ${t}`);
  }
}
