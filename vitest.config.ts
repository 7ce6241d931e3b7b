import { defineConfig } from 'vitest/config'

// Workspace packages resolve to their TypeScript sources (the `source` export condition), so tests need no build.
const resolve = { conditions: ['source', 'import', 'node', 'default'] }

export default defineConfig({
  resolve,
  ssr: { resolve: { conditions: ['source', 'import', 'node', 'default'], externalConditions: ['source'] } },
  test: {
    // Records every response the RDS endpoint sends and checks them against AWS's service models at the end.
    globalSetup: ['./vitest.model-check.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    projects: [
      {
        resolve,
        ssr: { resolve: { conditions: ['source', 'import', 'node', 'default'], externalConditions: ['source'] } },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        resolve,
        ssr: { resolve: { conditions: ['source', 'import', 'node', 'default'], externalConditions: ['source'] } },
        test: {
          name: 'int',
          include: ['packages/*/src/**/*.int.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
