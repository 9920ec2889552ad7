import { useEffect } from 'preact/hooks';
import { api, mapLimit, sitePath, type Goal, type GoalStats, type Website } from '../api.js';
import { SiteNav } from '../components/site-nav.js';
import {
  Empty,
  ErrorNote,
  Loading,
  TableWrap,
  Trend,
  useAsync,
  useTitle,
} from '../components/ui.js';
import { ViewControls } from '../components/view-controls.js';
import { fmtInt, fmtMoney, fmtPct } from '../format.js';
import { optionLabel } from '../goal-options.js';
import { carriedQuery, readView, statsQuery } from '../view-state.js';
import { href, type Route } from '../router.js';

const isBackfilling = (g: Goal) =>
  g.backfill !== null && (g.backfill.state === 'queued' || g.backfill.state === 'running');

/** The goals of a website with their statistics for the view's range (one stats call each). */
export function Goals({ site, route }: { site: Website; route: Route }) {
  useTitle(`Goals · ${site.name}`);
  const view = readView(route.query, site.timezone);
  const query = statsQuery(view);
  const qs = new URLSearchParams(query).toString();
  const goals = useAsync(
    (signal) => api<{ data: Goal[] }>(`${sitePath(site.id)}/goals`, { signal }),
    [site.id],
  );
  const stats = useAsync(
    async (signal) => {
      const list = goals.data?.data ?? [];
      const rows = await mapLimit(list, 6, (g) =>
        api<{ data: GoalStats }>(`${sitePath(site.id)}/goals/${g.id}/stats`, {
          query,
          signal,
        }).then((r) => r.data),
      );
      return new Map(rows.map((s) => [s.goal_id, s]));
    },
    [goals.data, qs],
  );

  // While a backfill runs, its progress is polled.
  const running = goals.data?.data.some(isBackfilling) ?? false;
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(goals.reload, 2000);
    return () => clearTimeout(t);
  }, [running, goals.data, goals.reload]);

  const carry = carriedQuery(route.query);
  return (
    <main id="main" tabIndex={-1}>
      <SiteNav site={site} active="goals" query={carry} />
      <div class="title-row">
        <h1>Goals</h1>
        <a class="button" href={href(`/sites/${site.id}/goals/new`, carry)}>
          New goal
        </a>
      </div>
      <ViewControls key={route.query.toString()} view={view} siteTimezone={site.timezone} />
      <p class="muted range-note" aria-live="polite">
        {view.start} to {view.end} ({view.timezone})
      </p>
      {goals.error && <ErrorNote error={goals.error} />}
      {stats.error && <ErrorNote error={stats.error} />}
      {!goals.data && goals.loading && <Loading what="goals" />}
      {goals.data?.data.length === 0 && (
        <Empty title="No goals yet">
          <p>
            A goal counts the sessions that reach a page or send an event. Create one and Goalpost
            counts it over the events it already has, then live.
          </p>
          <a class="button" href={href(`/sites/${site.id}/goals/new`, carry)}>
            Create the first goal
          </a>
        </Empty>
      )}
      {goals.data && goals.data.data.length > 0 && (
        <TableWrap label="Goals and their conversions">
          <table class="goals-table" aria-busy={stats.loading ? 'true' : 'false'}>
            <caption class="visually-hidden">
              Goals of {site.name}, {view.start} to {view.end}
            </caption>
            <thead>
              <tr>
                <th scope="col">Goal</th>
                <th scope="col" class="num">
                  Conversions
                </th>
                <th scope="col" class="num">
                  Converting sessions
                </th>
                <th scope="col" class="num">
                  Conversion rate
                </th>
                <th scope="col" class="num">
                  Trend
                </th>
                <th scope="col" class="num">
                  Total value
                </th>
                <th scope="col" class="num">
                  Average value
                </th>
              </tr>
            </thead>
            <tbody>
              {goals.data.data.map((g) => {
                const s = stats.data?.get(g.id);
                return (
                  <tr key={g.id} data-goal-id={g.id}>
                    <th scope="row">
                      <a href={href(`/sites/${site.id}/goals/${g.id}`, carry)}>{g.name}</a>
                      <span class="muted small-text">
                        {' '}
                        {optionLabel(g.goal_type)} {optionLabel(g.match_operator)} {g.match_value}
                      </span>
                      {isBackfilling(g) && (
                        <span class="backfill">
                          <label>
                            Backfill {g.backfill!.state}
                            <progress max={1} value={g.backfill!.progress} />
                          </label>{' '}
                          {fmtPct(g.backfill!.progress, 0)}
                        </span>
                      )}
                    </th>
                    {s ? (
                      <>
                        <td class="num" data-col="conversions">
                          {fmtInt(s.conversions)}
                        </td>
                        <td class="num" data-col="converting_sessions">
                          {fmtInt(s.converting_sessions)}
                        </td>
                        <td class="num" data-col="conversion_rate">
                          {fmtPct(s.conversion_rate, 2)}
                        </td>
                        <td class="num" data-col="trend">
                          <Trend pct={s.trend_pct} />
                        </td>
                        <td class="num" data-col="total_value">
                          {g.value_mode === 'none' ? '–' : fmtMoney(s.total_value, s.currency)}
                        </td>
                        <td class="num" data-col="average_value">
                          {g.value_mode === 'none' ? '–' : fmtMoney(s.average_value, s.currency)}
                        </td>
                      </>
                    ) : (
                      <td colSpan={6} class="muted">
                        {stats.loading ? 'Loading…' : '–'}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
      {stats.data &&
        goals.data &&
        goals.data.data.length > 0 &&
        [...stats.data.values()].every((s) => s.total_sessions === 0) && (
          <p class="notice">
            No sessions in this range yet. Check that the tracker snippet is on your pages (
            <a href={href('/')}>Websites</a>) or widen the date range.
          </p>
        )}
    </main>
  );
}
