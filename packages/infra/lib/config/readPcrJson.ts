import { readFileSync } from 'node:fs'

/** PCR values nitro-cli measured for an EIF, lower-case hex, as far as the file gives them. */
export type PcrMeasurements = { path: string; pcrs: Partial<Record<0 | 1 | 2 | 8, string>> }

const HEX96 = /^[0-9a-fA-F]{96}$/

/**
 * Read one PCR JSON file as nitro-cli prints it (`build-enclave`, `describe-eif`):
 * `{ "Measurements": { "PCR0": "…", "PCR1": "…", "PCR2": "…" } }`.
 *
 * @param path The file.
 * @returns PCR0 (always) and whichever of PCR1, PCR2 and PCR8 the file has, lower-cased.
 * @throws Error naming the file when it is not JSON, has no PCR0, or a PCR is not 96 hex digits.
 * @example
 * import { readPcrJson } from './readPcrJson.js'
 * readPcrJson('out/pcrs.json').pcrs[0] // 'a1b2…' (96 hex digits)
 */
export function readPcrJson(path: string): PcrMeasurements {
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new Error(`${path} is not JSON (expected nitro-cli's {"Measurements":{"PCR0":…}}): ${(e as Error).message}`)
  }
  const measurements = (json as { Measurements?: unknown })?.Measurements
  if (typeof measurements !== 'object' || measurements === null) throw new Error(`${path} has no "Measurements" object (expected nitro-cli's PCR JSON)`)
  const pcrs: PcrMeasurements['pcrs'] = {}
  for (const i of [0, 1, 2, 8] as const) {
    const v = (measurements as Record<string, unknown>)[`PCR${i}`]
    if (v === undefined) continue
    if (typeof v !== 'string' || !HEX96.test(v)) throw new Error(`${path}: Measurements.PCR${i} must be 96 hex digits (SHA-384)`)
    pcrs[i] = v.toLowerCase()
  }
  if (pcrs[0] === undefined) throw new Error(`${path} has no Measurements.PCR0`)
  return { path, pcrs }
}
