import { Type, type Static } from '@sinclair/typebox';

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
export type ErrorBody = Static<typeof ErrorBodySchema>;
export type RybbitErrorBody = Static<typeof RybbitErrorBodySchema>;
