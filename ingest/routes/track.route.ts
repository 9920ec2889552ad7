import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import { ClientError } from '../../shared/errors/errors.js';
import { errorResponses, RybbitTrackErrorBodySchema } from '../../shared/http/error.schemas.js';
import { UUID_PATTERN } from '../../shared/ids.js';
import { EVENT_LIMITS, NO_NUL_PATTERN } from '../../shared/events/input-limits.js';
import { AUTOCAPTURE_EVENT_TYPES } from '../../shared/events/event-message.js';
import type { RawEvent } from '../enrichment/enrich.js';
import { intake, type IncomingEvent, type IntakeDeps } from '../intake/intake.js';
import { requestMeta } from '../http/request-meta.js';
import {
  compileCheck,
  isPlainObject,
  parseTimestamp,
  screenWidthOf,
  utmOf,
} from './payload.parse.js';

const OptStr = (max: number) =>
  Type.Optional(Type.Union([Type.String({ maxLength: max }), Type.Null()]));
const Vital = () => Type.Optional(Type.Union([Type.Number(), Type.Null()]));
const VITALS = ['lcp', 'cls', 'inp', 'fcp', 'ttfb'] as const;

/**
 * One Rybbit event as the Rybbit tracker sends it (`site_id` numeric as number or string, or a
 * `site_…` id; pageviews carry `event_name: ""`). Unknown fields are ignored, never refused.
 */
export const RybbitEventSchema = Type.Object({
  site_id: Type.Union([
    Type.String({ minLength: 1, maxLength: 64 }),
    Type.Integer({ minimum: 0, maximum: 999_999_999_999_999 }),
  ]),
  type: Type.Optional(
    Type.Union([
      Type.Literal('pageview'),
      Type.Literal('custom_event'),
      Type.Literal('outbound'),
      Type.Literal('performance'),
      ...AUTOCAPTURE_EVENT_TYPES.filter((t) => t !== 'outbound').map((t) => Type.Literal(t)),
    ]),
  ),
  hostname: OptStr(253),
  pathname: OptStr(EVENT_LIMITS.path),
  querystring: OptStr(EVENT_LIMITS.querystring),
  referrer: OptStr(8192),
  page_title: OptStr(2048),
  event_name: OptStr(EVENT_LIMITS.eventName),
  properties: OptStr(2048),
  user_id: Type.Optional(
    Type.Union([
      Type.String({ maxLength: EVENT_LIMITS.clientId, pattern: NO_NUL_PATTERN }),
      Type.Null(),
    ]),
  ),
  screenWidth: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  screenHeight: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
  language: OptStr(100),
  api_key: OptStr(200),
  lcp: Vital(),
  cls: Vital(),
  inp: Vital(),
  fcp: Vital(),
  ttfb: Vital(),
  // Goalpost's tracker (Rybbit face) repeats the landing campaign on later SPA pages.
  utm_source: OptStr(2048),
  utm_medium: OptStr(2048),
  utm_campaign: OptStr(2048),
  utm_term: OptStr(2048),
  utm_content: OptStr(2048),
  event_id: Type.Optional(Type.String({ pattern: UUID_PATTERN })),
  timestamp: Type.Optional(Type.Union([Type.String({ maxLength: 40 }), Type.Number()])),
});
type RybbitEvent = Static<typeof RybbitEventSchema>;

const check = compileCheck(RybbitEventSchema);

function parseProperties(e: RybbitEvent): Record<string, unknown> | null {
  if (e.properties === undefined || e.properties === null || e.properties.trim() === '') {
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(e.properties);
  } catch {
    throw new ClientError(
      400,
      'validation_error',
      'properties must be a JSON object string',
      'properties',
    );
  }
  if (!isPlainObject(parsed)) {
    throw new ClientError(
      400,
      'validation_error',
      'properties must be a JSON object string',
      'properties',
    );
  }
  return parsed;
}

/** Rybbit's refusal of an autocapture event whose properties break its rules. */
const invalidPayload = (field: string) =>
  new ClientError(400, 'invalid_payload', 'Invalid payload', field);

const isAbsoluteUrl = (v: unknown): boolean => {
  if (typeof v !== 'string') return false;
  try {
    return /^[a-z][a-z0-9+.-]*:$/i.test(new URL(v).protocol);
  } catch {
    return false;
  }
};

/**
 * The properties of an autocapture event, checked by the rules of Rybbit's collector: copy needs
 * a string `sourceElement`; form_submit strings `formId`, `formName`, `formAction`, `method` and
 * a `fieldCount` (when sent) that is a number ≥ 0; outbound (and Goalpost's file_download) an
 * absolute `url`. Refusals are 400 `{success: false, error: "Invalid payload", details}` naming
 * the property.
 */
function autocaptureProperties(
  type: (typeof AUTOCAPTURE_EVENT_TYPES)[number],
  e: RybbitEvent,
): Record<string, unknown> | null {
  const props = parseProperties(e);
  const p = props ?? {};
  switch (type) {
    case 'copy':
      if (typeof p.sourceElement !== 'string') throw invalidPayload('properties.sourceElement');
      break;
    case 'form_submit':
      for (const k of ['formId', 'formName', 'formAction', 'method']) {
        if (typeof p[k] !== 'string') throw invalidPayload(`properties.${k}`);
      }
      if (p.fieldCount !== undefined && !(typeof p.fieldCount === 'number' && p.fieldCount >= 0)) {
        throw invalidPayload('properties.fieldCount');
      }
      break;
    case 'outbound':
    case 'file_download':
      if (!isAbsoluteUrl(p.url)) throw invalidPayload('properties.url');
      break;
    default:
      break;
  }
  return props;
}

/** Validates and normalizes a Rybbit body into the common event shape. */
export function parseTrackBody(body: unknown, now = Date.now()): IncomingEvent {
  if (!isPlainObject(body)) {
    throw new ClientError(400, 'validation_error', 'the body must be a JSON object', null);
  }
  check(body, '');
  const e = body as RybbitEvent;
  const type = e.type ?? 'pageview';
  const name = (e.event_name ?? '').trim();
  let raw: Pick<RawEvent, 'type' | 'eventName' | 'properties'>;
  switch (type) {
    case 'pageview':
      raw = { type: 'pageview', eventName: null, properties: null };
      break;
    case 'custom_event':
      if (name === '') {
        throw new ClientError(
          400,
          'validation_error',
          'event_name is required for custom events',
          'event_name',
        );
      }
      raw = { type: 'event', eventName: name, properties: parseProperties(e) };
      break;
    case 'outbound':
    case 'file_download':
    case 'button_click':
    case 'form_submit':
    case 'copy':
    case 'input_change':
      // Stored with their own type (before issue 16, outbound clicks were custom events named
      // `outbound`; those rows stay and keep matching event goals of that name).
      raw = { type, eventName: null, properties: autocaptureProperties(type, e) };
      break;
    case 'performance': {
      const vitals: Record<string, number | null> = {};
      for (const k of VITALS) vitals[k] = typeof e[k] === 'number' ? e[k] : null;
      raw = { type: 'performance', eventName: null, properties: vitals };
      break;
    }
  }
  const host = (e.hostname ?? '').trim();
  let path = e.pathname ?? '/';
  if (!path.startsWith('/')) path = `/${path}`;
  let query = e.querystring ?? '';
  if (query !== '' && !query.startsWith('?')) query = `?${query}`;
  return {
    websiteRef: e.site_id,
    clientId: e.user_id?.trim() || null,
    eventId: e.event_id ?? null,
    timestampMs: parseTimestamp(e.timestamp, 'timestamp', now),
    fieldPrefix: '',
    raw: {
      ...raw,
      url: host === '' ? `${path}${query}` : `https://${host}${path}${query}`,
      referrer: e.referrer?.trim() || null,
      pageTitle: e.page_title ?? null,
      utm: utmOf(e),
      screenWidth: screenWidthOf(e.screenWidth, null),
      language: e.language ?? null,
    },
  };
}

/**
 * `POST /api/track`: the Rybbit payload. Answers 200 `{success: true}` only after Kafka
 * acknowledged the event; errors use Rybbit's shape `{success: false, error, details}`
 * (`rybbitTrackErrorFormatter`, shared/http), unknown site → 404. An `api_key` replaces the Origin check only when
 * it is an active `collect` key that may send for the site; any other key → 403.
 */
export const trackRoutes: FastifyPluginAsyncTypebox<IntakeDeps> = async (app, deps) => {
  app.post(
    '/api/track',
    {
      schema: {
        summary: 'Collect one Rybbit event',
        body: RybbitEventSchema,
        response: {
          200: Type.Object({ success: Type.Literal(true) }),
          ...errorResponses(RybbitTrackErrorBodySchema, [400, 403, 404, 409, 413, 429, 503]),
        },
      },
      validatorCompiler: () => (data: unknown) => ({ value: data }),
    },
    async (req, reply) => {
      const item = parseTrackBody(req.body);
      // Validated by parseTrackBody: a string, null or absent.
      const apiKey = (req.body as { api_key?: string | null }).api_key ?? null;
      await intake(
        deps,
        requestMeta(req, apiKey),
        [item],
        () => new ClientError(404, 'unknown_website', 'Site not found', 'site_id'),
      );
      return reply.status(200).send({ success: true });
    },
  );
};
