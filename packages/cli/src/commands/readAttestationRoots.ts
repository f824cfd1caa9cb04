import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { CliIo } from './cliIo.js'
import { UsageError } from './cliOptions.js'

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g
const MAX_ROOTS_FILE_BYTES = 1024 * 1024

/**
 * Read `--attestation-root`: one or more PEM certificates the enclave's attestation must chain to (the software
 * NSM's root for `custody dev`; by default the SDK trusts only the AWS Nitro Enclaves root).
 *
 * @param file - the path as given (relative to `io.cwd`)
 * @returns each certificate as its own PEM
 * @throws UsageError naming the flag when the file is unreadable or holds no parseable certificate
 */
export async function readAttestationRoots(file: string, io: CliIo): Promise<string[]> {
  let text: string
  try {
    const bytes = await readFile(resolve(io.cwd, file))
    if (bytes.length > MAX_ROOTS_FILE_BYTES) throw new UsageError(`--attestation-root: ${file} is larger than ${MAX_ROOTS_FILE_BYTES} bytes`)
    text = bytes.toString('utf8')
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError(`--attestation-root: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const pems = text.match(PEM_CERTIFICATE) ?? []
  if (pems.length === 0) throw new UsageError(`--attestation-root: ${file} holds no PEM certificate`)
  pems.forEach((pem, i) => {
    try {
      new X509Certificate(pem)
    } catch {
      throw new UsageError(`--attestation-root: certificate #${i + 1} of ${file} cannot be parsed`)
    }
  })
  return pems.map((pem) => `${pem}\n`)
}
