import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The known-answer vectors, in the repository (test/vectors/; where each came from: test/vectors/SOURCES.md). */
export const vectorsDir = resolve(repoRoot, 'test', 'vectors')

/**
 * Read one JSON vector file from {@link vectorsDir}.
 *
 * @param relative Path below test/vectors/, e.g. `eth/eip191-personal-sign.json`.
 * @throws Error when the file is missing or is not JSON (a missing vector fails the test, never skips it).
 */
export function readVector<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(join(vectorsDir, relative), 'utf8')) as T
}

/** anvil's well-known dev accounts #0 and #1 (public test keys, never used with real funds). */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
] as const
