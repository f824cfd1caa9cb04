import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** What `build-eif.sh` recorded about an image (`build-info.txt` beside the EIF), as far as the file says. */
export type BuildInfo = {
  readonly path: string
  /** `kms_key_arn=`: the sealing key ARN measured into the image. */
  readonly kmsKeyArn: string | undefined
  /** `aws_region=`: the KMS region measured into the image. */
  readonly region: string | undefined
}

/**
 * The `build-info.txt` that `build-eif.sh` writes next to `custody.eif` (`key=value` lines), if it is there.
 * It is the build's own record, not a measurement: the app uses it only to catch a mismatch with the
 * context early (the boot check and KMS enforce the real thing).
 *
 * @param eifPath Path of the EIF.
 * @returns The fields the app uses, or `undefined` when the EIF's folder has no `build-info.txt`.
 * @example
 * import { readBuildInfo } from './readBuildInfo.js'
 * readBuildInfo('out/custody.eif')?.kmsKeyArn // 'arn:aws:kms:eu-west-1:111122223333:key/…'
 */
export function readBuildInfo(eifPath: string): BuildInfo | undefined {
  const path = join(dirname(eifPath), 'build-info.txt')
  if (!existsSync(path)) return undefined
  const fields = new Map<string, string>()
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) fields.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim())
  }
  const value = (k: string) => (fields.get(k) ? fields.get(k) : undefined)
  return { path, kmsKeyArn: value('kms_key_arn'), region: value('aws_region') }
}
