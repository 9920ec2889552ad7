import { useState } from 'preact/hooks';
import { api, sitePath, type Goal, type GoalStats, type Session, type Website } from '../api.js';
import { Chart } from '../components/chart.js';
import { SiteNav } from '../components/site-nav.js';
import { ErrorNote, Loading, TableWrap, Trend, useAsync, useTitle } from '../components/ui.js';
import { ViewControls } from '../components/view-controls.js';
import { fmtDateTime, fmtDuration, fmtInt, fmtMoney, fmtPct } from '../format.js';
import { optionLabel } from '../goal-options.js';
import { href, navigate, setQuery, type Route } from '../router.js';
import { carriedQuery, daysBetween, previousRange, readView, statsQuery } from '../view-state.js';

const PAGE_SIZE = 25;

/** One goal: its figures, a time series with the previous period, its converting sessions. */
export function GoalPage({ site, goalId, route }: { site: Website; goalId: string; route: Route }) {
  const view = readView(route.query, site.timezone);
  const span = daysBetween(view.start, view.end);
  const granularity = route.query.get('granularity') === 'hour' && span <= 31 ? 'hour' : 'day';
  const query = statsQuery(view);
  const qs = new URLSearchParams(query).toString();
  const base = `${sitePath(site.id)}/goals/${encodeURIComponent(goalId)}`;
  const carry = carriedQuery(route.query);

  const goal = useAsync((signal) => api<{ data: Goal }>(base, { signal }), [base]);
  useTitle(goal.data ? `${goal.data.data.name} · ${site.name}` : 'Goal');
  const stats = useAsync(
    async (signal) => {
      const ts = { ...query, include: 'timeseries', granularity };
      const prev = {
        ...ts,
        ...(({ start, end }) => ({ start_date: start, end_date: end }))(previousRange(view)),
      };
      const [cur, before] = await Promise.all([
        api<{ data: GoalStats }>(`${base}/stats`, { query: ts, signal }),
        api<{ data: GoalStats }>(`${base}/stats`, { query: prev, signal }),
      ]);
      return { cur: cur.data, prev: before.data };
    },
    [base, qs, granularity],
  );

  // Converting sessions, paged with the API's cursor; `cursors` is the trail for "previous".
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const sessions = useAsync(
    (signal) =>
      api<{ data: Session[]; next_cursor: string | null }>(`${base}/sessions`, {
        query: { ...query, limit: PAGE_SIZE, cursor },
        signal,
      }),
    [base, qs, cursor],
  );
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteError, setDeleteError] = useState<Error | null>(null);

  if (goal.error) {
    return (
      <main id="main" tabIndex={-1}>
        <SiteNav site={site} active="goals" query={carry} />
        <h1>Goal</h1>
        <ErrorNote error={goal.error} />
      </main>
    );
  }
  const g = goal.data?.data;
  const s = stats.data?.cur;
  return (
    <main id="main" tabIndex={-1}>
      <SiteNav site={site} active="goals" query={carry} />
      <p class="breadcrumb">
        <a href={href(`/sites/${site.id}`, carry)}>Goals</a> /
      </p>
      <div class="title-row">
        <h1>{g?.name ?? 'Goal'}</h1>
        {g && (
          <div class="actions">
            <a class="button secondary" href={href(`/sites/${site.id}/goals/${g.id}/edit`, carry)}>
              Edit
            </a>
            {!confirmDelete ? (
              <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
                Delete
              </button>
            ) : (
              <span class="confirm" role="group" aria-label="Confirm deletion">
                Delete “{g.name}”? Its stored conversions stay.{' '}
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    void api(base, { method: 'DELETE' }).then(
                      () => navigate(`/sites/${site.id}`, carry),
                      (err: Error) => setDeleteError(err),
                    )
                  }
                >
                  Delete goal
                </button>{' '}
                <button type="button" class="secondary" onClick={() => setConfirmDelete(false)}>
                  Cancel
                </button>
              </span>
            )}
          </div>
        )}
      </div>
      {deleteError && <ErrorNote error={deleteError} />}
      {g && (
        <p class="muted">
          {optionLabel(g.goal_type)} {optionLabel(g.match_operator)} <code>{g.match_value}</code>
          {g.case_sensitive ? '' : ' (ignoring case)'}
          {g.property_filters.length > 0 && ` · ${g.property_filters.length} property filter(s)`}
          {g.value_mode !== 'none' && ` · value in ${g.currency}`}
        </p>
      )}
      <ViewControls key={route.query.toString()} view={view} siteTimezone={site.timezone} />
      {stats.error && <ErrorNote error={stats.error} />}
      {!s && stats.loading && <Loading what="statistics" />}
      {s && (
        <>
          <dl class="figures">
            <div>
              <dt>Conversions</dt>
              <dd>{fmtInt(s.conversions)}</dd>
            </div>
            <div>
              <dt>Converting sessions</dt>
              <dd>{fmtInt(s.converting_sessions)}</dd>
            </div>
            <div>
              <dt>Conversion rate</dt>
              <dd>{fmtPct(s.conversion_rate, 2)}</dd>
            </div>
            <div>
              <dt>Trend</dt>
              <dd>
                <Trend pct={s.trend_pct} />
              </dd>
            </div>
            {g?.value_mode !== 'none' && (
              <>
                <div>
                  <dt>Total value</dt>
                  <dd>{fmtMoney(s.total_value, s.currency)}</dd>
                </div>
                <div>
                  <dt>Average value</dt>
                  <dd>{fmtMoney(s.average_value, s.currency)}</dd>
                </div>
              </>
            )}
          </dl>
          <div class="chart-head">
            <h2>Over time</h2>
            <fieldset class="segmented">
              <legend class="visually-hidden">Granularity</legend>
              {(['day', 'hour'] as const).map((gr) => (
                <label key={gr}>
                  <input
                    type="radio"
                    name="granularity"
                    value={gr}
                    checked={granularity === gr}
                    disabled={gr === 'hour' && span > 31}
                    onChange={() => setQuery({ granularity: gr === 'day' ? null : gr })}
                  />
                  {gr === 'day' ? 'Days' : 'Hours'}
                </label>
              ))}
            </fieldset>
          </div>
          {s.timeseries && s.timeseries.length > 0 && (
            <Chart
              points={s.timeseries}
              previous={stats.data?.prev.timeseries ?? null}
              granularity={granularity}
              label={`Conversions of ${g?.name ?? 'the goal'} per ${granularity}, ${view.start} to ${view.end}, with the previous period: ${fmtInt(s.conversions)} conversions against ${fmtInt(stats.data?.prev.conversions ?? 0)}.`}
            />
          )}
          {s.total_sessions === 0 && (
            <p class="notice">
              No data yet in this range. Once the tracker sends page views and events, conversions
              show up here (and live on the Live page).
            </p>
          )}
        </>
      )}
      <h2>Converting sessions</h2>
      {sessions.error && <ErrorNote error={sessions.error} />}
      {!sessions.data && sessions.loading && <Loading what="sessions" />}
      {sessions.data && sessions.data.data.length === 0 && cursors.length === 0 && (
        <p class="muted">No session converted in this range.</p>
      )}
      {sessions.data && sessions.data.data.length > 0 && (
        <>
          <TableWrap label="Converting sessions">
            <table>
              <thead>
                <tr>
                  <th scope="col">Ended</th>
                  <th scope="col">Entry page</th>
                  <th scope="col">Exit page</th>
                  <th scope="col" class="num">
                    Pages
                  </th>
                  <th scope="col" class="num">
                    Duration
                  </th>
                  <th scope="col">Country</th>
                  <th scope="col">Browser / OS</th>
                  <th scope="col">Source</th>
                </tr>
              </thead>
              <tbody>
                {sessions.data.data.map((x) => (
                  <tr key={x.session_id}>
                    <td>{fmtDateTime(x.session_end, view.timezone)}</td>
                    <td>{x.entry_page ?? '–'}</td>
                    <td>{x.exit_page ?? '–'}</td>
                    <td class="num">{x.pageviews}</td>
                    <td class="num">{fmtDuration(x.session_duration)}</td>
                    <td>{x.country ?? '–'}</td>
                    <td>
                      {x.browser ?? '–'} / {x.operating_system ?? '–'}
                    </td>
                    <td>{x.referrer ?? x.channel ?? 'direct'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          <div class="pager">
            <button
              type="button"
              class="secondary"
              disabled={cursors.length === 0}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              Newer
            </button>
            <span class="muted">Page {cursors.length + 1}</span>
            <button
              type="button"
              class="secondary"
              disabled={!sessions.data.next_cursor}
              onClick={() => setCursors([...cursors, sessions.data!.next_cursor!])}
            >
              Older
            </button>
          </div>
        </>
      )}
    </main>
  );
}
