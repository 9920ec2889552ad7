import type { EventRow } from '../../shared/db/repositories/event.repository.js';
import type { SessionDelta } from '../../shared/db/repositories/session.repository.js';

/**
 * A sortable key for an ISO time of the event message (`…:SS[.fraction]Z`): the fraction is
 * padded so that `…:00Z` < `…:00.5Z` compares correctly as text.
 */
export function timeKey(iso: string): string {
  const dot = iso.indexOf('.', 19);
  const base = iso.slice(0, 19);
  const frac = dot === -1 ? '' : iso.slice(dot + 1, iso.length - 1);
  return `${base}.${frac.padEnd(9, '0')}`;
}

/**
 * (time, seq, event_id) order, the one PostgreSQL applies to (timestamptz, smallint, uuid) in
 * the upsert: events of one request share a receive time and keep their order in it.
 */
function before(a: EventRow, b: EventRow): boolean {
  const ta = timeKey(a.event_time);
  const tb = timeKey(b.event_time);
  if (ta !== tb) return ta < tb;
  return a.seq !== b.seq ? a.seq < b.seq : a.event_id < b.event_id;
}

/**
 * Folds newly inserted events into one delta per session, sorted by (website_id, session_id).
 * The landing attributes come from the first pageview when there is one, else the first event.
 * `performance` events are ignored: they never count as pageviews or events. Autocapture events
 * (outbound, button_click…) count as events, as outbound clicks did when they were stored as
 * custom events. Event ids must
 * be lowercase (as PostgreSQL prints uuids) for the tie-break to agree with the database.
 */
export function buildSessionDeltas(events: readonly EventRow[]): SessionDelta[] {
  const bySession = new Map<string, { first: EventRow; last: EventRow; rows: EventRow[] }>();
  for (const ev of events) {
    if (ev.type === 'performance') continue;
    const key = `${ev.website_id}\u0000${ev.session_id}`;
    const s = bySession.get(key);
    if (!s) {
      bySession.set(key, { first: ev, last: ev, rows: [ev] });
      continue;
    }
    s.rows.push(ev);
    if (before(ev, s.first)) s.first = ev;
    if (before(s.last, ev)) s.last = ev;
  }
  const deltas: SessionDelta[] = [];
  for (const { first, last, rows } of bySession.values()) {
    let entry: EventRow | null = null;
    let exit: EventRow | null = null;
    let user: EventRow | null = null;
    let pageviews = 0;
    let isBot = false;
    for (const ev of rows) {
      isBot ||= ev.is_bot;
      if (ev.user_id !== null && (!user || !before(ev, user))) user = ev;
      if (ev.type !== 'pageview') continue;
      pageviews++;
      if (!entry || before(ev, entry)) entry = ev;
      if (!exit || before(exit, ev)) exit = ev;
    }
    // Landing attributes: the first pageview's when the session has one (a custom event sent
    // in the same request just before it must not hide the campaign the visitor came with).
    const landing = entry ?? first;
    deltas.push({
      website_id: first.website_id,
      session_id: first.session_id,
      visitor_id: first.visitor_id,
      user_id: user?.user_id ?? null,
      user_id_at: user?.event_time ?? null,
      started_at: first.event_time,
      ended_at: last.event_time,
      first_event_id: landing.event_id,
      landing_at: landing.event_time,
      landing_seq: landing.seq,
      landing_pageview: entry !== null,
      entry_page: entry?.path ?? null,
      entry_at: entry?.event_time ?? null,
      entry_event_id: entry?.event_id ?? null,
      entry_seq: entry?.seq ?? 0,
      exit_page: exit?.path ?? null,
      exit_at: exit?.event_time ?? null,
      exit_event_id: exit?.event_id ?? null,
      exit_seq: exit?.seq ?? 0,
      pageviews,
      events: rows.length - pageviews,
      hostname: landing.hostname,
      referrer: landing.referrer,
      referrer_domain: landing.referrer_domain,
      channel: landing.channel,
      utm_source: landing.utm_source,
      utm_medium: landing.utm_medium,
      utm_campaign: landing.utm_campaign,
      utm_term: landing.utm_term,
      utm_content: landing.utm_content,
      browser: landing.browser,
      os: landing.os,
      device: landing.device,
      screen_width: landing.screen_width,
      language: landing.language,
      country: landing.country,
      region: landing.region,
      city: landing.city,
      is_bot: isBot,
    });
  }
  return deltas.sort((a, b) =>
    a.website_id === b.website_id
      ? a.session_id < b.session_id
        ? -1
        : a.session_id > b.session_id
          ? 1
          : 0
      : a.website_id < b.website_id
        ? -1
        : 1,
  );
}
