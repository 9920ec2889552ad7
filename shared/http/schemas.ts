import { Type } from '@sinclair/typebox';

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
