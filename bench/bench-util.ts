import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from '../shared/redis/redis.js';

export { freePort } from '../scripts/services.js';

/** Fields of /proc/<pid>/stat after the command name, or null when the process is gone. */
function statFields(pid: number): string[] | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return f.slice(f.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc; 0 when it is gone. */
export function cpuSeconds(pid: number | null | undefined): number {
  const parts = pid ? statFields(pid) : null;
  if (!parts) return 0;
  return (Number(parts[11]) + Number(parts[12])) / 100; // utime + stime, in clock ticks
}

/** Every live process's parent, from one scan of /proc. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const parts = statFields(Number(d));
    if (parts) out.set(Number(d), Number(parts[1]));
  }
  return out;
}

/** `pid` and its live descendants. */
export function processTree(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const [child, parent] of parents()) {
    byParent.set(parent, [...(byParent.get(parent) ?? []), child]);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(byParent.get(p) ?? []));
  }
  return out;
}

/**
 * CPU seconds of a server that forks (PostgreSQL's postmaster and its backends, Redis and its
 * rewrite children): the root's own time, the time of its children that exited (which the
 * kernel adds to the root's cutime/cstime when it reaps them), and that of its live
 * descendants. 0 when the root is gone.
 */
export function treeCpuSeconds(pid: number | null | undefined): number {
  const root = pid ? statFields(pid) : null;
  if (!root) return 0;
  let ticks = Number(root[11]) + Number(root[12]) + Number(root[13]) + Number(root[14]);
  for (const p of processTree(pid!).slice(1)) {
    const parts = statFields(p);
    if (parts) ticks += Number(parts[11]) + Number(parts[12]);
  }
  return ticks / 100;
}

/** Busy CPU seconds of the whole machine so far (all but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
  const n = f.map(Number);
  return (n.reduce((a, b) => a + b, 0) - n[3]! - n[4]!) / 100;
}

/** Resident memory of a process now and at its peak (VmRSS, VmHWM), in whole MB; 0 when gone. */
export function rssMb(pid: number | null | undefined): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/**
 * Memory of a group of processes that share pages (PostgreSQL's shared buffers), in MB: the
 * sum of their proportional set sizes (Pss), which counts each shared page once in all,
 * where a sum of RSS would count it once per process.
 */
export function pssMb(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      /* exited, or not ours to read */
    }
  }
  return kb / 1024;
}

/** The process listening on a TCP port of this machine (per `ss`), or null. */
export function pidListeningOn(port: number): number | null {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Deletes what a bench's run left in Redis: keys that name one of its websites (ingest's
 * `gp:sess:<site>:…` and `gp:eid:<site>:…`, the goal cache's and live feed's
 * `goalpost:…:<site>…`) and every key under its BullMQ prefix.
 */
export async function deleteBenchKeys(
  redis: Redis,
  websiteIds: Iterable<string>,
  bullmqPrefix: string,
): Promise<void> {
  const ours = new Set(websiteIds);
  for (const match of ['gp:*', 'goalpost:*', `${bullmqPrefix}:*`]) {
    for await (const keys of redis.scanStream({ match, count: 1000 })) {
      const mine = (keys as string[]).filter(
        (k) => k.startsWith(`${bullmqPrefix}:`) || k.split(':').some((part) => ours.has(part)),
      );
      if (mine.length > 0) await redis.unlink(...mine);
    }
  }
}

/** A whole number with thousands separators (`12,345`). */
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Waits until `url` answers below 500 (a POST sends `{}`), polling every 200 ms; `check` runs
 * between attempts and may throw to stop waiting (for example when the server died).
 */
export async function waitHttp(
  url: string,
  method = 'GET',
  timeoutMs = 30_000,
  check: () => void = () => undefined,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'POST' ? '{}' : null,
    }).then(
      (r) => r.status,
      () => 0, // not listening yet
    );
    if (status > 0 && status < 500) return;
    check();
    if (performance.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
