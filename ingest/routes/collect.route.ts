import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import { ClientError } from '../../shared/errors/errors.js';
import { ErrorBodySchema, errorResponses } from '../../shared/http/error.schemas.js';
import { UUID_PATTERN } from '../../shared/ids.js';
import { EVENT_LIMITS, NO_NUL_PATTERN } from '../../shared/events/input-limits.js';
import { pathFromUrl } from '../../shared/matching/url-path.js';
import { intake, type IncomingEvent, type IntakeDeps } from '../intake/intake.js';
import { requestMeta } from '../http/request-meta.js';
import {
  compileCheck,
  isPlainObject,
  jsonBytes,
  parseTimestamp,
  screenWidthOf,
  utmOf,
} from './payload.parse.js';

export const MAX_BATCH = 50;

const Opt = <T extends ReturnType<typeof Type.String>>(t: T) =>
  Type.Optional(Type.Union([t, Type.Null()]));
const OptStr = (max: number) => Opt(Type.String({ maxLength: max }));
const OptNum = () => Type.Optional(Type.Union([Type.Number(), Type.Null()]));

/**
 * One Sparklytics event (as the Sparklytics `s.js` script and its SDKs send it) plus our
 * optional `event_id` and `timestamp`. Unknown fields are ignored, never refused.
 */
export const SparklyticsEventSchema = Type.Object({
  website_id: Type.String({ minLength: 1, maxLength: 64 }),
  type: Type.Union([Type.Literal('pageview'), Type.Literal('event')]),
  url: Type.String({ minLength: 1, maxLength: EVENT_LIMITS.url }),
  referrer: OptStr(8192),
  page_title: OptStr(2048),
  screen: OptStr(32),
  screen_width: OptNum(),
  screen_height: OptNum(),
  language: OptStr(100),
  event_name: OptStr(50),
  event_data: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  utm_source: OptStr(2048),
  utm_medium: OptStr(2048),
  utm_campaign: OptStr(2048),
  utm_term: OptStr(2048),
  utm_content: OptStr(2048),
  visitor_id: Opt(
    Type.String({ minLength: 1, maxLength: EVENT_LIMITS.clientId, pattern: NO_NUL_PATTERN }),
  ),
  event_id: Type.Optional(Type.String({ pattern: UUID_PATTERN })),
  timestamp: Type.Optional(Type.Union([Type.String({ maxLength: 40 }), Type.Number()])),
});
type SparklyticsEvent = Static<typeof SparklyticsEventSchema>;

export const CollectBodySchema = Type.Union([
  SparklyticsEventSchema,
  Type.Array(SparklyticsEventSchema, { maxItems: MAX_BATCH }),
]);

const checkEvent = compileCheck(SparklyticsEventSchema);

/** Validates one item fully; throws ClientError 400 naming `[i].field`. */
function toIncoming(body: unknown, prefix: string, now: number): IncomingEvent {
  if (!isPlainObject(body)) {
    throw new ClientError(
      400,
      'validation_error',
      'an event must be a JSON object',
      prefix.replace(/\.$/, '') || null,
    );
  }
  checkEvent(body, prefix);
  const e = body as SparklyticsEvent;
  const eventName = e.type === 'event' ? (e.event_name ?? '').trim() : '';
  if (e.type === 'event' && eventName === '') {
    throw new ClientError(
      400,
      'validation_error',
      'event_name is required for events',
      `${prefix}event_name`,
    );
  }
  if (e.url.length > EVENT_LIMITS.path && pathFromUrl(e.url).length > EVENT_LIMITS.path) {
    throw new ClientError(
      400,
      'validation_error',
      `the URL's path must be at most ${EVENT_LIMITS.path} characters`,
      `${prefix}url`,
    );
  }
  if (e.event_data !== undefined && e.event_data !== null) {
    if (!isPlainObject(e.event_data)) {
      throw new ClientError(
        400,
        'validation_error',
        'event_data must be an object',
        `${prefix}event_data`,
      );
    }
    if (jsonBytes(e.event_data) > EVENT_LIMITS.propertiesBytes) {
      throw new ClientError(
        400,
        'validation_error',
        `event_data must be at most ${EVENT_LIMITS.propertiesBytes} bytes as JSON`,
        `${prefix}event_data`,
      );
    }
  }
  return {
    websiteRef: e.website_id,
    clientId: e.visitor_id ?? null,
    eventId: e.event_id ?? null,
    timestampMs: parseTimestamp(e.timestamp, `${prefix}timestamp`, now),
    fieldPrefix: prefix,
    raw: {
      type: e.type,
      eventName: e.type === 'event' ? eventName : null,
      url: e.url,
      referrer: e.referrer ?? null,
      pageTitle: e.page_title ?? null,
      properties: e.type === 'event' ? (e.event_data ?? null) : null,
      utm: utmOf(e),
      screenWidth: screenWidthOf(e.screen_width, e.screen),
      language: e.language ?? null,
    },
  };
}

/**
 * Parses a Sparklytics body (one event or an array of at most 50). A batch with any invalid
 * item is refused whole, naming the first invalid field (`[3].event_name`).
 */
export function parseCollectBody(body: unknown, now = Date.now()): IncomingEvent[] {
  if (Array.isArray(body)) {
    if (body.length > MAX_BATCH) {
      throw new ClientError(
        400,
        'batch_too_large',
        `at most ${MAX_BATCH} events per request`,
        null,
      );
    }
    if (body.length === 0) throw new ClientError(400, 'validation_error', 'empty batch', null);
    return body.map((item, i) => toIncoming(item, `[${i}].`, now));
  }
  return [toIncoming(body, '', now)];
}

/**
 * `POST /api/collect` and its alias `POST /e` (the Sparklytics payload). Answers 202 only after
 * Kafka acknowledged every event of the request; 409 naming the event_id when another request
 * is accepting the same event right now (retry: once it is stored, the retry is a duplicate
 * and answered 202); 503 with Retry-After when Kafka or Redis cannot take them in time.
 */
export const collectRoutes: FastifyPluginAsyncTypebox<IntakeDeps> = async (app, deps) => {
  const schema = {
    summary: 'Collect Sparklytics events (one object or an array of at most 50)',
    body: CollectBodySchema,
    response: {
      202: Type.Object({ ok: Type.Boolean() }),
      ...errorResponses(ErrorBodySchema, [400, 403, 409, 413, 429, 503]),
    },
  };
  for (const url of ['/api/collect', '/e']) {
    app.post(
      url,
      // Validation is ours (parseCollectBody): it refuses a batch naming `[i].field` with 400.
      { schema, validatorCompiler: () => (data: unknown) => ({ value: data }) },
      async (req, reply) => {
        const items = parseCollectBody(req.body);
        await intake(
          deps,
          requestMeta(req),
          items,
          (it) =>
            new ClientError(
              400,
              'unknown_website',
              'unknown website',
              `${it.fieldPrefix}website_id`,
            ),
        );
        return reply.status(202).send({ ok: true });
      },
    );
  }
};
