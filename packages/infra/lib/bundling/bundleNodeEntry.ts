import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'

/** The repository root: esbuild writes paths relative to it, so the bundle (and its asset hash) does not depend on the cwd. */
const REPO_ROOT = fileURLToPath(new URL('../../../..', import.meta.url))

export type BundleNodeEntryParameters = {
  /** TypeScript or JavaScript entry point. */
  entry: string
  /** The single output file (ESM). A `package.json` saying `"type": "module"` is written beside it. */
  outfile: string
  /** @default 'node22' */
  target?: string
  /** Packages left out of the bundle (resolved at run time). @default [] */
  external?: string[]
}

/**
 * Bundle a Node entry point and everything it imports into one ESM file with esbuild, resolving
 * workspace packages to their TypeScript sources (the private `@enclave-custody/source` export condition). No Docker, no
 * network. CommonJS dependencies get a `require` through `createRequire`. The output is deterministic
 * for the same sources, so the CDK asset hash only changes when the code does.
 *
 * @returns The absolute path of the bundle.
 * @throws Error with esbuild's messages when the entry does not build.
 * @example
 * bundleNodeEntry({ entry: 'lambda/handler.ts', outfile: '/tmp/x/index.mjs' })
 */
export function bundleNodeEntry({ entry, outfile, target = 'node22', external = [] }: BundleNodeEntryParameters): string {
  mkdirSync(dirname(outfile), { recursive: true })
  const result = buildSync({
    entryPoints: [entry],
    outfile,
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target,
    conditions: ['@enclave-custody/source'],
    mainFields: ['module', 'main'],
    external,
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    banner: { js: "import { createRequire as __custodyCreateRequire } from 'node:module'; const require = __custodyCreateRequire(import.meta.url);" },
  })
  if (result.errors.length > 0) throw new Error(`esbuild failed for ${entry}: ${result.errors.map((e) => e.text).join('; ')}`)
  writeFileSync(`${dirname(outfile)}/package.json`, '{ "type": "module" }\n')
  return outfile
}
