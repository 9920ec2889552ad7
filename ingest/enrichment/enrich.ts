import type { EventMessage } from '../../shared/events/event-message.js';
import { splitUrl } from '../../shared/matching/url-path.js';
import type { BotPolicy } from '../../shared/db/repositories/website.repository.js';
import { botScore, isBotFor } from './bot.js';
import type { GeoInfo } from './geo.js';
import { languageOf } from './language.js';
import { channelOf, isSameSite, referrerDomain } from './referrer.js';
import { parseUserAgent } from './user-agent.js';

/** One event as both payload formats normalize it, before enrichment. */
export interface RawEvent {
  type: EventMessage['type'];
  eventName: string | null;
  /** Absolute (`https://x.com/a?b`) or relative (`/a?b`) page URL. */
  url: string;
  referrer: string | null;
  pageTitle: string | null;
  properties: Record<string, unknown> | null;
  /** UTM values the payload carried explicitly (they win over the URL's). */
  utm: Partial<Record<UtmKey, string | null>>;
  screenWidth: number | null;
  language: string | null;
}

/** What enrichment needs from the request; computed once per request, shared by its events. */
export interface RequestFacts {
  browser: string | null;
  os: string | null;
  uaDevice: ReturnType<typeof parseUserAgent>['device'];
  userAgent: string | undefined;
  acceptLanguage: string | undefined;
  country: string | null;
  region: string | null;
  city: string | null;
  botScore: number;
}

export type UtmKey = 'source' | 'medium' | 'campaign' | 'term' | 'content';
const UTM_KEYS: readonly UtmKey[] = ['source', 'medium', 'campaign', 'term', 'content'];

export type EnrichedFields = Pick<
  EventMessage,
  | 'type'
  | 'event_name'
  | 'hostname'
  | 'path'
  | 'querystring'
  | 'page_title'
  | 'referrer'
  | 'referrer_domain'
  | 'channel'
  | 'utm_source'
  | 'utm_medium'
  | 'utm_campaign'
  | 'utm_term'
  | 'utm_content'
  | 'properties'
  | 'browser'
  | 'os'
  | 'device'
  | 'screen_width'
  | 'language'
  | 'country'
  | 'region'
  | 'city'
  | 'bot_score'
  | 'is_bot'
>;

export interface RequestInput {
  userAgent: string | undefined;
  acceptLanguage: string | undefined;
  /** Events from this IP in the current rate window, or null when the rate heuristic is off. */
  recentEventsFromIp: number | null;
  rateThreshold: number;
}

/**
 * Request-level facts (UA, geo, bot score): computed once, shared by a batch's events. `g` is
 * the client address's location (GeoLookup).
 */
export function requestFacts(r: RequestInput, g: GeoInfo): RequestFacts {
  const ua = parseUserAgent(r.userAgent, null);
  return {
    browser: ua.browser,
    os: ua.os,
    uaDevice: ua.device,
    userAgent: r.userAgent,
    acceptLanguage: r.acceptLanguage,
    country: g.country,
    region: g.region,
    city: g.city,
    botScore: botScore({
      userAgent: r.userAgent,
      acceptLanguage: r.acceptLanguage,
      recentEventsFromIp: r.recentEventsFromIp,
      rateThreshold: r.rateThreshold,
    }),
  };
}

const cut = (s: string | null | undefined, max: number): string | null => {
  if (s === null || s === undefined) return null;
  const t = s.replaceAll('\u0000', '');
  return t === '' ? null : t.length > max ? t.slice(0, max) : t;
};

/**
 * Every enrichment field of the Kafka event message, from one raw event: hostname, path (see
 * `shared/matching/url-path.ts`), query, UTMs (payload first, then the URL), referrer domain
 * (self-referrals dropped) and channel, browser/OS/device, language, geo and bot verdict.
 * Never throws; strings are cut to the message schema's limits.
 */
export function enrichEvent(
  raw: RawEvent,
  facts: RequestFacts,
  site: { domain: string; bot_policy: BotPolicy },
): EnrichedFields {
  const { hostname, path, querystring } = splitUrl(raw.url);
  let params: URLSearchParams | null = null;
  if (querystring.length > 1) {
    try {
      params = new URLSearchParams(querystring);
    } catch {
      params = null;
    }
  }
  const utm = {} as Record<UtmKey, string | null>;
  for (const k of UTM_KEYS) {
    utm[k] = cut(raw.utm[k] ?? params?.get(`utm_${k}`) ?? null, 2048);
  }
  let refDomain = referrerDomain(raw.referrer);
  // A referrer from the site itself (or the page's own host) is navigation, not acquisition.
  if (
    refDomain !== null &&
    (isSameSite(refDomain, site.domain) || isSameSite(refDomain, hostname))
  ) {
    refDomain = null;
  }
  const device =
    facts.uaDevice === 'desktop' &&
    raw.screenWidth !== null &&
    raw.screenWidth > 0 &&
    raw.screenWidth < 600
      ? 'mobile'
      : facts.uaDevice;
  return {
    type: raw.type,
    event_name: cut(raw.eventName, 200),
    hostname: cut(hostname, 253),
    path: cut(path, 2048),
    querystring: cut(querystring, 2048),
    page_title: cut(raw.pageTitle, 2048),
    referrer: cut(raw.referrer, 2048),
    referrer_domain: refDomain,
    channel: channelOf({
      referrerDomain: refDomain,
      utmSource: utm.source,
      utmMedium: utm.medium,
      query: params,
    }),
    utm_source: utm.source,
    utm_medium: utm.medium,
    utm_campaign: utm.campaign,
    utm_term: utm.term,
    utm_content: utm.content,
    properties: withoutNul(raw.properties),
    browser: facts.browser,
    os: facts.os,
    device,
    screen_width:
      raw.screenWidth !== null &&
      Number.isInteger(raw.screenWidth) &&
      raw.screenWidth >= 0 &&
      raw.screenWidth <= 100_000
        ? raw.screenWidth
        : null,
    language: languageOf(raw.language, facts.acceptLanguage),
    country: facts.country,
    region: facts.region,
    city: facts.city,
    bot_score: facts.botScore,
    is_bot: isBotFor(site.bot_policy, facts.botScore),
  };
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000; a property containing it would make the
 * processor's insert fail forever, so NULs are removed from keys and string values here.
 */
function withoutNul(props: Record<string, unknown> | null): Record<string, unknown> | null {
  if (props === null || !JSON.stringify(props).includes('\\u0000')) return props;
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replaceAll('\u0000', '');
    if (Array.isArray(v)) return v.map(clean);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k.replaceAll('\u0000', ''), clean(x)]),
      );
    }
    return v;
  };
  return clean(props) as Record<string, unknown>;
}
