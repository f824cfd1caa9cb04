import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core'
import { p256 } from '@noble/curves/nist.js'
import { bytesToHex, type Hex } from '@enclave-custody/sdk'
import { attestationUserData, p256Signer, responseKeyIdOf, type TrustConfiguration, trustDigest } from '@enclave-custody/sdk/protocol'
import type { AttestationProvider } from '../keys/types.js'

/** The enclave's HPKE suite (RFC 9180): DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export function createHpkeSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() })
}

/**
 * Who this enclave is for one boot: a response-signing key (P-256) and an HPKE key, both made at boot and
 * never leaving the process, bound by attestation documents to the image (PCR0) and to its trust
 * configuration. Its private keys have no accessor.
 */
export type EnclaveIdentity = {
  readonly trust: TrustConfiguration
  /** The trust configuration's digest: the only audience whose stamps this enclave accepts. */
  readonly aud: Hex
  /** SHA-256 of the response key's uncompressed point. */
  readonly responseKeyId: Hex
  /** The response key, uncompressed SEC1 (65 bytes). */
  readonly responsePublicKey: Uint8Array
  /** The HPKE public key (65-byte uncompressed P-256 point), 0x-hex. */
  readonly hpkePublicKey: Hex
  /** When this identity was made (ms): stamps made before it are refused. */
  readonly bootTime: number
  /**
   * A session attestation document: `public_key` = the response key, `user_data` = the digest binding the
   * trust configuration and the HPKE key, `nonce` = the caller's (absent for the audit log's boot event).
   */
  attest(nonce?: Uint8Array): Promise<{ document: string; trust: TrustConfiguration; hpkePublicKey: Hex }>
  /** Sign bytes with the response key: ECDSA-P256 over SHA-256, low s, 64-byte r‖s, 0x-hex. */
  sign(bytes: Uint8Array): Hex
  /** Open an HPKE ciphertext sealed to this enclave's key (base mode), with its associated data. */
  openHpke(enc: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>
}

export type CreateEnclaveIdentityParameters = {
  /** The NSM in an enclave; the software NSM locally. */
  attestation: AttestationProvider
  trust: TrustConfiguration
  /** @default Date.now */
  now?: () => number
}

/**
 * Make this boot's identity: fresh response and HPKE keys from the platform CSPRNG.
 *
 * @example
 * const identity = await createEnclaveIdentity({ attestation: nsm, trust: { protocolVersion: 1, sealing: 'kms', region, kmsKeyArn } })
 */
export async function createEnclaveIdentity({ attestation, trust, now = Date.now }: CreateEnclaveIdentityParameters): Promise<EnclaveIdentity> {
  const secret = p256.utils.randomSecretKey()
  const signer = p256Signer(secret, false)
  secret.fill(0)
  const responsePublicKey = signer.publicKey
  const suite = createHpkeSuite()
  const hpke = await suite.kem.generateKeyPair()
  const hpkePublicKey = bytesToHex(new Uint8Array(await suite.kem.serializePublicKey(hpke.publicKey)))
  const userData = attestationUserData({ trust, hpkePublicKey })
  return {
    trust,
    aud: trustDigest(trust),
    responseKeyId: responseKeyIdOf(responsePublicKey),
    responsePublicKey,
    hpkePublicKey,
    bootTime: now(),
    async attest(nonce) {
      const document = await attestation.attest({ publicKey: responsePublicKey, userData, ...(nonce ? { nonce } : {}) })
      return { document: Buffer.from(document).toString('base64'), trust, hpkePublicKey }
    },
    sign(bytes) {
      return bytesToHex(signer.sign(bytes))
    },
    async openHpke(enc, ciphertext, aad) {
      const plain = await suite.open({ recipientKey: hpke, enc: enc.slice().buffer }, ciphertext.slice().buffer, aad.slice().buffer)
      return new Uint8Array(plain)
    },
  }
}
