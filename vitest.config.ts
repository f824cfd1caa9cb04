import { defineConfig } from 'vitest/config'

const include = ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts']
// *.slow.test.ts (builds, installs) run in `pnpm test:slow` (vitest.slow.config.ts).
const exclude = ['**/node_modules/**', '**/*.slow.test.ts']
/**
 * Files that replace modules (vi.mock, vi.resetModules) or spy on shared objects: each runs in a fresh module
 * graph. Every other file shares its worker's module cache with the files before it (no re-import of the
 * workspace per file: two-thirds of the suite's wall time was module loading), so a file must not depend on
 * module state another file could leave behind — a new file that mocks belongs here.
 */
const ownModules = [
  'packages/enclave-runtime/src/unseal/cms.test.ts',
  'packages/enclave-runtime/src/unseal/keyCache.test.ts',
  'packages/enclave-runtime/test/hdDerive.test.ts',
  'packages/enclave-runtime/test/hostilePayloadsServed.test.ts',
  'packages/enclave-runtime/test/solanaBadInput.test.ts',
  'packages/sdk/src/auth/p256.test.ts',
  'packages/sdk/src/config/readCustodyEnvironment.test.ts',
  'packages/sdk/src/errors/isCustodyError.test.ts',
  'test/no-key-material.test.ts',
]

// Workspace packages resolve to their TypeScript sources through a private export condition (a common
// name such as `source` would hand .ts files to every consumer that enables it).
const resolve = { conditions: ['@enclave-custody/source'] }
const ssr = { resolve: { conditions: ['@enclave-custody/source'], externalConditions: ['@enclave-custody/source'] } }
const common = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
  pool: 'forks',
  // Node 20 is supported (engines); the AWS SDK's notice about its future Node 22 requirement is noise.
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
} as const

export default defineConfig({
  resolve,
  ssr,
  test: {
    ...common,
    include,
    exclude,
    reporters: ['default'],
    // Each project states its own lists (`extends` would concatenate them with the root's).
    projects: [
      { resolve, ssr, test: { ...common, name: 'shared', isolate: false, include, exclude: [...exclude, ...ownModules] } },
      { resolve, ssr, test: { ...common, name: 'isolated', include: ownModules, exclude } },
    ],
  },
})
