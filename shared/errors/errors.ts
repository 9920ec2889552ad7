/**
 * Errors that say whether retrying can help. Fastify's error handler and the Kafka loop
 * decide what to do from the class, never from message text.
 */

/** A client sent something we refuse; maps to a 4xx with the documented JSON body. */
export class ClientError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** The field at fault (`[3].event_name`, `property_filters[0].value`), or null. */
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** A limit was reached: 429 with `Retry-After` (seconds). */
export class RateLimitedError extends ClientError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', message, null);
    this.name = 'RateLimitedError';
  }
}

export const notFound = (what: string, field: string | null = null) =>
  new ClientError(404, 'not_found', `${what} not found`, field);
export const validationError = (message: string, field: string | null) =>
  new ClientError(422, 'validation_error', message, field);
export const unauthorized = () =>
  new ClientError(401, 'unauthorized', 'a valid API key is required', null);
export const forbidden = (message = 'this API key may not access this website') =>
  new ClientError(403, 'forbidden', message, null);

/** Temporary failure of a dependency (database, Redis, Kafka): retry later. */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** The service is past what it can serve well: 503 with `Retry-After` (seconds), early and cheap. */
export class OverloadedError extends TransientError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'OverloadedError';
  }
}

/** A message or job that can never succeed, however often it is retried. */
export class PermanentError extends Error {
  constructor(
    message: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PermanentError';
  }
}
