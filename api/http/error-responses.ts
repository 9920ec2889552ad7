import { ErrorBodySchema, RybbitErrorBodySchema } from '../../shared/http/error.schemas.js';

/** The error responses every Sparklytics-dialect route declares (`{error: {code, message, field}}`). */
export const sparklyticsErrors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  422: ErrorBodySchema,
};

/** The error responses every Rybbit-dialect route declares (`{error, details?}`; 400 for input). */
export const rybbitErrors = {
  400: RybbitErrorBodySchema,
  401: RybbitErrorBodySchema,
  403: RybbitErrorBodySchema,
  404: RybbitErrorBodySchema,
};
