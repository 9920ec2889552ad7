import type { FastifyRequest } from 'fastify';
import { validationError } from '../../shared/errors/errors.js';

/**
 * PostgreSQL text cannot hold U+0000: a NUL anywhere in a path parameter, the query string or
 * the body would reach the database as an error (500). Every API route refuses it up front
 * with a validation error naming the field (422, or 400 in the Rybbit dialect), whatever the
 * route does with the value.
 */
export function refuseNul(req: FastifyRequest): void {
  for (const [part, value] of [
    ['params', req.params],
    ['query', req.query],
    ['body', req.body],
  ] as const) {
    const field = nulField(value, '', 0);
    if (field !== null) {
      throw validationError(
        'text must not contain the NUL character (U+0000)',
        field === '' ? part : field,
      );
    }
  }
}

/** The path of the first string (or key) holding a NUL, `''` for the value itself, or null. */
function nulField(v: unknown, path: string, depth: number): string | null {
  if (typeof v === 'string') return v.includes('\u0000') ? path : null;
  if (v === null || typeof v !== 'object' || depth > 32) return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const f = nulField(v[i], `${path}[${i}]`, depth + 1);
      if (f !== null) return f;
    }
    return null;
  }
  for (const [k, x] of Object.entries(v)) {
    const at = path === '' ? k : `${path}.${k}`;
    if (k.includes('\u0000')) return at;
    const f = nulField(x, at, depth + 1);
    if (f !== null) return f;
  }
  return null;
}
