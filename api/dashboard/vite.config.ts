import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/**
 * The dashboard's build: `npm run build:dashboard` (a step of `npm run build`) writes
 * `api/dashboard/dist/`, which the API serves at `/app/` (api/routes/dashboard.route.ts); the
 * build copies it beside the compiled API (`dist/api/dashboard/dist/`). No framework plugin:
 * Vite 8's own Oxc transform compiles JSX for Preact's automatic runtime.
 */
export const DASHBOARD_OUT_DIR = join(import.meta.dirname, 'dist');

/** Writes `.gz` and `.br` beside every asset, which the API sends to clients that accept them. */
function precompress(): Plugin {
  let outDir = DASHBOARD_OUT_DIR;
  return {
    name: 'goalpost-precompress',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    closeBundle() {
      const assets = join(outDir, 'assets');
      for (const f of readdirSync(assets)) {
        if (!/\.(js|css|svg)$/.test(f)) continue;
        const body = readFileSync(join(assets, f));
        writeFileSync(join(assets, `${f}.gz`), gzipSync(body, { level: 9 }));
        writeFileSync(
          join(assets, `${f}.br`),
          brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/app/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [precompress()],
  build: {
    outDir: DASHBOARD_OUT_DIR,
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
