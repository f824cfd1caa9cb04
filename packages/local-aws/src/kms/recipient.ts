import { createPublicKey } from 'node:crypto'
import { isCustodyError } from '@enclave-custody/sdk'
import type { VerifyAttestationFunction } from '../attestation/verifier.js'
import { kmsError, validationError } from '../protocol/AwsServiceError.js'
import { type JsonObject, readBlob, readEnum } from '../protocol/members.js'

/** A `Recipient` whose attestation document verified. */
export type VerifiedRecipient = {
  /** DER SubjectPublicKeyInfo (RSA) to encrypt the response to. */
  publicKey: Uint8Array
  /** PCR index → lowercase hex. */
  pcrs: ReadonlyMap<number, string>
}

export type VerifyRecipientParameters = {
  recipient: JsonObject
  verify: VerifyAttestationFunction
  roots: readonly string[]
  now: Date
  /** Refuse every document when `roots` is empty (true for the default verifier; an injected one decides itself). */
  requireRoots: boolean
}

/**
 * How old (or how far ahead of the server clock) an attestation document may be. A document is a bearer
 * token for its public key: a fresh one limits how long a captured document can be replayed. 5 minutes as
 * issue 10 asks; the exact window real KMS applies is not documented (unverified).
 */
export const MAX_DOCUMENT_AGE_MS = 5 * 60_000

/**
 * Check a `RecipientInfo` structure and verify its attestation document (signature and chain at `now`, and
 * its timestamp at most {@link MAX_DOCUMENT_AGE_MS} from `now`, the server clock).
 *
 * @returns the recipient public key and the document's PCRs
 * @throws AwsServiceError ValidationException when the structure is malformed, the document does not verify,
 *   is older than 5 minutes (or more than 5 minutes ahead), or carries no RSA `public_key`
 */
export async function verifyRecipient({ recipient, verify, roots, now, requireRoots }: VerifyRecipientParameters): Promise<VerifiedRecipient> {
  readEnum(recipient, 'KeyEncryptionAlgorithm', ['RSAES_OAEP_SHA_256'] as const)
  const document = readBlob(recipient, 'AttestationDocument', { required: true, min: 1, max: 262_144 })
  if (requireRoots && roots.length === 0) {
    throw kmsError('ValidationException', 'local-aws has no attestation roots configured (attestationRoots / --attestation-root), so no attestation document can be trusted')
  }
  let verified: Awaited<ReturnType<VerifyAttestationFunction>>
  try {
    verified = await verify(document, { roots, now })
  } catch (e) {
    const reason = isCustodyError(e) ? e.shortMessage : 'the document could not be verified'
    throw kmsError('ValidationException', `The attestation document in the request is not valid: ${reason}`)
  }
  const issuedAt = verified.timestamp instanceof Date ? verified.timestamp.getTime() : Number.NaN
  if (!Number.isFinite(issuedAt)) throw kmsError('ValidationException', 'The attestation document in the request has no valid timestamp.')
  if (now.getTime() - issuedAt > MAX_DOCUMENT_AGE_MS) {
    throw kmsError('ValidationException', `The attestation document in the request is not valid: it was issued more than ${MAX_DOCUMENT_AGE_MS / 60_000} minutes ago.`)
  }
  if (issuedAt - now.getTime() > MAX_DOCUMENT_AGE_MS) {
    throw kmsError('ValidationException', `The attestation document in the request is not valid: its timestamp is more than ${MAX_DOCUMENT_AGE_MS / 60_000} minutes in the future.`)
  }
  const pcrs = new Map<number, string>()
  for (const [index, value] of Object.entries(verified.pcrs ?? {})) {
    if (!/^\d+$/.test(index) || typeof value !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(value)) {
      throw kmsError('ValidationException', 'The attestation document in the request has malformed PCRs.')
    }
    pcrs.set(Number(index), value.toLowerCase())
  }
  const publicKey = verified.publicKey
  if (!(publicKey instanceof Uint8Array) || publicKey.length === 0) {
    throw kmsError('ValidationException', 'The attestation document in the request has no public key.')
  }
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' })
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    if (key.asymmetricKeyType !== 'rsa' || bits < 2048 || bits > 4096) throw new Error('not RSA 2048..4096')
  } catch {
    throw validationError('Recipient', 'The public key in the attestation document must be an RSA key (2048 to 4096 bits) as DER SubjectPublicKeyInfo')
  }
  return { publicKey: new Uint8Array(publicKey), pcrs }
}

/**
 * The condition keys a verified recipient contributes: `kms:RecipientAttestation:ImageSha384` (= PCR0) and
 * `kms:RecipientAttestation:PCR<n>` for every PCR in the document.
 */
export function recipientConditionKeys(recipient: VerifiedRecipient | undefined): Record<string, string> {
  const keys: Record<string, string> = {}
  if (recipient === undefined) return keys
  for (const [index, value] of recipient.pcrs) keys[`kms:RecipientAttestation:PCR${index}`] = value
  const pcr0 = recipient.pcrs.get(0)
  if (pcr0 !== undefined) keys['kms:RecipientAttestation:ImageSha384'] = pcr0
  return keys
}
