/**
 * How ingest runs outside the tests: one esbuild bundle on plain node, with a smaller young
 * generation. Used by `npm start` (scripts/start.ts) and by `npm run bench:ingest`, so the
 * benchmark measures what starts.
 *
 * - The bundle (dependencies stay in node_modules) spares tsx's loader thread and compiler,
 *   about 45 MB of RSS. It is written one level below ingest/, so that package imports and
 *   ingest's own `import.meta.url`-relative files (`../public/script.js`) still resolve.
 * - `--max-semi-space-size=4` caps V8's young generation at 4 MB per semi-space (V8's default
 *   is 16 MB): about 30–50 MB less RSS under load, for more frequent, shorter scavenges
 *   (see ingest/README.md).
 *
 * The processor and the API still run under tsx: their migrations and CLI commands are read
 * relative to their source files.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const INGEST_NODE_FLAGS = ['--max-semi-space-size=4'] as const;

/** Bundles ingest/index.ts into `<root>/ingest/<dirName>/index.mjs` and returns that path. */
export function bundleIngest(root: string, dirName = '.build'): string {
  const out = join(root, 'ingest', dirName, 'index.mjs');
  execFileSync(
    join(root, 'node_modules/.bin/esbuild'),
    [
      join(root, 'ingest/index.ts'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      '--packages=external',
      `--outfile=${out}`,
      '--log-level=warning',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  return out;
}
