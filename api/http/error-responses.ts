import {
  ErrorBodySchema,
  errorResponses,
  RybbitErrorBodySchema,
} from '../../shared/http/error.schemas.js';

/** The error responses every Sparklytics-dialect route declares (`{error: {code, message, field}}`). */
export const sparklyticsErrors = errorResponses(ErrorBodySchema, [400, 401, 403, 404, 422]);

/** The error responses every Rybbit-dialect route declares (`{error, details?}`; 400 for input). */
export const rybbitErrors = errorResponses(RybbitErrorBodySchema, [400, 401, 403, 404]);
