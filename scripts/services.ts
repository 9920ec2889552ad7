import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How each service runs outside the tests: `node` on its compiled entry in dist/ (built by
 * `npm run build`), with the Node flags chosen for it. npm start (scripts/start.ts), the
 * benchmarks and the tests that run services as processes all start them from here, so what
 * is measured and tested is what runs in production.
 */
export const SERVICES = ['ingest', 'processor', 'api'] as const;

/** The repository root (with package.json), whether this file runs from source or from dist/. */
export const REPO_ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above scripts/services');
    dir = up;
  }
  return dir;
})();
export type Service = (typeof SERVICES)[number];

/**
 * Node flags per service (none today). Ingest ran with `--max-semi-space-size=4` for less RSS;
 * measured again with the binary encoding and produce batching, V8's default (16 MB) costs no
 * more peak RSS and cuts scavenging 2.7× (see ingest/README.md), so the default it is.
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<Service, readonly string[]>> = {
  ingest: [],
  processor: [],
  api: [],
};

/** `node` arguments that run `service` from the build under `root`. */
export function serviceArgs(root: string, service: Service): string[] {
  return [...SERVICE_NODE_FLAGS[service], join(root, 'dist', service, 'index.js')];
}

/** A TCP port on 127.0.0.1 that is free right now (for a service a test or bench starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
