/**
 * The container image's HEALTHCHECK (deploy/container/Dockerfile): finds which service this
 * container runs (the `node …/dist/<service>/index.js` process working in this directory, the
 * image's /app), reads that service's port from
 * its own config schema (same variables, same defaults as the service), and asks its `/health`
 * then `/ready` on loopback. Exit 0 when both answer 200, else 1. Ingest and the API answer on
 * their public port; the processor, which has no public port, on its metrics listener.
 * A container running `migrate` or `cli` has no health to check and passes.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ApiConfigSchema } from '../api/config.js';
import { IngestConfigSchema } from '../ingest/config.js';
import { ProcessorConfigSchema } from '../processor/config.js';
import { loadConfig } from '../shared/config/load-config.js';
import { SERVICES, type Service } from './services.js';

/** The service run from this working directory (the image's /app): its `node` process. */
function runningService(): Service | null {
  const here = process.cwd();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline = '';
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) !== here) continue;
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue; // exited meanwhile, or another user's
    }
    const m = /(?:^|[\s/])dist\/(\w+)\/index\.js\b/.exec(cmdline);
    if (m && (SERVICES as readonly string[]).includes(m[1]!)) return m[1] as Service;
  }
  return null;
}

/** Where the service answers /health and /ready (loopback: the check runs in its container). */
export function healthPort(service: Service, env?: Record<string, string | undefined>): number {
  switch (service) {
    case 'ingest':
      return loadConfig(IngestConfigSchema, env).INGEST_PORT;
    case 'api':
      return loadConfig(ApiConfigSchema, env).API_PORT;
    case 'processor':
      return loadConfig(ProcessorConfigSchema, env).METRICS_PORT;
  }
}

async function ok(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

const service = runningService();
if (service !== null) {
  const base = `http://127.0.0.1:${healthPort(service)}`;
  const healthy = (await ok(`${base}/health`)) && (await ok(`${base}/ready`));
  if (!healthy) process.stderr.write(`${service} at ${base}: not healthy or not ready\n`);
  process.exitCode = healthy ? 0 : 1;
}
