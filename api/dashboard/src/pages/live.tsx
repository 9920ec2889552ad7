import { useEffect, useState } from 'preact/hooks';
import { api, sitePath, type Goal, type Website } from '../api.js';
import { SiteNav } from '../components/site-nav.js';
import { Empty, ErrorNote, useAsync, useTitle } from '../components/ui.js';
import { fmtInt, fmtMoney } from '../format.js';
import { LiveFeed, type LiveConversion } from '../live-stream.js';
import { href, type Route } from '../router.js';
import { carriedQuery } from '../view-state.js';

const FEED_MAX = 100;

/**
 * Conversions as they happen, and per-goal counters of the last 30 minutes: each snapshot of
 * the stream sets the counters, and conversions that arrive after it add to them until they
 * leave the window.
 */
export function Live({ site, route }: { site: Website; route: Route }) {
  useTitle(`Live · ${site.name}`);
  const goals = useAsync(
    (signal) => api<{ data: Goal[] }>(`${sitePath(site.id)}/goals`, { signal }),
    [site.id],
  );
  const [base, setBase] = useState<{ counts: Map<string, number>; minutes: number } | null>(null);
  const [since, setSince] = useState<LiveConversion[]>([]);
  const [feed, setFeed] = useState<LiveConversion[]>([]);
  const [status, setStatus] = useState<{ connected: boolean; connections: number; error?: string }>(
    {
      connected: false,
      connections: 0,
    },
  );
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    const live = new LiveFeed(site.id, {
      snapshot: (counts, minutes) => {
        setBase({ counts, minutes });
        setSince([]);
      },
      conversion: (c) => {
        setSince((s) => [...s, c]);
        setFeed((f) => [c, ...f].slice(0, FEED_MAX));
      },
      status: (s) => setStatus(s),
    });
    live.start();
    const t = setInterval(() => setNow(Date.now()), 15_000);
    return () => {
      live.stop();
      clearInterval(t);
    };
  }, [site.id]);

  const windowMs = (base?.minutes ?? 30) * 60_000;
  const counts = new Map(base?.counts ?? []);
  for (const c of since) {
    if (Date.parse(c.time) >= now - windowMs)
      counts.set(c.goal_id, (counts.get(c.goal_id) ?? 0) + 1);
  }
  const goalList = goals.data?.data ?? [];
  const nameOf = (id: string) => goalList.find((g) => g.id === id)?.name ?? id;
  const carry = carriedQuery(route.query);

  return (
    <main id="main" tabIndex={-1}>
      <SiteNav site={site} active="live" query={carry} />
      <h1>Live conversions</h1>
      <p
        class={status.connected ? 'status on' : 'status'}
        role="status"
        data-connections={status.connections}
        data-connected={status.connected ? 'true' : 'false'}
      >
        <span class="dot" aria-hidden="true" />
        {status.connected
          ? 'Connected, receiving conversions as they happen.'
          : status.error
            ? `Reconnecting (${status.error})…`
            : 'Connecting…'}
      </p>
      {goals.error && <ErrorNote error={goals.error} />}
      {goals.data && goalList.length === 0 && (
        <Empty title="No goals to count">
          <p>Conversions appear here once the website has goals.</p>
          <a class="button" href={href(`/sites/${site.id}/goals/new`)}>
            Create a goal
          </a>
        </Empty>
      )}
      {goalList.length > 0 && (
        <section aria-labelledby="counters-h">
          <h2 id="counters-h">Last {base?.minutes ?? 30} minutes</h2>
          <ul class="counters">
            {goalList.map((g) => (
              <li key={g.id} data-goal-id={g.id}>
                <span class="counter-value">{fmtInt(counts.get(g.id) ?? 0)}</span>
                <span class="counter-label">{g.name}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="feed-h">
        <h2 id="feed-h">Feed</h2>
        {feed.length === 0 && (
          <p class="muted">
            Waiting for conversions. They appear here within a second or two of the event reaching
            ingest.
          </p>
        )}
        <div role="log" aria-live="polite" aria-label="Live conversions, newest first">
          <ul class="feed">
            {feed.map((c) => (
              <li key={c.id} data-event-id={c.id}>
                <time dateTime={c.time}>{new Date(c.time).toLocaleTimeString()}</time>
                <strong>{nameOf(c.goal_id)}</strong>
                {c.value !== null && <span>{fmtMoney(c.value, c.currency ?? 'USD')}</span>}
                {c.country && <span>{c.country}</span>}
                {c.page && <span class="muted">{c.page}</span>}
              </li>
            ))}
          </ul>
        </div>
      </section>
    </main>
  );
}
