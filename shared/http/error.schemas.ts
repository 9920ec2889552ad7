import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The error bodies of every dialect the services answer in, each with its TypeBox schema (the
 * types are `Static<>` of them); the formatters that write them are in `error-handler.ts`.
 */

/** `{error: {code, message, field}}`: every 4xx/5xx of the management and statistics API. */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      field: Type.Union([Type.String(), Type.Null()]),
    }),
  },
  { $id: 'ErrorBody' },
);

/** `{error, details?}`: the error body of the Rybbit-dialect routes. */
export const RybbitErrorBodySchema = Type.Object(
  {
    error: Type.String(),
    details: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
    ),
  },
  { $id: 'RybbitErrorBody' },
);

/**
 * `{success: false, error, details}`: the error body of ingest's `POST /api/track` (Rybbit's
 * tracker endpoint), `details` being `{code, field}`.
 */
export const RybbitTrackErrorBodySchema = Type.Object({
  success: Type.Literal(false),
  error: Type.String(),
  details: Type.Optional(Type.Unknown()),
});

export type ErrorBody = Static<typeof ErrorBodySchema>;
export type RybbitErrorBody = Static<typeof RybbitErrorBodySchema>;
export type RybbitTrackErrorBody = Static<typeof RybbitTrackErrorBodySchema>;

/** The `response` entries of a route's error statuses, all with one dialect's body `schema`. */
export function errorResponses<S extends TSchema, C extends number>(
  schema: S,
  statuses: readonly C[],
): Record<C, S> {
  return Object.fromEntries(statuses.map((s) => [s, schema])) as Record<C, S>;
}
