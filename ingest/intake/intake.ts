import type { Message } from 'kafkajs';
import { canAccessWebsite, type Principal } from '../../shared/auth/api-keys.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import {
  enrichEvent,
  requestFacts,
  type RawEvent,
  type RequestFacts,
} from '../enrichment/enrich.js';
import type { GeoLookup } from '../enrichment/geo.js';
import { ClientError, RateLimitedError, TransientError } from '../../shared/errors/errors.js';
import {
  encodeEvent,
  type EventEncoding,
  EVENT_SCHEMA_VERSION,
  type EventMessage,
} from '../../shared/events/event-message.js';
import type { BatchingProducer } from '../kafka/batching.producer.js';
import type { Logger } from '../../shared/logger.js';
import { uuidV7 } from '../../shared/ids.js';
import type { SessionRequest, SessionResult, SessionStore } from '../sessions/session.store.js';
import { cookielessVisitorId, type DailySalts } from '../sessions/visitor-id.js';
import type { ApiKeySource } from '../lookups/api-key.lookup.js';
import type { IngestMetrics } from '../http/ingest.metrics.js';
import { originAllowed } from './origin.js';
import { clientBucket, type RateWindow } from '../../shared/http/rate-window.js';
import type { AssignedSessions, SessionBatcher } from '../sessions/session.batcher.js';

/** One validated event of either payload format, before website resolution and enrichment. */
export interface IncomingEvent {
  websiteRef: string | number;
  raw: RawEvent;
  /** `visitor_id` (Sparklytics) or `user_id` (Rybbit): the client's own id, or null. */
  clientId: string | null;
  eventId: string | null;
  /** Client timestamp (already range-checked), or null for "now". */
  timestampMs: number | null;
  /** Where this event sits in the body, for error fields: `[3].` or ``. */
  fieldPrefix: string;
}

export interface RequestMeta {
  ip: string;
  userAgent: string | undefined;
  acceptLanguage: string | undefined;
  origin: string | undefined;
  /**
   * A key from the body (Rybbit's `api_key`, public in page HTML): when present, it replaces the
   * Origin check and must be an active `collect` key that may send for the website.
   */
  apiKey?: string | null;
  /** Called once every event of the request passed the Origin (or key) check: CORS may grant. */
  onOriginAccepted?: () => void;
}

export interface IntakeLimits {
  ratePerInstancePerSecond: number;
  ratePerIpPerMinute: number;
  ratePerWebsitePerMinute: number;
  botRateHeuristic: boolean;
  botRateThresholdPerMinute: number;
}

/** Resolves a website reference (`site_…` or numeric id), from a cache (see WebsiteLookup). */
export interface WebsiteSource {
  get(ref: string | number): Promise<Website | null>;
}

export interface IntakeDeps {
  producer: BatchingProducer;
  websites: WebsiteSource;
  /** Verifies body api keys; null: every request carrying one is refused (403). */
  apiKeys: ApiKeySource | null;
  /** Claim keys, `markDone` and `release` of event_id claims. */
  sessions: SessionStore;
  /** Session assignment (and event_id claims), merged across concurrent requests. */
  sessionBatcher: SessionBatcher;
  salts: DailySalts;
  geo: GeoLookup;
  metrics: IngestMetrics;
  logger: Logger;
  /** Events per second this instance accepts in all. */
  instanceWindow: RateWindow;
  ipWindow: RateWindow;
  siteWindow: RateWindow;
  limits: IntakeLimits;
  /** How events are written to Kafka (processors read both; see event-message.ts). */
  encoding: EventEncoding;
}

export interface IntakeResult {
  accepted: number;
  duplicates: number;
}

const transient = (what: string, err: unknown) =>
  err instanceof TransientError ? err : new TransientError(`${what} unavailable`, { cause: err });

/**
 * The one path every collect route takes after validating its payload: limits, website and
 * origin checks, enrichment, identity, session assignment and event_id claims (Redis), then the
 * produce. It resolves only after Kafka acknowledged every event that had to be produced;
 * nothing reaches Kafka unless every event of the request passed every check.
 */
export async function intake(
  deps: IntakeDeps,
  meta: RequestMeta,
  items: readonly IncomingEvent[],
  unknownWebsite: (item: IncomingEvent) => ClientError,
): Promise<IntakeResult> {
  if (deps.instanceWindow.hit('', items.length) > deps.limits.ratePerInstancePerSecond) {
    throw new RateLimitedError('this instance is at its event limit', 1);
  }
  // With or without an Origin header, by client address (IPv6 by /64).
  const ipCount = deps.ipWindow.hit(clientBucket(meta.ip), items.length);
  if (ipCount > deps.limits.ratePerIpPerMinute) {
    throw new RateLimitedError('too many events from this address', deps.ipWindow.secondsLeft());
  }
  // Started now, so a location not in memory is read while the website checks run.
  const location = deps.geo.lookup(meta.ip);
  const sites = await admitWebsites(deps, meta, items, unknownWebsite);
  const receivedMs = Date.now();
  const identified = await identify(deps, meta, items, sites, receivedMs);
  const claims = await assignSessions(deps, identified.requests);
  const facts = requestFacts(
    {
      userAgent: meta.userAgent,
      acceptLanguage: meta.acceptLanguage,
      recentEventsFromIp: deps.limits.botRateHeuristic ? ipCount : null,
      rateThreshold: deps.limits.botRateThresholdPerMinute,
    },
    await location,
  );
  const { messages, duplicates } = buildMessages(
    deps.encoding,
    items,
    sites,
    identified,
    claims.results,
    facts,
    receivedMs,
  );
  await produce(deps, messages, claims);
  deps.metrics.events.inc({ outcome: 'accepted', reason: '' }, messages.length);
  if (duplicates > 0) deps.metrics.events.inc({ outcome: 'duplicate', reason: '' }, duplicates);
  return { accepted: messages.length, duplicates };
}

/**
 * Resolves every event's website and checks that the request may send for it (its Origin, or
 * a collect key that names the website), then the per-website rate limits. Throws the first
 * refusal; returns the websites in item order.
 */
async function admitWebsites(
  deps: IntakeDeps,
  meta: RequestMeta,
  items: readonly IncomingEvent[],
  unknownWebsite: (item: IncomingEvent) => ClientError,
): Promise<Website[]> {
  const found = await resolveWebsites(deps.websites, items);
  const apiKey = meta.apiKey?.trim() || null;
  let principal: Principal | null = null;
  const perSite = new Map<string, number>();
  const sites: Website[] = [];
  for (let i = 0; i < items.length; i++) {
    const site = found[i];
    if (!site) throw unknownWebsite(items[i]!);
    if (apiKey !== null) {
      principal ??= await authenticateKey(deps.apiKeys, apiKey);
      // Only a collect key naming this website: a key in page HTML is public, so a manage key
      // or an all-websites key there would let anyone bypass every website's Origin check.
      if (
        !principal ||
        principal.kind !== 'collect' ||
        principal.websiteIds === null ||
        !canAccessWebsite(principal, site.id)
      ) {
        throw new ClientError(
          403,
          'forbidden_api_key',
          'this key may not send events for this website',
          `${items[i]!.fieldPrefix}api_key`,
        );
      }
    } else if (!originAllowed(meta.origin, site)) {
      throw new ClientError(
        403,
        'forbidden_origin',
        'this origin may not send events for this website',
        `${items[i]!.fieldPrefix}website_id`,
      );
    }
    sites.push(site);
    perSite.set(site.id, (perSite.get(site.id) ?? 0) + 1);
  }
  meta.onOriginAccepted?.();
  for (const [siteId, n] of perSite) {
    if (deps.siteWindow.hit(siteId, n) > deps.limits.ratePerWebsitePerMinute) {
      throw new RateLimitedError('too many events for this website', deps.siteWindow.secondsLeft());
    }
  }
  return sites;
}

/** Each event's identity and session request, and which events repeat an earlier one's id. */
interface Identified {
  requests: SessionRequest[];
  /** The same event_id twice in one body: the second is a duplicate of the first. */
  inRequestDuplicate: boolean[];
}

/**
 * The visitor identity of each event (the client's id, else the cookieless hash under today's
 * salt) and what session assignment needs: website, identity, event time, event_id to claim.
 */
async function identify(
  deps: IntakeDeps,
  meta: RequestMeta,
  items: readonly IncomingEvent[],
  sites: readonly Website[],
  receivedMs: number,
): Promise<Identified> {
  let salt: Buffer | null = null;
  if (items.some((it) => it.clientId === null)) {
    try {
      salt = await deps.salts.get(receivedMs);
    } catch (err) {
      throw transient('redis', err);
    }
  }
  const requests: SessionRequest[] = [];
  const inRequestDuplicate: boolean[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const site = sites[i]!;
    const identity =
      it.clientId ?? cookielessVisitorId(salt!, site.id, meta.ip, meta.userAgent ?? '');
    const eventId = it.eventId?.toLowerCase() ?? null;
    const dupKey = eventId === null ? null : `${site.id}:${eventId}`;
    const duplicate = dupKey !== null && seen.has(dupKey);
    inRequestDuplicate.push(duplicate);
    if (dupKey !== null) seen.add(dupKey);
    requests.push({
      websiteId: site.id,
      identity,
      eventTimeMs: it.timestampMs ?? receivedMs,
      eventId: duplicate ? null : eventId,
    });
  }
  return { requests, inRequestDuplicate };
}

/** Session results of a request's events and the event_id claims it now holds. */
interface Claims {
  results: SessionResult[];
  /** Claim keys this request took (to mark done after the produce, or release on failure). */
  keys: string[];
  token: string;
}

/**
 * Assigns sessions and claims event_ids (one Redis script call shared with concurrent
 * requests). When another request is producing one of these events right now, this one cannot
 * know yet whether that will succeed: its own claims are released and it is refused with 409
 * naming the event_id, so the client retries rather than being acknowledged. (A 4xx: the
 * server is fine; the same event is in flight in another request, which its own client
 * retries if it fails.)
 */
async function assignSessions(deps: IntakeDeps, requests: SessionRequest[]): Promise<Claims> {
  let assigned: AssignedSessions;
  try {
    assigned = await deps.sessionBatcher.assign(requests);
  } catch (err) {
    throw transient('redis', err);
  }
  const { results, token } = assigned;
  const keys: string[] = [];
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i]!;
    if (results[i]!.status === 'ok' && r.eventId !== null) {
      keys.push(deps.sessions.claimKey(r.websiteId, r.eventId));
    }
  }
  const pending = results.findIndex((r) => r.status === 'pending');
  if (pending >= 0) {
    await deps.sessions.release(keys, token).catch(() => undefined);
    throw new ClientError(
      409,
      'event_in_flight',
      'this event_id is being accepted by another request right now; retry later',
      requests.length === 1 ? 'event_id' : `[${pending}].event_id`,
    );
  }
  return { results, keys, token };
}

/** The Kafka messages of the events to produce (not duplicates), enriched, keyed by visitor. */
function buildMessages(
  encoding: EventEncoding,
  items: readonly IncomingEvent[],
  sites: readonly Website[],
  identified: Identified,
  results: readonly SessionResult[],
  facts: RequestFacts,
  receivedMs: number,
): { messages: Message[]; duplicates: number } {
  const receivedAt = new Date(receivedMs).toISOString();
  const messages: Message[] = [];
  let duplicates = 0;
  for (let i = 0; i < items.length; i++) {
    const res = results[i]!;
    if (res.status !== 'ok' || identified.inRequestDuplicate[i]) {
      duplicates++;
      continue;
    }
    const it = items[i]!;
    const site = sites[i]!;
    const r = identified.requests[i]!;
    const ev: EventMessage = {
      v: EVENT_SCHEMA_VERSION,
      event_id: r.eventId ?? uuidV7(receivedMs),
      seq: i,
      event_time:
        res.eventTimeMs === receivedMs ? receivedAt : new Date(res.eventTimeMs).toISOString(),
      received_at: receivedAt,
      website_id: site.id,
      session_id: res.sessionId,
      visitor_id: r.identity,
      user_id: it.clientId,
      ...enrichEvent(it.raw, facts, site),
    };
    messages.push({ key: `${site.id}:${r.identity}`, value: encodeEvent(ev, encoding) });
  }
  return { messages, duplicates };
}

/**
 * Produces the messages and waits for Kafka's acknowledgement; then marks the claims done. A
 * failed produce releases the claims, so the client's retry is produced.
 */
async function produce(deps: IntakeDeps, messages: Message[], claims: Claims): Promise<void> {
  if (messages.length > 0) {
    const end = deps.metrics.produceSeconds.startTimer();
    try {
      await deps.producer.send(messages);
      end({ result: 'ok' });
    } catch (err) {
      end({ result: 'failed' });
      await deps.sessions.release(claims.keys, claims.token).catch(() => undefined);
      throw transient('kafka', err);
    }
  }
  // The events are in Kafka: the answer is a success even if Redis fails now (the pending
  // markers then expire, and a retry would be produced again). Without event_ids there is
  // nothing to mark, and no Redis round trip.
  if (claims.keys.length === 0) return;
  await deps.sessions.markDone(claims.keys, claims.token).catch((err: unknown) => {
    deps.logger.warn({ err: (err as Error).message }, 'ingest_claim_done_failed');
  });
}

/** The key's principal; null when it is unknown, revoked or malformed, or nothing can verify it. */
async function authenticateKey(keys: ApiKeySource | null, key: string): Promise<Principal | null> {
  if (keys === null) return null;
  try {
    return await keys.authenticate(key);
  } catch (err) {
    throw transient('database', err);
  }
}

async function resolveWebsites(
  lookup: WebsiteSource,
  items: readonly IncomingEvent[],
): Promise<Array<Website | null>> {
  try {
    if (items.length === 1) return [await lookup.get(items[0]!.websiteRef)];
    const distinct = [...new Set(items.map((it) => String(it.websiteRef)))];
    const found = await Promise.all(distinct.map((ref) => lookup.get(ref)));
    const byRef = new Map(distinct.map((ref, i) => [ref, found[i]!]));
    return items.map((it) => byRef.get(String(it.websiteRef)) ?? null);
  } catch (err) {
    throw transient('database', err);
  }
}
