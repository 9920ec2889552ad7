import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';

/**
 * Validates requests with TypeBox's own compiler instead of Ajv. Bodies are checked as sent,
 * never coerced (with Ajv's `coerceTypes`, `"value": 5` in a `string | number` union would
 * become `"5"`, and `null` would become `0`); path and query strings are converted to the
 * declared types first, as they can only arrive as text. Errors carry the JSON pointer of the
 * offending value and a message phrased to follow the field name (`name is required`).
 */
export const typeBoxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Convert(schema, input);
    if (check.Check(value)) return { value };
    const first = check.Errors(value).First();
    return { error: first ? [toAjvLike(first)] : [] } as unknown as { error: Error };
  };
};

function toAjvLike(e: ValueError): {
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
} {
  const isRoot = e.path === '';
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return {
        instancePath: e.path,
        keyword: 'unknown',
        message: 'is not a known field',
        params: {},
      };
    case ValueErrorType.ObjectRequiredProperty:
      return { instancePath: e.path, keyword: 'required', message: 'is required', params: {} };
    default:
      return {
        instancePath: e.path,
        keyword: 'type',
        message: isRoot ? `must be ${describe(e)}` : `is invalid: ${e.message.toLowerCase()}`,
        params: {},
      };
  }
}

function describe(e: ValueError): string {
  return e.message.replace(/^Expected /, '').toLowerCase();
}
