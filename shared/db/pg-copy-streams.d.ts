// The parts of pg-copy-streams 7 Goalpost uses (the package ships no types): the processor's
// COPY path (shared/db/pool.ts) and the processor benchmark's baseline.
declare module 'pg-copy-streams' {
  import type { Readable, Writable } from 'node:stream';
  import type { Submittable } from 'pg';
  export function from(sql: string): Writable & Submittable;
  export function to(sql: string): Readable & Submittable;
}
