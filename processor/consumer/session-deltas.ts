import type { EventRow } from '../../shared/db/event.repository.js';
import type { SessionDelta } from '../../shared/db/session.repository.js';

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

/** (time, event_id) order, the one PostgreSQL applies to (timestamptz, uuid) in the upsert. */
function before(a: EventRow, b: EventRow): boolean {
  const ta = timeKey(a.event_time);
  const tb = timeKey(b.event_time);
  return ta < tb || (ta === tb && a.event_id < b.event_id);
}

/**
 * Folds newly inserted events into one delta per session, sorted by (website_id, session_id).
 * `performance` events are ignored: they never count as pageviews or events. Event ids must
 * be lowercase (as PostgreSQL prints uuids) for the tie-break to agree with the database.
 */
export function buildSessionDeltas(events: readonly EventRow[]): SessionDelta[] {
  const bySession = new Map<string, { first: EventRow; last: EventRow; rows: EventRow[] }>();
  for (const ev of events) {
    if (ev.type !== 'pageview' && ev.type !== 'event') continue;
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
    deltas.push({
      website_id: first.website_id,
      session_id: first.session_id,
      visitor_id: first.visitor_id,
      user_id: user?.user_id ?? null,
      user_id_at: user?.event_time ?? null,
      started_at: first.event_time,
      ended_at: last.event_time,
      first_event_id: first.event_id,
      entry_page: entry?.path ?? null,
      entry_at: entry?.event_time ?? null,
      entry_event_id: entry?.event_id ?? null,
      exit_page: exit?.path ?? null,
      exit_at: exit?.event_time ?? null,
      exit_event_id: exit?.event_id ?? null,
      pageviews,
      events: rows.length - pageviews,
      hostname: first.hostname,
      referrer: first.referrer,
      referrer_domain: first.referrer_domain,
      channel: first.channel,
      utm_source: first.utm_source,
      utm_medium: first.utm_medium,
      utm_campaign: first.utm_campaign,
      utm_term: first.utm_term,
      utm_content: first.utm_content,
      browser: first.browser,
      os: first.os,
      device: first.device,
      screen_width: first.screen_width,
      language: first.language,
      country: first.country,
      region: first.region,
      city: first.city,
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
