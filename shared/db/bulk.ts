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

/** A value in COPY's text format: `\N` for null, backslash escapes for \, newline, CR, tab. */
function copyValue(v: unknown, type: string): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return String(v);
  const text =
    type === 'jsonb'
      ? JSON.stringify(v)
      : typeof v === 'string'
        ? v
        : v instanceof Date
          ? v.toISOString()
          : JSON.stringify(v);
  return /[\\\n\r\t]/.test(text)
    ? text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    : text;
}

/**
 * Inserts rows with `COPY … FROM STDIN` (text format): the fastest way in, as TimescaleDB
 * buffers COPY rows per chunk. There is no ON CONFLICT: a row that already exists fails the
 * whole statement (and its transaction) with a unique violation (SQLSTATE 23505), so callers
 * use it for rows that are new in the normal case and fall back to {@link bulkInsert} with
 * its conflict clause when it fails. Resolves to the number of rows copied.
 */
export async function bulkCopy<R extends object>(
  q: Queryable,
  tag: string,
  table: string,
  columns: ReadonlyArray<BulkColumn<R>>,
  rows: readonly R[],
): Promise<number> {
  if (rows.length === 0) return 0;
  let data = '';
  for (const r of rows) {
    const rec = r as Record<string, unknown>;
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      const [name, type] = columns[i]!;
      line += (i === 0 ? '' : '\t') + copyValue(rec[name], type);
    }
    data += `${line}\n`;
  }
  const names = columns.map(([n]) => n).join(', ');
  return q.copyIn(tag, `COPY ${table} (${names}) FROM STDIN`, data);
}

/** A unique violation: a COPY met a row that already exists (a replay). */
export const isUniqueViolation = (err: unknown): boolean =>
  (err as { code?: unknown } | null)?.code === '23505';
