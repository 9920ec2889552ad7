import { Type, type TLiteral, type TUnion } from '@sinclair/typebox';

/** A union of string literals, typed as such (for `as const` lists of allowed values). */
export const literals = <T extends readonly string[]>(
  values: T,
  options: { description?: string } = {},
) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as unknown as TUnion<Array<TLiteral<T[number]>>>;
