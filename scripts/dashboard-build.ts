/**
 * Builds the dashboard (api/dashboard/, Vite) into `dist/dashboard/` or another folder. Used by
 * `npm start` when the build is missing (scripts/start.ts) and by the dashboard's browser tests,
 * which build the current source into a folder of their own. `npm run build:dashboard` runs
 * the same Vite command.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const dashboardOutDir = (root: string) => join(root, 'dist', 'dashboard');

export function buildDashboard(root: string, outDir = dashboardOutDir(root)): string {
  execFileSync(
    join(root, 'node_modules/.bin/vite'),
    [
      'build',
      '--config',
      join(root, 'api/dashboard/vite.config.ts'),
      '--outDir',
      outDir,
      '--emptyOutDir',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  return outDir;
}

/** Builds the dashboard unless `dist/dashboard/index.html` exists. */
export function ensureDashboardBuilt(root: string): void {
  if (!existsSync(join(dashboardOutDir(root), 'index.html'))) buildDashboard(root);
}
