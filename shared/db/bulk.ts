import type { QueryResult, QueryResultRow } from 'pg';
import type { Queryable } from './pool.js';

/** A column of a bulk insert: its name and the PostgreSQL type of its array parameter. */
export type BulkColumn<R> = readonly [name: keyof R & string, pgType: string];

/**
 * Inserts many rows in one statement: one array parameter per column, zipped back into rows
 * by `unnest`, so N rows cost one round trip and a fixed-size statement (no 65k-parameter
 * limit, plan cached per table). `suffix` carries the ON CONFLICT (and RETURNING) clauses.
 */
function unnestInsert<R extends object, T extends QueryResultRow>(
  q: Queryable,
  tag: string,
  table: string,
  columns: ReadonlyArray<BulkColumn<R>>,
  rows: readonly R[],
  suffix: string,
): Promise<QueryResult<T>> {
  const params = columns.map(([name, type]) =>
    rows.map((r) => {
      const v = (r as Record<string, unknown>)[name];
      if (v === undefined) return null;
      return type === 'jsonb' && v !== null ? JSON.stringify(v) : v;
    }),
  );
  const names = columns.map(([n]) => n).join(', ');
  const unnest = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return q.query<T>(
    tag,
    `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${unnest}) ${suffix}`,
    params,
  );
}

/** Bulk insert; resolves to the number of rows inserted. */
export async function bulkInsert<R extends object>(
  q: Queryable,
  tag: string,
  table: string,
  columns: ReadonlyArray<BulkColumn<R>>,
  rows: readonly R[],
  suffix: string,
): Promise<number> {
  if (rows.length === 0) return 0;
  return (await unnestInsert(q, tag, table, columns, rows, suffix)).rowCount ?? 0;
}

/** Bulk insert whose `suffix` ends in RETURNING; resolves to the rows it returned. */
export async function bulkInsertReturning<R extends object, T extends QueryResultRow>(
  q: Queryable,
  tag: string,
  table: string,
  columns: ReadonlyArray<BulkColumn<R>>,
  rows: readonly R[],
  suffix: string,
): Promise<T[]> {
  if (rows.length === 0) return [];
  return (await unnestInsert<R, T>(q, tag, table, columns, rows, suffix)).rows;
}
