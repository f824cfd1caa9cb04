import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

/** `pnpm test:slow`: only the *.slow.test.ts files (image-tree builds, installs), one file at a time. */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/*/test/**/*.slow.test.ts', 'test/**/*.slow.test.ts'],
    exclude: ['**/node_modules/**'],
    projects: undefined,
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 1_800_000,
  },
})
