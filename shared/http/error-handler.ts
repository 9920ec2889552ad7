import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { setFrameworkErrorHandler, type HttpApp } from './http-app.js';
import {
  ClientError,
  OverloadedError,
  RateLimitedError,
  TransientError,
} from '../errors/errors.js';
import type { ErrorBody, RybbitErrorBody, RybbitTrackErrorBody } from './error.schemas.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/property_filters/0/value` → `property_filters[0].value` (the field naming of the API). */
export function jsonPointerToField(pointer: string, prefix = ''): string | null {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = prefix;
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? null : out;
}

/** The field at fault in an Ajv error, including missing and unknown properties. */
export function fieldOfValidationError(e: AjvError): string | null {
  const base = jsonPointerToField(e.instancePath);
  const child =
    e.keyword === 'required'
      ? e.params.missingProperty
      : e.keyword === 'additionalProperties'
        ? e.params.additionalProperty
        : undefined;
  if (typeof child !== 'string') return base;
  return base === null ? child : `${base}.${child}`;
}

export type ErrorFormatter = (
  status: number,
  code: string,
  message: string,
  field: string | null,
) => unknown;

export const defaultErrorFormatter: ErrorFormatter = (_s, code, message, field): ErrorBody => ({
  error: { code, message, field },
});

/** The error body of ingest's `POST /api/track` (Rybbit's tracker endpoint). */
export const rybbitTrackErrorFormatter: ErrorFormatter = (
  _status,
  code,
  message,
  field,
): RybbitTrackErrorBody => ({ success: false, error: message, details: { code, field } });

/**
 * Turns every error into the documented body: ClientError as it says, schema violations as
 * 422 naming the field, malformed JSON as 400, dependency outages as 503; anything else is a
 * 500 whose details stay in the log.
 */
export function classifyError(err: FastifyError | Error): {
  status: number;
  code: string;
  message: string;
  field: string | null;
  headers?: Record<string, string>;
} {
  if (err instanceof RateLimitedError) {
    return {
      status: 429,
      code: err.code,
      message: err.message,
      field: null,
      headers: { 'retry-after': String(err.retryAfterSeconds) },
    };
  }
  if (err instanceof ClientError) {
    return { status: err.statusCode, code: err.code, message: err.message, field: err.field };
  }
  if ((err as { code?: unknown }).code === '57014') {
    // statement_timeout (or a cancelled query): the database is busy, the request may succeed
    // later. Never a 500, never the SQL.
    return {
      status: 503,
      code: 'query_timeout',
      message: 'the query took too long; retry later or narrow the range',
      field: null,
      headers: { 'retry-after': '10' },
    };
  }
  const fe = err as FastifyError & { validation?: AjvError[] };
  if (fe.validation && fe.validation.length > 0) {
    const first = fe.validation[0]!;
    const field = fieldOfValidationError(first);
    const what = field ?? fe.validationContext ?? 'request';
    return {
      status: 422,
      code: 'validation_error',
      message:
        first.keyword === 'additionalProperties'
          ? `unknown field ${what}`
          : `${what} ${first.message ?? 'is invalid'}`,
      field,
    };
  }
  if (
    fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    (fe.statusCode === 400 && err instanceof SyntaxError)
  ) {
    return { status: 400, code: 'bad_request', message: 'malformed JSON body', field: null };
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      status: 413,
      code: 'payload_too_large',
      message: 'request body too large',
      field: null,
    };
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return { status: 400, code: 'bad_request', message: fe.message, field: null };
  }
  if (err instanceof OverloadedError) {
    return {
      status: 503,
      code: 'overloaded',
      message: err.message,
      field: null,
      headers: { 'retry-after': String(err.retryAfterSeconds) },
    };
  }
  if (err instanceof TransientError) {
    return {
      status: 503,
      code: 'unavailable',
      message: 'temporarily unavailable, retry later',
      field: null,
      headers: { 'retry-after': '5' },
    };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: 'bad_request', message: fe.message, field: null };
  }
  if (fe.code === '2201B') {
    // PostgreSQL refused a regular expression (invalid_regular_expression). Regex filters are
    // rendered by our own parser and never should be; if one is, it is the request's pattern.
    return {
      status: 422,
      code: 'validation_error',
      message: 'invalid regular expression',
      field: null,
    };
  }
  return { status: 500, code: 'internal_error', message: 'internal error', field: null };
}

/**
 * A per-request error dialect: how the body looks, and optionally a different status for a
 * classified error (Rybbit answers validation failures with 400 where Sparklytics uses 422).
 */
export interface ErrorDialect {
  format: ErrorFormatter;
  status?: (status: number, code: string) => number;
}

/**
 * The Rybbit dialect: validation (including duplicates and the goal limit) is a 400 whose
 * `details` names the field at fault; other errors carry only the message.
 */
export const rybbitErrorDialect: ErrorDialect = {
  status: (status) => (status === 422 ? 400 : status),
  format: (status, _code, message, field): RybbitErrorBody =>
    field === null || status !== 400
      ? { error: message }
      : { error: message, details: [{ field, message }] },
};

/**
 * The Rybbit dialect of the goal bodies (create, update, preview): a body its schema or the
 * goal rules refuse is `{"error":"Validation error","details":[{field, message}]}`, as Rybbit's
 * own validation answers; other refusals (a duplicate name, the goal limit) keep their message.
 */
export const rybbitGoalBodyErrorDialect: ErrorDialect = {
  status: rybbitErrorDialect.status!,
  format: (status, code, message, field) =>
    status === 400 && code === 'validation_error' && field !== null
      ? { error: 'Validation error', details: [{ field, message }] }
      : rybbitErrorDialect.format(status, code, message, field),
};

export function installErrorHandler(
  app: HttpApp,
  format: (req: FastifyRequest) => ErrorFormatter | ErrorDialect = () => defaultErrorFormatter,
): void {
  const dialectOf = (req: FastifyRequest): ErrorDialect => {
    const d = format(req);
    return typeof d === 'function' ? { format: d } : d;
  };
  const handle = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const c = classifyError(err);
    // Shed requests are expected under overload and counted by the service's metrics: a log
    // line with a stack for each would add work exactly when there is too much.
    if (c.status >= 500 && !(err instanceof OverloadedError)) {
      req.log.error({ err }, 'request_failed');
    }
    if (c.headers) void reply.headers(c.headers);
    const d = dialectOf(req);
    const status = d.status ? d.status(c.status, c.code) : c.status;
    return reply.status(status).send(d.format(status, c.code, c.message, c.field));
  };
  app.setErrorHandler(handle);
  setFrameworkErrorHandler(app, (err, req, reply) => void handle(err, req, reply));
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send(
        dialectOf(req).format(404, 'not_found', `route ${req.method} ${req.url} not found`, null),
      ),
  );
}
