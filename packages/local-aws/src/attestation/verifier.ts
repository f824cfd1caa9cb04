import { type VerifyAttestationDocumentReturnType, verifyAttestationDocument } from '@enclave-custody/sdk'

/** What a verified Nitro attestation document yields: the SDK verifier's result (the CA bundle aside). */
export type VerifiedAttestationDocument = Omit<VerifyAttestationDocumentReturnType, 'cabundle'>

export type VerifyAttestationOptions = {
  /** Trusted root certificates, PEM. */
  roots: readonly string[]
  /** The time at which certificates must be valid. */
  now: Date
}

/**
 * Verifies a COSE_Sign1 attestation document (signature, certificate chain to one of `roots` at `now`) and
 * returns its contents; throws (a CustodyError with code ATTESTATION_FAILED) when it does not verify.
 */
export type VerifyAttestationFunction = (
  document: Uint8Array,
  options: VerifyAttestationOptions,
) => VerifiedAttestationDocument | Promise<VerifiedAttestationDocument>

/**
 * The default verifier: `verifyAttestationDocument` of `@enclave-custody/sdk` (COSE_Sign1 ES384 signature,
 * certificate chain from `cabundle[0]` = one of `roots`, validity at `now`).
 *
 * @param document - the attestation document bytes
 * @param options - trusted roots (PEM) and the verification time
 * @returns the verified contents
 * @throws AttestationError (ATTESTATION_FAILED) when the document does not verify
 */
export const sdkVerifyAttestation: VerifyAttestationFunction = (document, { roots, now }) =>
  verifyAttestationDocument(document, { roots: [...roots], now })
