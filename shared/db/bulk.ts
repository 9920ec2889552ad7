import type { Queryable } from './pool.js';

/** A column of a bulk insert: its name and the PostgreSQL type of its array parameter. */
export type BulkColumn<R> = readonly [name: keyof R & string, pgType: string];

/**
 * Inserts many rows in one statement: one array parameter per column, zipped back into rows
 * by `unnest`, so N rows cost one round trip and a fixed-size statement (no 65k-parameter
 * limit, plan cached per table). `suffix` carries the ON CONFLICT clause.
 */
export async function bulkInsert<R extends object>(
  q: Queryable,
  tag: string,
  table: string,
  columns: ReadonlyArray<BulkColumn<R>>,
  rows: readonly R[],
  suffix: string,
): Promise<number> {
  if (rows.length === 0) return 0;
  const params = columns.map(([name, type]) =>
    rows.map((r) => {
      const v = (r as Record<string, unknown>)[name];
      if (v === undefined) return null;
      return type === 'jsonb' && v !== null ? JSON.stringify(v) : v;
    }),
  );
  const names = columns.map(([n]) => n).join(', ');
  const unnest = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  const res = await q.query(
    tag,
    `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${unnest}) ${suffix}`,
    params,
  );
  return res.rowCount ?? 0;
}
