import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** PCR values nitro-cli measured for an EIF, lower-case hex, as far as the file gives them. */
export type PcrMeasurements = { path: string; pcrs: Partial<Record<0 | 1 | 2 | 8, string>> }

const HEX96 = /^[0-9a-fA-F]{96}$/

/**
 * The PCR JSON nitro-cli printed for an EIF (`nitro-cli build-enclave … > <eif>.pcrs.json`, or
 * `pcrs.json` in the EIF's folder): `{ "Measurements": { "PCR0": "…", "PCR1": "…", "PCR2": "…" } }`.
 * Both names are looked for; if both exist they must agree.
 *
 * @param eifPath Path of the EIF.
 * @returns The measurements, or `undefined` when neither file exists.
 * @throws Error naming the file when it is not JSON or a PCR is not 96 hex digits.
 * @example
 * readPcrFile('build/custody.eif')?.pcrs[0] // 'a1b2…' (96 hex digits)
 */
export function readPcrFile(eifPath: string): PcrMeasurements | undefined {
  const candidates = [`${eifPath}.pcrs.json`, join(dirname(eifPath), 'pcrs.json')].filter((p) => existsSync(p))
  const found = candidates.map(parsePcrFile)
  const [first, second] = found
  if (first && second) {
    for (const i of [0, 1, 2, 8] as const) {
      if (first.pcrs[i] !== undefined && second.pcrs[i] !== undefined && first.pcrs[i] !== second.pcrs[i]) {
        throw new Error(`${basename(first.path)} and ${basename(second.path)} beside the EIF disagree on PCR${i}; delete the stale one`)
      }
    }
  }
  return first
}

function parsePcrFile(path: string): PcrMeasurements {
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
