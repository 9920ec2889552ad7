import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ClientError } from '../../shared/errors/errors.js';
import {
  encodeEvent,
  EVENT_SCHEMA_VERSION,
  type EventMessage,
} from '../../shared/events/event-message.js';
import type { BatchingProducer } from '../../shared/kafka/batching-producer.js';
import { pathFromUrl, splitUrl } from '../../shared/matching/url-path.js';
import type { WebsiteLookup } from '../website-lookup.js';

export interface CollectDeps {
  producer: BatchingProducer;
  websites: WebsiteLookup;
}

const CollectBodySchema = Type.Object({
  website_id: Type.String({ minLength: 1, maxLength: 64 }),
  type: Type.Literal('pageview'),
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  visitor_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});

/**
 * `POST /api/collect`: answers 202 only after Kafka acknowledged the event (acks = all);
 * if Kafka cannot take it in time the BatchingProducer rejects and the client gets 503.
 */
export const collectRoutes: FastifyPluginAsyncTypebox<CollectDeps> = async (app, deps) => {
  const salt = randomBytes(32);
  app.post('/api/collect', { schema: { body: CollectBodySchema } }, async (req, reply) => {
    const body = req.body;
    const site = await deps.websites.get(body.website_id);
    if (!site) throw new ClientError(400, 'unknown_website', 'unknown website', 'website_id');
    const now = new Date().toISOString();
    // Skeleton identity: the client's visitor id, else a keyed hash of website + IP + UA, so
    // the IP never reaches Kafka (daily salts and 30-minute sessions come with ingestion).
    const visitor =
      body.visitor_id ??
      createHmac('sha256', salt)
        .update(`${site.id}|${req.ip}|${req.headers['user-agent'] ?? ''}`)
        .digest('base64url')
        .slice(0, 22);
    const { hostname, querystring } = splitUrl(body.url);
    const ev: EventMessage = {
      v: EVENT_SCHEMA_VERSION,
      event_id: randomUUID(),
      event_time: now,
      received_at: now,
      website_id: site.id,
      session_id: visitor,
      visitor_id: visitor,
      user_id: body.visitor_id ?? null,
      type: body.type,
      event_name: null,
      hostname,
      path: pathFromUrl(body.url),
      querystring: querystring || null,
      page_title: null,
      referrer: null,
      referrer_domain: null,
      channel: null,
      utm_source: null,
      utm_medium: null,
      utm_campaign: null,
      utm_term: null,
      utm_content: null,
      properties: null,
      browser: null,
      os: null,
      device: null,
      screen_width: null,
      language: null,
      country: null,
      region: null,
      city: null,
      bot_score: 0,
      is_bot: false,
    };
    await deps.producer.send([{ key: `${site.id}:${visitor}`, value: encodeEvent(ev) }]);
    return reply.status(202).send({ ok: true });
  });
};
