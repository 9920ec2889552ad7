/**
 * Builds the dashboard (api/dashboard/, Vite) into `api/dashboard/dist/` or another folder. Used
 * by the dashboard's browser tests, which build the current source into a folder of their own;
 * `npm run build` runs the same Vite command (`npm run build:dashboard`).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const dashboardOutDir = (root: string) => join(root, 'api', 'dashboard', 'dist');

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
