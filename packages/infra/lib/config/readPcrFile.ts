import { existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

import { type PcrMeasurements, readPcrJson } from './readPcrJson.js'

export type { PcrMeasurements }

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
  const found = candidates.map(readPcrJson)
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
