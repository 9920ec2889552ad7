// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Services may import from shared/ only, never from each other. */
const otherServices = (self) =>
  ['ingest', 'processor', 'api']
    .filter((s) => s !== self)
    .flatMap((s) => [`**/${s}/**`, `../${s}`, `../../${s}`]);

const restrictService = (self) => ({
  files: [`${self}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: otherServices(self),
            message: 'Services import from shared/ only, never from another service.',
          },
        ],
      },
    ],
  },
});

export default tseslint.config(
  {
    // ingest/.build and .bench-build: the bundles npm start and the ingest bench write.
    ignores: [
      'node_modules/**',
      '.stack/**',
      'coverage/**',
      'ingest/public/**',
      'ingest/.build/**',
      'ingest/.bench-build*/**',
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
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/ingest/**', '**/processor/**', '**/api/**'],
              message: 'shared/ must not depend on a service.',
            },
          ],
        },
      ],
    },
  },
  restrictService('ingest'),
  restrictService('processor'),
  restrictService('api'),
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
