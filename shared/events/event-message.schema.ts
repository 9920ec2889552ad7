import { Type, type Static } from '@sinclair/typebox';
import { UUID_PATTERN, WEBSITE_ID_PATTERN } from '../ids.js';
import { EVENT_LIMITS } from './input-limits.js';

/**
 * The event as it travels through Kafka: produced by ingest, decoded by the processor. The
 * event time is fixed once at ingest (client timestamp or receive time) and never recomputed,
 * so a redelivered message maps to the same (event_id, event_time) row.
 */
export const EVENT_SCHEMA_VERSION = 1;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Str = (max = 2048) => Nullable(Type.String({ maxLength: max }));
const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$';

/**
 * Events the trackers capture on their own: `outbound` (`{url, text, target}`), `file_download`
 * (`{url, text}`, Goalpost's tracker), `button_click` (`{text, …}`), `copy` (`{text,
 * textLength?, sourceElement}`), `form_submit` (`{formId, formName, formAction, method,
 * fieldCount, …}`) and `input_change` (Rybbit's form interactions; no goal type matches it).
 * They are stored with their own type and properties, match goals of the same type, and are
 * not counted as pageviews or custom events.
 */
export const AUTOCAPTURE_EVENT_TYPES = [
  'outbound',
  'file_download',
  'button_click',
  'form_submit',
  'copy',
  'input_change',
] as const;

/** Every stored event type. */
export const EVENT_TYPES = [
  'pageview',
  'event',
  'performance',
  ...AUTOCAPTURE_EVENT_TYPES,
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EventMessageSchema = Type.Object({
  v: Type.Literal(EVENT_SCHEMA_VERSION),
  event_id: Type.String({ pattern: UUID_PATTERN }),
  /**
   * The event's position within its request (0 for a request of one): breaks ties in event
   * time, which the events of one request share when the client sent no timestamp. Absent in
   * messages of earlier ingest versions (read as 0).
   */
  seq: Type.Optional(Type.Integer({ minimum: 0, maximum: 32_767 })),
  event_time: Type.String({ pattern: ISO_TIME }),
  received_at: Type.String({ pattern: ISO_TIME }),
  website_id: Type.String({ pattern: WEBSITE_ID_PATTERN }),
  session_id: Type.String({ minLength: 1, maxLength: 200 }),
  visitor_id: Type.String({ minLength: 1, maxLength: 200 }),
  user_id: Str(200),
  /**
   * `performance` carries web-vitals samples in `properties` (lcp, cls, inp, fcp, ttfb); it is
   * stored but never counted as a pageview or a custom event, and never matches a goal.
   */
  type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
  event_name: Str(EVENT_LIMITS.eventName),
  hostname: Str(253),
  path: Str(EVENT_LIMITS.path),
  querystring: Str(),
  page_title: Str(),
  referrer: Str(),
  referrer_domain: Str(253),
  channel: Str(64),
  utm_source: Str(),
  utm_medium: Str(),
  utm_campaign: Str(),
  utm_term: Str(),
  utm_content: Str(),
  properties: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  browser: Str(64),
  os: Str(64),
  device: Str(32),
  screen_width: Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()]),
  language: Str(35),
  country: Str(2),
  region: Str(64),
  city: Str(128),
  /** 0–100; `is_bot` is this score judged against the website's bot policy at ingest. */
  bot_score: Type.Integer({ minimum: 0, maximum: 100 }),
  is_bot: Type.Boolean(),
});
export type EventMessage = Static<typeof EventMessageSchema>;
