// @ts-check
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Where code may import from (the four rooms: ingest, processor, api on top of shared):
 * - a service (ingest, processor, api) imports its own files and shared/, never another service;
 * - shared/ never imports a service, and its folders import downward only, by these layers
 *   (a folder may import its own layer's files only from itself);
 * - the dashboard's browser code (api/dashboard/src/, .ts and .tsx) imports only its own files:
 *   it runs in the browser, so no service or shared/ code (nor their types, which reach the
 *   server's: pg, Node) may enter its bundle;
 * - test/, bench/ and scripts/ may import anything.
 */
const SERVICES = ['ingest', 'processor', 'api'];
const SHARED_LAYERS = [
  ['errors', 'config', 'logger', 'ids'],
  ['goals', 'events', 'redis', 'kafka', 'http', 'process'],
  ['matching'],
  ['db'],
  ['auth', 'cache', 'live', 'jobs'],
];
const layerOf = (folder) => SHARED_LAYERS.findIndex((l) => l.includes(folder));

const DASHBOARD_SRC = path.join(import.meta.dirname, 'api', 'dashboard', 'src');
const inDashboard = (absPath) => !path.relative(DASHBOARD_SRC, absPath).startsWith('..');

/**
 * `shared/db/pool.ts` → {room: 'shared', folder: 'db'}; null outside the rooms. The dashboard's
 * browser code is in the api room, marked `browser`.
 */
function placeOf(absPath) {
  const rel = path.relative(import.meta.dirname, absPath).split(path.sep);
  if (inDashboard(absPath)) return { room: 'api', folder: 'dashboard', browser: true };
  // A file at the top of shared/ (logger.ts, ids.ts) is a folder of its own.
  if (rel[0] === 'shared')
    return { room: 'shared', folder: rel[1]?.replace(/(\.test)?\.[jt]s$/, '') };
  if (SERVICES.includes(rel[0])) return { room: rel[0], folder: rel[1] };
  return null;
}

/** Why `from` may not import `to`, or null when it may. */
function violation(from, to) {
  if (from?.browser && !to?.browser) {
    return 'the dashboard (api/dashboard/src/) runs in the browser and imports only its own files';
  }
  if (from === null || to === null) return null;
  if (from.room !== 'shared') {
    return to.room === 'shared' || to.room === from.room
      ? null
      : `${from.room}/ imports from shared/ only, never from ${to.room}/`;
  }
  if (to.room !== 'shared') return `shared/ must not depend on a service (${to.room}/)`;
  if (from.folder === to.folder) return null;
  const a = layerOf(from.folder);
  const b = layerOf(to.folder);
  if (a === -1 || b === -1) {
    return `shared/${a === -1 ? from.folder : to.folder} has no layer in eslint.config.js`;
  }
  return b < a
    ? null
    : `shared/${from.folder} may import only lower layers, not shared/${to.folder}`;
}

const boundaries = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const from = placeOf(context.filename);
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = placeOf(path.resolve(path.dirname(context.filename), source));
      const why = violation(from, to);
      if (why) context.report({ node, message: `${why} ('${source}')` });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
    };
  },
};

export default tseslint.config(
  {
    // dist/: the build (npm run build).
    ignores: [
      'node_modules/**',
      '.stack/**',
      'coverage/**',
      'ingest/public/**',
      'dist/**',
      'api/dashboard/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Fastify plugins are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  {
    files: ['{shared,ingest,processor,api}/**/*.{ts,tsx}'],
    plugins: { goalpost: { rules: { boundaries } } },
    rules: { 'goalpost/boundaries': 'error' },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
