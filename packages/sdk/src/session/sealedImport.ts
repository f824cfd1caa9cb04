import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core'
import { sha256 } from '@noble/hashes/sha2.js'
import type { Owners } from '../keys/owners.js'
import { ownersHash } from '../keys/owners.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { contextBytes } from './contextBytes.js'

/** Context of the HPKE associated data of a sealed import. */
export const IMPORT_CONTEXT = 'enclave-custody/import/v1'

/** A private key sealed to one enclave's HPKE key, as it travels in `key.importSealed` params. */
export type SealedImport = {
  /** SHA-256 of the recipient enclave's HPKE public key (the attested one), 0x-hex: the enclave refuses another's. */
  to: Hex
  /** The HPKE encapsulated key (65-byte P-256 point), 0x-hex. */
  enc: Hex
  /** The 32-byte key sealed with AES-256-GCM (48 bytes with the tag), 0x-hex. */
  ciphertext: Hex
}

/**
 * The HPKE associated data of a sealed import: `enclave-custody/import/v1` ‖ 0x00 ‖ canonical JSON of
 * `{ apiKey, keyId, nonce, owners }` — the stamping API key (compressed), the key's id, the request stamp's
 * nonce and the owners' hash, and `kind` for anything but a secp256k1 key (`ed25519`, or `hd-wallet` for a
 * mnemonic). A parent that re-stamps a captured ciphertext under its own API key (or with another nonce, keyId,
 * owners or kind) makes the enclave's open fail.
 */
export function importAad({ apiKey, keyId, nonce, owners, kind = 'secp256k1' }: { apiKey: Hex; keyId: string; nonce: Hex; owners: Owners; kind?: 'secp256k1' | 'ed25519' | 'hd-wallet' }): Uint8Array {
  return contextBytes(IMPORT_CONTEXT, { apiKey, keyId, nonce, owners: ownersHash(owners), ...(kind === 'secp256k1' ? {} : { kind }) })
}

/** The id of an HPKE public key: SHA-256 of its bytes, 0x-hex. */
export function hpkeKeyIdOf(publicKey: Hex): Hex {
  return bytesToHex(sha256(hexToBytes(publicKey)))
}

/** The HPKE suite of imports (RFC 9180 base mode): DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export function importHpkeSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() })
}

/**
 * Seal a 32-byte private key (or a wallet import's JSON) to an enclave's HPKE public key (RFC 9180 base mode,
 * one-shot) with the import associated data. Only that enclave's process can open it.
 */
export async function sealImport(recipient: Hex, privateKey: Uint8Array, aad: Uint8Array): Promise<SealedImport> {
  const suite = importHpkeSuite()
  const publicKey = await suite.kem.deserializePublicKey(hexToBytes(recipient).slice().buffer)
  const { ct, enc } = await suite.seal({ recipientPublicKey: publicKey }, privateKey.slice().buffer, aad.slice().buffer)
  return { to: hpkeKeyIdOf(recipient), enc: bytesToHex(new Uint8Array(enc)), ciphertext: bytesToHex(new Uint8Array(ct)) }
}
