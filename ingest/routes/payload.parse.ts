import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ClientError } from '../../shared/errors/errors.js';
import { jsonPointerToField } from '../../shared/http/error-handler.js';

export const MAX_AGE_MS = 30 * 86_400_000;
export const MAX_AHEAD_MS = 5 * 60_000;

/** A compiled TypeBox check that throws ClientError 400 naming the field (`[3].event_name`). */
export function compileCheck<T extends TSchema>(schema: T) {
  const checker = TypeCompiler.Compile(schema);
  return (value: unknown, prefix: string): void => {
    if (checker.Check(value)) return;
    const first = checker.Errors(value).First();
    const path = first?.path ?? '';
    const field =
      jsonPointerToField(path, prefix.replace(/\.$/, '')) ?? (prefix.replace(/\.$/, '') || null);
    throw new ClientError(
      400,
      'validation_error',
      `${field ?? 'body'}: ${first?.message ?? 'is invalid'}`,
      field,
    );
  };
}

/**
 * A client timestamp (ISO 8601 with zone, or epoch milliseconds) as epoch ms; undefined/null →
 * null ("now"). At most 30 days old and 5 minutes ahead, else 400 on the `timestamp` field.
 */
export function parseTimestamp(v: unknown, field: string, now = Date.now()): number | null {
  if (v === undefined || v === null) return null;
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /^\d{10,14}$/.test(v)) ms = Number(v);
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/i.test(v))
    ms = Date.parse(v);
  else
    throw new ClientError(400, 'validation_error', `${field} must be ISO 8601 or epoch ms`, field);
  if (!Number.isFinite(ms)) {
    throw new ClientError(400, 'validation_error', `${field} is not a valid time`, field);
  }
  ms = Math.floor(ms);
  if (ms < now - MAX_AGE_MS || ms > now + MAX_AHEAD_MS) {
    throw new ClientError(
      400,
      'validation_error',
      `${field} must be at most 30 days old and 5 minutes ahead`,
      field,
    );
  }
  return ms;
}

/** A screen width from a number or `"1280x720"`; anything else → null. */
export function screenWidthOf(width: unknown, screen: unknown): number | null {
  if (typeof width === 'number' && Number.isFinite(width) && width >= 0 && width <= 100_000) {
    return Math.round(width);
  }
  if (typeof screen === 'string') {
    const m = /^(\d{1,6})\s*[x×]\s*\d{1,6}$/.exec(screen.trim());
    if (m) return Math.min(Number(m[1]), 100_000);
  }
  return null;
}

/** Byte length of a value's JSON form. */
export const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The campaign fields both payloads carry as `utm_*`. */
export function utmOf(e: {
  utm_source?: string | null;
  utm_medium?: string | null;
  utm_campaign?: string | null;
  utm_term?: string | null;
  utm_content?: string | null;
}) {
  return {
    source: e.utm_source,
    medium: e.utm_medium,
    campaign: e.utm_campaign,
    term: e.utm_term,
    content: e.utm_content,
  };
}
