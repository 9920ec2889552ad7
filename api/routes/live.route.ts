import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { sparklyticsErrors } from '../http/error-responses.js';
import type { Website } from '../../shared/db/website.repository.js';
import { TransientError, unauthorized } from '../../shared/errors/errors.js';
import { liveStreamKey, recentCounts, type LiveConversion } from '../../shared/live/live-feed.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from '../../shared/redis/redis.js';
import { findWebsite, requirePrincipal, requireWebsite, type AuthDeps } from '../http/auth.js';
import { createLiveToken, LIVE_TOKEN_TTL_MS, verifyLiveToken } from '../stats/live-token.js';

export interface LiveDeps extends AuthDeps {
  redis: Redis;
  logger: Logger;
  liveTokenSecret: string;
  /** Lifetime of the tokens `POST …/live-token` issues (default {@link LIVE_TOKEN_TTL_MS}). */
  liveTokenTtlMs?: number;
  /** Heartbeat comment interval (15 s; tests may shorten it). */
  heartbeatMs?: number;
}

/** `Last-Event-ID` resumes only within this window; older ids start at the live end. */
export const RESUME_WINDOW_MS = 5 * 60_000;
const SNAPSHOT_MINUTES = 30;
const STREAM_ID_RE = /^(\d{1,16})-(\d{1,16})$/;

/** The website for the live stream: a token for exactly that website, or a manage key. */
async function liveWebsite(
  deps: LiveDeps,
  req: FastifyRequest,
  ref: string,
  token: string | undefined,
): Promise<Website> {
  if (token === undefined) {
    return requireWebsite(deps, await requirePrincipal(deps, req), ref);
  }
  const granted = verifyLiveToken(deps.liveTokenSecret, token);
  if (granted === null) throw unauthorized();
  const site = await findWebsite(deps, ref);
  if (site.id !== granted) throw unauthorized();
  return site;
}

/**
 * Live conversions over Server-Sent Events, read from the processor's Redis stream (see
 * shared/live/live-feed.ts): on connect an `event: snapshot` (per-goal conversions of the last
 * 30 minutes), then one `event: conversion` per conversion with the stream entry id as SSE
 * `id`, and a heartbeat comment every 15 s. Each client gets its own Redis connection for the
 * blocking XREAD, closed when the client goes away.
 */
export const liveRoutes: FastifyPluginAsyncTypebox<LiveDeps> = async (app, deps) => {
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const params = Type.Object({
    website_id: Type.String({ description: '`site_…` or numeric id' }),
  });

  app.post(
    '/api/websites/:website_id/live-token',
    {
      schema: {
        tags: ['goals'],
        summary: 'A read-only token for the live stream of this website (5 minutes by default)',
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
      const site = await requireWebsite(
        deps,
        await requirePrincipal(deps, req),
        req.params.website_id,
      );
      const t = createLiveToken(
        deps.liveTokenSecret,
        site.id,
        Date.now(),
        deps.liveTokenTtlMs ?? LIVE_TOKEN_TTL_MS,
      );
      return { data: { token: t.token, expires_at: t.expiresAt.toISOString() } };
    },
  );

  app.get(
    '/api/websites/:website_id/goals/live',
    {
      schema: {
        tags: ['goals'],
        summary: 'Live conversions (text/event-stream); auth by header or ?token=',
        params,
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
      },
    },
    async (req, reply) => {
      const site = await liveWebsite(deps, req, req.params.website_id, req.query.token);
      const key = liveStreamKey(site.id);
      const counts = await recentCounts(deps.redis, site.id, SNAPSHOT_MINUTES);
      let lastId: string;
      const resume = req.headers['last-event-id'];
      const m = typeof resume === 'string' ? STREAM_ID_RE.exec(resume) : null;
      if (m && Number(m[1]) >= Date.now() - RESUME_WINDOW_MS) {
        lastId = resume as string;
      } else {
        const tail = await deps.redis.xrevrange(key, '+', '-', 'COUNT', 1);
        lastId = tail[0]?.[0] ?? '0-0';
      }

      // A dedicated connection for the blocking XREAD, connected before the response starts so
      // that a Redis outage is an error status rather than a stream that ends at once.
      const conn = deps.redis.duplicate({ lazyConnect: true });
      try {
        await conn.connect();
      } catch (err) {
        conn.disconnect();
        throw new TransientError('live feed unavailable', { cause: err });
      }

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

      let open = true;
      const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), heartbeatMs);
      const close = () => {
        if (!open) return;
        open = false;
        clearInterval(heartbeat);
        conn.disconnect();
        raw.end();
      };
      raw.on('close', close);
      void (async () => {
        while (open) {
          let res: Array<[string, Array<[string, string[]]>]> | null;
          try {
            res = await conn.xread('COUNT', 500, 'BLOCK', 5_000, 'STREAMS', key, lastId);
          } catch (err) {
            if (open) deps.logger.warn({ err: (err as Error).message }, 'live_read_failed');
            close();
            return;
          }
          for (const [, entries] of res ?? []) {
            for (const [id, fields] of entries) {
              lastId = id;
              const c = JSON.parse(fields[fields.indexOf('c') + 1] ?? '{}') as LiveConversion;
              const data = {
                goal_id: c.goal_id,
                value: c.value === null ? null : Number(c.value),
                currency: c.currency,
                time: c.time,
                country: c.country,
                page: c.page,
              };
              raw.write(`id: ${id}\nevent: conversion\ndata: ${JSON.stringify(data)}\n\n`);
            }
          }
        }
      })();
    },
  );
};
