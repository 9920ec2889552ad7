/**
 * Whether `err` is PostgreSQL's error `sqlstate` raised by `constraint` (a unique index, a
 * check, or a trigger that names its constraint).
 */
export function isConstraintError(err: unknown, sqlstate: string, constraint: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === sqlstate && e.constraint === constraint;
}
