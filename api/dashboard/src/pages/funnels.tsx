import { useState } from 'preact/hooks';
import {
  api,
  ApiError,
  sitePath,
  type FunnelResults,
  type FunnelSummary,
  type Session,
  type Website,
} from '../api.js';
import { SiteNav } from '../components/site-nav.js';
import { Empty, ErrorNote, Loading, TableWrap, useAsync, useTitle } from '../components/ui.js';
import { ViewControls } from '../components/view-controls.js';
import { fmtDateTime, fmtInt, fmtPct } from '../format.js';
import { href, setQuery, type Route } from '../router.js';
import { carriedQuery, readView, statsQuery } from '../view-state.js';

/**
 * Funnels, against the Sparklytics funnels API (`GET …/funnels`, `GET …/funnels/:id/results`)
 * and the step sessions route `GET …/funnels/:id/steps/:step/sessions?mode=reached|dropped`
 * (paged like a goal's sessions). When the API has no funnel routes (404 on the list), the page
 * says so instead of failing.
 */
export function Funnels({ site, route }: { site: Website; route: Route }) {
  useTitle(`Funnels · ${site.name}`);
  const carry = carriedQuery(route.query);
  const view = readView(route.query, site.timezone);
  const query = statsQuery(view);
  const qs = new URLSearchParams(query).toString();
  const selected = route.query.get('funnel');
  const list = useAsync(
    (signal) => api<{ data: FunnelSummary[] }>(`${sitePath(site.id)}/funnels`, { signal }),
    [site.id],
  );
  const funnelId = selected ?? list.data?.data[0]?.id ?? null;
  const results = useAsync(
    (signal) =>
      funnelId === null
        ? Promise.resolve(null)
        : api<{ data: FunnelResults }>(
            `${sitePath(site.id)}/funnels/${encodeURIComponent(funnelId)}/results`,
            {
              query,
              signal,
            },
          ),
    [site.id, funnelId, qs],
  );
  const unavailable = list.error instanceof ApiError && list.error.status === 404;

  return (
    <main id="main" tabIndex={-1}>
      <SiteNav site={site} active="funnels" query={carry} />
      <h1>Funnels</h1>
      {unavailable && (
        <Empty title="Funnels are not available on this server yet">
          <p>
            This Goalpost API has no funnel routes (<code>GET /api/websites/{site.id}/funnels</code>{' '}
            answered 404). They come with a later version; goals and live conversions work now.
          </p>
        </Empty>
      )}
      {list.error && !unavailable && <ErrorNote error={list.error} />}
      {!list.data && list.loading && <Loading what="funnels" />}
      {list.data?.data.length === 0 && (
        <Empty title="No funnels yet">
          <p>
            A funnel follows sessions through 2–8 steps (pages or events). Create one with{' '}
            <code>POST /api/websites/{site.id}/funnels</code>.
          </p>
        </Empty>
      )}
      {list.data && list.data.data.length > 0 && (
        <>
          <div class="control-row">
            <label>
              Funnel
              <select
                value={funnelId ?? ''}
                onChange={(e) => setQuery({ funnel: e.currentTarget.value })}
              >
                {list.data.data.map((f) => (
                  <option value={f.id} key={f.id}>
                    {f.name} ({f.step_count} steps)
                  </option>
                ))}
              </select>
            </label>
          </div>
          <ViewControls key={route.query.toString()} view={view} siteTimezone={site.timezone} />
          {results.error && <ErrorNote error={results.error} />}
          {!results.data && results.loading && <Loading what="funnel results" />}
          {results.data && (
            <FunnelChart
              key={`${funnelId}|${qs}`}
              site={site}
              results={results.data.data}
              query={query}
            />
          )}
        </>
      )}
      <p class="muted">
        <a href={href(`/sites/${site.id}`, carry)}>Back to goals</a>
      </p>
    </main>
  );
}

function FunnelChart({
  site,
  results,
  query,
}: {
  site: Website;
  results: FunnelResults;
  query: Record<string, string>;
}) {
  const [open, setOpen] = useState<{ step: number; mode: 'reached' | 'dropped' } | null>(null);
  const first = results.steps[0]?.sessions_reached ?? 0;
  return (
    <section aria-label={`Funnel ${results.name}`}>
      <p>
        {fmtInt(results.total_sessions_entered)} sessions entered;{' '}
        {fmtPct(results.final_conversion_rate, 1)} reached the last step.
      </p>
      <ol class="funnel">
        {results.steps.map((st, i) => (
          <li key={st.step_order}>
            <div class="funnel-step">
              <span class="funnel-label">
                {st.step_order}. {st.label}
              </span>
              <div class="bar-track" aria-hidden="true">
                <div
                  class="bar"
                  style={{ width: `${first === 0 ? 0 : (st.sessions_reached / first) * 100}%` }}
                />
              </div>
              <span class="num">
                {fmtInt(st.sessions_reached)} sessions ({fmtPct(st.conversion_rate_from_start, 1)}{' '}
                of the start)
              </span>
              <span class="actions">
                <button
                  type="button"
                  class="secondary small"
                  onClick={() => setOpen({ step: st.step_order, mode: 'reached' })}
                >
                  Sessions that reached step {st.step_order}
                </button>
                {i < results.steps.length - 1 && (
                  <button
                    type="button"
                    class="secondary small"
                    onClick={() => setOpen({ step: st.step_order, mode: 'dropped' })}
                  >
                    Sessions that dropped after step {st.step_order}
                  </button>
                )}
              </span>
            </div>
            {i < results.steps.length - 1 && (
              <p class="drop-off">
                ↓ {fmtInt(st.drop_off_count)} dropped off ({fmtPct(st.drop_off_rate, 1)})
              </p>
            )}
          </li>
        ))}
      </ol>
      {open && <StepSessions site={site} funnelId={results.funnel_id} {...open} query={query} />}
    </section>
  );
}

function StepSessions({
  site,
  funnelId,
  step,
  mode,
  query,
}: {
  site: Website;
  funnelId: string;
  step: number;
  mode: 'reached' | 'dropped';
  query: Record<string, string>;
}) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const rows = useAsync(
    (signal) =>
      api<{ data: Session[]; next_cursor: string | null }>(
        `${sitePath(site.id)}/funnels/${encodeURIComponent(funnelId)}/steps/${step}/sessions`,
        { query: { ...query, mode, limit: 25, cursor }, signal },
      ),
    [funnelId, step, mode, cursor],
  );
  return (
    <section aria-live="polite">
      <h2>
        Sessions that {mode === 'reached' ? 'reached' : 'dropped off after'} step {step}
      </h2>
      {rows.error && <ErrorNote error={rows.error} />}
      {!rows.data && rows.loading && <Loading what="sessions" />}
      {rows.data?.data.length === 0 && <p class="muted">None in this range.</p>}
      {rows.data && rows.data.data.length > 0 && (
        <TableWrap label={`Sessions of step ${step}`}>
          <table>
            <thead>
              <tr>
                <th scope="col">Ended</th>
                <th scope="col">Entry page</th>
                <th scope="col">Exit page</th>
                <th scope="col">Country</th>
                <th scope="col">Source</th>
              </tr>
            </thead>
            <tbody>
              {rows.data.data.map((x) => (
                <tr key={x.session_id}>
                  <td>{fmtDateTime(x.session_end)}</td>
                  <td>{x.entry_page ?? '–'}</td>
                  <td>{x.exit_page ?? '–'}</td>
                  <td>{x.country ?? '–'}</td>
                  <td>{x.referrer ?? x.channel ?? 'direct'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {rows.data && (cursors.length > 0 || rows.data.next_cursor) && (
        <div class="pager">
          <button
            type="button"
            class="secondary"
            disabled={cursors.length === 0}
            onClick={() => setCursors(cursors.slice(0, -1))}
          >
            Newer
          </button>
          <button
            type="button"
            class="secondary"
            disabled={!rows.data.next_cursor}
            onClick={() => setCursors([...cursors, rows.data!.next_cursor!])}
          >
            Older
          </button>
        </div>
      )}
    </section>
  );
}
