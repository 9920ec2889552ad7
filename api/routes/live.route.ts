import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { apiKeyRepository } from '../../shared/db/repositories/api-key.repository.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { RateLimitedError, TransientError } from '../../shared/errors/errors.js';
import { clientBucket } from '../../shared/http/rate-window.js';
import { recentCounts, type LiveConversion } from '../../shared/live/live-feed.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from '../../shared/redis/redis.js';
import { sparklyticsErrors } from '../http/error-responses.js';
import { findWebsite, requirePrincipal, requireWebsite, type AuthDeps } from '../http/auth.js';
import { compareStreamIds, liveBacklog, LiveHub, type LiveEntry } from '../live/live.hub.js';
import { createLiveToken, DEFAULT_LIVE_TOKEN_TTL_MS, verifyLiveToken } from '../live/live.token.js';

export interface LiveDeps extends AuthDeps {
  redis: Redis;
  logger: Logger;
  liveTokenSecret: string;
  /** Lifetime of a live token (default 5 minutes). */
  liveTokenTtlMs?: number;
  /** Heartbeat comment interval, also how often keys are re-checked (15 s; tests shorten it). */
  heartbeatMs?: number;
}

/** `Last-Event-ID` resumes only within this window; older ids start at the live end. */
export const RESUME_WINDOW_MS = 5 * 60_000;
const SNAPSHOT_MINUTES = 30;
const STREAM_ID_RE = /^(\d{1,16})-(\d{1,16})$/;
/** At most this many backlog entries are replayed on a resume (the stream keeps 10 minutes). */
const MAX_BACKLOG = 10_000;

/** Who opened a stream: the website, the key behind it, and when its credential expires. */
interface StreamGrant {
  site: Website;
  keyId: string;
  /** The credential the per-token cap counts: the token, or the key for header auth. */
  credential: string;
  expiresAt: number | null;
}

/** A token for exactly that website (while its key is active), or a manage key. */
async function liveGrant(
  deps: LiveDeps,
  req: FastifyRequest,
  ref: string,
  token: string | undefined,
): Promise<StreamGrant> {
  if (token === undefined) {
    const principal = await requirePrincipal(deps, req);
    const site = await requireWebsite(deps, principal, ref);
    return { site, keyId: principal.keyId, credential: `key:${principal.keyId}`, expiresAt: null };
  }
  const granted = verifyLiveToken(deps.liveTokenSecret, token);
  if (granted === null) deps.guards.failed(req.ip);
  const site = await findWebsite(deps, ref);
  if (site.id !== granted.websiteId) deps.guards.failed(req.ip);
  if (!(await keysActive(deps, [granted.keyId])).has(granted.keyId)) deps.guards.failed(req.ip);
  return { site, keyId: granted.keyId, credential: token, expiresAt: granted.expiresAt };
}

/** Which key ids are still active; the bootstrap key (from config) always is. */
async function keysActive(deps: LiveDeps, ids: readonly string[]): Promise<Set<string>> {
  const stored = ids.filter((id) => id !== 'bootstrap');
  const active = stored.length > 0 ? await apiKeyRepository.activeIds(deps.db, stored) : new Set();
  if (ids.includes('bootstrap')) active.add('bootstrap');
  return active as Set<string>;
}

/** Open streams per token, per website, per client address, in this process. */
class StreamCounts {
  private readonly counts = new Map<string, number>();

  /** Takes one slot under every key; throws 429 naming the first full one. */
  take(slots: ReadonlyArray<readonly [key: string, limit: number, what: string]>): () => void {
    for (const [key, limit, what] of slots) {
      if ((this.counts.get(key) ?? 0) >= limit) {
        throw new RateLimitedError(`at most ${limit} live streams per ${what}`, 5);
      }
    }
    for (const [key] of slots) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const [key] of slots) {
        const n = (this.counts.get(key) ?? 1) - 1;
        if (n <= 0) this.counts.delete(key);
        else this.counts.set(key, n);
      }
    };
  }
}

/** What the SSE `conversion` event carries for one stream entry. */
function conversionData(json: string): string {
  const c = JSON.parse(json) as LiveConversion;
  return JSON.stringify({
    goal_id: c.goal_id,
    value: c.value === null ? null : Number(c.value),
    currency: c.currency,
    time: c.time,
    country: c.country,
    page: c.page,
  });
}

/**
 * Live conversions over Server-Sent Events, read from the processor's Redis stream (see
 * shared/live/live-feed.ts): on connect an `event: snapshot` (per-goal conversions of the last
 * 30 minutes), then one `event: conversion` per conversion with the stream entry id as SSE
 * `id`, and a heartbeat comment every 15 s. All streams of a website in this process share one
 * Redis reader (LiveHub). Streams are capped per token, website and client address (429
 * beyond), and end (`event: end`) when their token expires or the key behind them is revoked;
 * clients reconnect with a new token and `Last-Event-ID`, losing nothing.
 */
export const liveRoutes: FastifyPluginAsyncTypebox<LiveDeps> = async (app, deps) => {
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const ttlMs = deps.liveTokenTtlMs ?? DEFAULT_LIVE_TOKEN_TTL_MS;
  const hub = new LiveHub(deps.redis, deps.logger);
  const streams = new StreamCounts();
  const limits = deps.guards.limits;
  app.addHook('onClose', async () => hub.close());
  const params = Type.Object({
    website_id: Type.String({ description: '`site_…` or numeric id' }),
  });

  app.post(
    '/api/websites/:website_id/live-token',
    {
      schema: {
        tags: ['goals'],
        summary: 'A read-only token for the live stream of this website (5 minutes)',
        security: [{ bearerAuth: [] }],
        params,
        response: {
          200: Type.Object({
            data: Type.Object({ token: Type.String(), expires_at: Type.String() }),
          }),
          ...sparklyticsErrors,
        },
      },
    },
    async (req) => {
      const principal = await requirePrincipal(deps, req);
      const site = await requireWebsite(deps, principal, req.params.website_id);
      const t = createLiveToken(
        deps.liveTokenSecret,
        { websiteId: site.id, keyId: principal.keyId },
        ttlMs,
      );
      return { data: { token: t.token, expires_at: t.expiresAt.toISOString() } };
    },
  );

  app.get(
    '/api/websites/:website_id/goals/live',
    {
      // No HEAD twin: HEAD would run this handler, open a stream that never ends and hold the
      // client's keep-alive connection (its next request would wait forever).
      exposeHeadRoute: false,
      schema: {
        tags: ['goals'],
        summary:
          'Live conversions (text/event-stream); auth by header or ?token=; ends with `event: end` when the token expires or the key is revoked',
        params,
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const grant = await liveGrant(deps, req, req.params.website_id, req.query.token);
      const release = streams.take([
        [`t:${grant.credential}`, limits.liveStreamsPerToken, 'token'],
        [`w:${grant.site.id}`, limits.liveStreamsPerWebsite, 'website'],
        [`c:${clientBucket(req.ip)}`, limits.liveStreamsPerClient, 'client address'],
      ]);
      let open = true;
      const pending: LiveEntry[] = [];
      let lastSent = '0-0';
      let write: ((entries: readonly LiveEntry[]) => void) | null = null;
      let stoppedEarly = false;
      let end: (reason: string) => void = () => (stoppedEarly = true);
      let sub: { position: string; unsubscribe: () => void } | null = null;
      try {
        const counts = await recentCounts(deps.redis, grant.site.id, SNAPSHOT_MINUTES);
        sub = await hub.subscribe(grant.site.id, (entries) => {
          if (entries === null) end('feed_unavailable');
          else if (write) write(entries);
          else pending.push(...entries);
        });
        const resume = req.headers['last-event-id'];
        const m = typeof resume === 'string' ? STREAM_ID_RE.exec(resume) : null;
        // Resume after the client's last id (within the window), else at the live end.
        const from =
          m && Number(m[1]) >= Date.now() - RESUME_WINDOW_MS ? (resume as string) : sub.position;
        const position = sub.position;
        const subscription = sub;
        const backlog =
          compareStreamIds(from, position) < 0
            ? await liveBacklog(deps.redis, grant.site.id, from, MAX_BACKLOG)
            : [];
        lastSent = from;
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        const snapshot = {
          window_minutes: SNAPSHOT_MINUTES,
          goals: [...counts].map(([goal_id, conversions]) => ({ goal_id, conversions })),
        };
        raw.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
        write = (entries) => {
          for (const e of entries) {
            if (compareStreamIds(e.id, lastSent) <= 0) continue;
            lastSent = e.id;
            raw.write(`id: ${e.id}\nevent: conversion\ndata: ${conversionData(e.json)}\n\n`);
          }
        };
        write(backlog);
        write(pending.splice(0));

        const timers: NodeJS.Timeout[] = [];
        end = (reason) => {
          if (!open) return;
          open = false;
          for (const t of timers) clearTimeout(t);
          subscription.unsubscribe();
          release();
          if (reason !== 'client_closed') {
            raw.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
          }
          raw.end();
        };
        raw.on('close', () => end('client_closed'));
        if (grant.expiresAt !== null) {
          timers.push(setTimeout(() => end('token_expired'), grant.expiresAt - Date.now()));
        }
        // Heartbeat, and the key behind the stream re-checked: a revoked key ends it.
        const beat = (): void => {
          if (!open) return;
          raw.write(': heartbeat\n\n');
          keysActive(deps, [grant.keyId]).then(
            (active) => {
              if (!active.has(grant.keyId)) end('key_revoked');
              else if (open) timers.push(setTimeout(beat, heartbeatMs));
            },
            () => open && timers.push(setTimeout(beat, heartbeatMs)),
          );
        };
        timers.push(setTimeout(beat, heartbeatMs));
        if (stoppedEarly) end('feed_unavailable');
      } catch (err) {
        open = false;
        sub?.unsubscribe();
        release();
        if (reply.sent || reply.raw.headersSent) {
          reply.raw.end();
          return;
        }
        throw new TransientError('live feed unavailable', { cause: err });
      }
    },
  );
};
