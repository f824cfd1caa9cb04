import { X509Certificate } from 'node:crypto'
import { InvalidArgumentError } from '@enclave-custody/sdk'

/** What {@link parseCaBundle} returns: one PEM string per certificate, in file order. */
export type ParseCaBundleReturnType = string[]

/** Thrown by {@link parseCaBundle}. */
export type ParseCaBundleErrorType = InvalidArgumentError

const BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g
const MAX_CERTIFICATES = 256

/**
 * Split a PEM bundle into its certificates and check each: it must parse as X.509 and be a CA certificate
 * (basicConstraints CA:TRUE). Text between the blocks (comments, as in most bundles) is ignored; a bundle
 * without a certificate, or with a block that is not one, is refused.
 *
 * The runtime's KMS client trusts exactly these certificates (see `createKmsSealer`'s `caCertificates`).
 *
 * @param pem - The bundle's text.
 * @param field - The name errors report, e.g. `kmsCaBundle`.
 * @returns One PEM string per certificate.
 * @throws InvalidArgumentError naming `field` when the bundle holds no certificate, a malformed one or one
 *   that is not a CA.
 * @example
 * import { readFileSync } from 'node:fs'
 * import { parseCaBundle } from '@enclave-custody/enclave-runtime'
 * const caCertificates = parseCaBundle(readFileSync('/etc/custody/kms-ca.pem', 'utf8'), 'kmsCaBundle')
 */
export function parseCaBundle(pem: string, field: string): ParseCaBundleReturnType {
  if (typeof pem !== 'string') throw new InvalidArgumentError({ field, rule: 'must be PEM text' })
  const blocks = pem.match(BLOCK) ?? []
  if (blocks.length === 0) throw new InvalidArgumentError({ field, rule: 'must hold at least one PEM certificate' })
  if (blocks.length > MAX_CERTIFICATES) throw new InvalidArgumentError({ field, rule: `must hold at most ${MAX_CERTIFICATES} certificates` })
  if ((pem.match(/-----BEGIN /g) ?? []).length !== blocks.length) {
    throw new InvalidArgumentError({ field, rule: 'must hold only CERTIFICATE blocks (no keys, no malformed blocks)' })
  }
  return blocks.map((block, i) => {
    let certificate: X509Certificate
    try {
      certificate = new X509Certificate(block)
    } catch {
      throw new InvalidArgumentError({ field, rule: `certificate ${i + 1} is not a valid X.509 certificate` })
    }
    if (!certificate.ca) throw new InvalidArgumentError({ field, rule: `certificate ${i + 1} is not a CA certificate` })
    return block.replace(/\r\n/g, '\n')
  })
}
