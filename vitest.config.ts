import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources through a private export condition (a common
  // name such as `source` would hand .ts files to every consumer that enables it).
  resolve: { conditions: ['@enclave-custody/source'] },
  ssr: { resolve: { conditions: ['@enclave-custody/source'], externalConditions: ['@enclave-custody/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // *.slow.test.ts (builds, installs) run in `pnpm test:slow` (vitest.slow.config.ts).
    exclude: ['**/node_modules/**', '**/*.slow.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Node 20 is supported (engines); the AWS SDK's notice about its future Node 22 requirement is noise.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    reporters: ['default'],
  },
})
