import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Options of {@link computeRuntimeMeasurement}. */
export type ComputeRuntimeMeasurementParameters = {
  /**
   * The directory whose code is measured.
   * @default the enclave-runtime package's `dist/` when this module runs from there, else its `src/`
   */
  directory?: string
}

/** The measurement and what went into it. */
export type ComputeRuntimeMeasurementReturnType = {
  /** SHA-384 of the measured files (48 bytes): the software NSM's default PCR0. */
  digest: Uint8Array
  /** `digest` as lowercase hex without `0x`. */
  hex: string
  /** The directory that was measured, absolute. */
  directory: string
  /** How many files went into the digest. */
  fileCount: number
}

const DOMAIN = 'enclave-custody/runtime-measurement/v1\n'
const CODE_FILE = /\.(?:ts|mts|cts|js|mjs|cjs|json)$/
const EXCLUDED_FILE = /(?:\.test\.[cm]?[jt]s|\.test-d\.ts|\.d\.[cm]?ts|\.map)$/
const PACKAGE_NAME = '@enclave-custody/enclave-runtime'

/**
 * Measure the enclave runtime's own code: the software NSM's stand-in for PCR0 (the enclave image hash).
 *
 * Hashes every code file under the directory (`.ts`/`.js`/`.json` and variants; not tests, type
 * declarations or source maps), in byte-wise sorted order of their `/`-separated relative paths, as
 * `SHA-384("enclave-custody/runtime-measurement/v1\n" ‖ for each file: path ‖ 0x00 ‖ uint64be(size) ‖
 * content)`. Any change to the code, a rename, an added or removed file changes the result; timestamps,
 * permissions and the checkout location do not.
 *
 * @param parameters - Optionally the directory to measure.
 * @returns The digest and what was measured.
 * @throws Error when the directory cannot be read or holds no code file.
 * @example
 * import { computeRuntimeMeasurement } from '@enclave-custody/enclave-runtime'
 * const { hex } = await computeRuntimeMeasurement()
 * console.log(`PCR0 of the local runtime: ${hex}`)
 */
export async function computeRuntimeMeasurement({ directory }: ComputeRuntimeMeasurementParameters = {}): Promise<ComputeRuntimeMeasurementReturnType> {
  const root = resolve(directory ?? defaultDirectory())
  const files = (await listFiles(root)).map((file) => relative(root, file).split(sep).join('/'))
  files.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
  if (files.length === 0) throw new Error(`computeRuntimeMeasurement: no code files under ${root}`)
  const hash = createHash('sha384').update(DOMAIN, 'utf8')
  for (const file of files) {
    const content = await readFile(join(root, ...file.split('/')))
    const size = Buffer.alloc(8)
    size.writeBigUInt64BE(BigInt(content.length))
    hash.update(Buffer.from(file, 'utf8')).update(Uint8Array.of(0)).update(size).update(content)
  }
  const digest = new Uint8Array(hash.digest())
  return { digest, hex: Buffer.from(digest).toString('hex'), directory: root, fileCount: files.length }
}

async function listFiles(directory: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const path = join(directory, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(path)))
    else if (entry.isFile() && CODE_FILE.test(entry.name) && !EXCLUDED_FILE.test(entry.name)) out.push(path)
  }
  return out
}

/** `dist/` when running the built package, else `src/`, of the package that holds this module. */
function defaultDirectory(): string {
  const here = moduleDirectory()
  let dir = here
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }
      if (name === PACKAGE_NAME) {
        const dist = join(dir, 'dist')
        return here === dist || here.startsWith(dist + sep) ? dist : join(dir, 'src')
      }
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`computeRuntimeMeasurement: cannot find the ${PACKAGE_NAME} package above ${here}`)
    dir = parent
  }
}

function moduleDirectory(): string {
  // tsup's CJS build rewrites import.meta.url to the file URL of the .cjs file.
  return dirname(fileURLToPath(import.meta.url))
}
