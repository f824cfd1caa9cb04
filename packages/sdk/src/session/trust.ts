import { PROTOCOL_VERSION } from '../protocol/version.js'
import { fail } from '../utils/assert.js'
import type { Hex } from '../utils/hex.js'
import { hexToBytes } from '../utils/hex.js'
import { contextDigest } from './contextBytes.js'

/**
 * What an enclave trusts, measured with its image or fixed at its boot: the sealing KMS key's full ARN and
 * region (production), or the local sealing key's id (development). Its digest is the audience (`aud`) of
 * every request stamp, so a stamp made for one deployment is useless in another.
 */
export type TrustConfiguration =
  | { protocolVersion: typeof PROTOCOL_VERSION; sealing: 'kms'; region: string; kmsKeyArn: string }
  | { protocolVersion: typeof PROTOCOL_VERSION; sealing: 'local'; sealingKeyId: Hex }

export const TRUST_CONTEXT = 'enclave-custody/trust/v1'
export const ATTESTATION_USER_DATA_CONTEXT = 'enclave-custody/attestation/v1'
/** The HPKE suite of the enclave's import key (RFC 9180): DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export const HPKE_SUITE = 'DHKEM-P256-HKDF-SHA256/HKDF-SHA256/AES-256-GCM'

/**
 * Check an untrusted trust configuration (from an attestation answer) field by field.
 * @throws InvalidArgumentError naming the field.
 */
export function parseTrustConfiguration(value: unknown, field = 'trust'): TrustConfiguration {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object')
  const t = value as Record<string, unknown>
  const keys = Object.keys(t).sort().join(',')
  if (t.protocolVersion !== PROTOCOL_VERSION) fail(`${field}.protocolVersion`, `must be ${PROTOCOL_VERSION}`)
  if (t.sealing === 'kms') {
    if (keys !== 'kmsKeyArn,protocolVersion,region,sealing') fail(field, 'must have exactly protocolVersion, sealing, region, kmsKeyArn')
    if (typeof t.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(t.region)) fail(`${field}.region`, 'must be an AWS region')
    if (typeof t.kmsKeyArn !== 'string' || !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/.test(t.kmsKeyArn)) fail(`${field}.kmsKeyArn`, 'must be a KMS key ARN')
    return { protocolVersion: PROTOCOL_VERSION, sealing: 'kms', region: t.region, kmsKeyArn: t.kmsKeyArn }
  }
  if (t.sealing === 'local') {
    if (keys !== 'protocolVersion,sealing,sealingKeyId') fail(field, 'must have exactly protocolVersion, sealing, sealingKeyId')
    if (typeof t.sealingKeyId !== 'string' || !/^0x[0-9a-f]{64}$/.test(t.sealingKeyId)) fail(`${field}.sealingKeyId`, 'must be 32 bytes of lower-case 0x-hex')
    return { protocolVersion: PROTOCOL_VERSION, sealing: 'local', sealingKeyId: t.sealingKeyId as Hex }
  }
  return fail(`${field}.sealing`, 'must be "kms" or "local"')
}

/**
 * The audience of request stamps: SHA-256 of `enclave-custody/trust/v1` ‖ 0x00 ‖ canonical JSON of the
 * trust configuration, 0x-hex.
 */
export function trustDigest(trust: TrustConfiguration): Hex {
  return contextDigest(TRUST_CONTEXT, trust)
}

/**
 * The `user_data` of an enclave's session attestation: SHA-256 of `enclave-custody/attestation/v1` ‖ 0x00 ‖
 * canonical JSON of `{ aud, hpke: { publicKey, suite }, trust }`. It ties the attested response-signing key
 * (the document's `public_key`) to the trust configuration and to the HPKE key that imports are sealed to.
 */
export function attestationUserData({ trust, hpkePublicKey }: { trust: TrustConfiguration; hpkePublicKey: Hex }): Uint8Array {
  return hexToBytes(contextDigest(ATTESTATION_USER_DATA_CONTEXT, { aud: trustDigest(trust), hpke: { publicKey: hpkePublicKey, suite: HPKE_SUITE }, trust }))
}
