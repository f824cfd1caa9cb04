import { randomBytes } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { verifyAttestationDocument } from '../attestation/verifyAttestationDocument.js'
import { AttestationError, isCustodyError, UnavailableError } from '../errors/CustodyError.js'
import { parseResponse, parseResult, PROTOCOL_VERSION, type RequestMessage } from '../protocol/messages.js'
import { assertObject, fail } from '../utils/assert.js'
import { bytesToHex, type Hex } from '../utils/hex.js'
import { responseKeyIdOf } from './responseSignature.js'
import { attestationUserData, parseTrustConfiguration, type TrustConfiguration, trustDigest } from './trust.js'

/**
 * What the SDK requires of an enclave before it sends a stamped request or accepts an answer. The PCR0
 * values come from the build's `pcrs.json` or the stack's output — never from the proxy.
 */
export type AttestationPolicy = {
  /** Allowed PCR0 values, hex (48 bytes): one, or two during a rotation. */
  pcr0: readonly string[]
  /** Further PCRs (index → hex) that must match. */
  pcrs?: Readonly<Record<number, string>>
  /** Trusted roots, PEM. @default the AWS Nitro Enclaves root (so the software NSM is refused) */
  roots?: readonly string[]
  /** Oldest acceptable session document. @default 300_000 */
  maxAgeMs?: number
  /** Accept the all-zero PCR0 of an enclave run in debug mode (never in production). @default false */
  allowDebugEnclave?: boolean
}

/** An enclave whose response key has been attested. */
export type AttestedEnclave = {
  /** {@link responseKeyIdOf} the response key. */
  keyId: Hex
  /** The response-signing key, uncompressed SEC1 (65 bytes). */
  publicKey: Uint8Array
  /** The trust configuration's digest: the audience of stamps for this enclave. */
  aud: Hex
  trust: TrustConfiguration
  /** The enclave's HPKE public key (imports are sealed to it), 0x-hex. */
  hpkePublicKey: Hex
  /** PCR0 of the attested image, lower-case hex. */
  pcr0: string
  moduleId: string
}

const MAX_PCR0 = 5
const DEBUG_PCR0 = '0'.repeat(96)

/**
 * Check an attestation policy: a non-empty PCR0 allowlist of 48-byte values (the all-zero debug value only
 * with `allowDebugEnclave`), optional extra PCRs, roots and age.
 * @throws InvalidArgumentError naming the field.
 */
export function checkAttestationPolicy(policy: unknown, field = 'attestation'): AttestationPolicy {
  const p = assertObject(policy, field, ['pcr0', 'pcrs', 'roots', 'maxAgeMs', 'allowDebugEnclave'])
  if (!Array.isArray(p.pcr0) || p.pcr0.length === 0 || p.pcr0.length > MAX_PCR0) fail(`${field}.pcr0`, `must list 1 to ${MAX_PCR0} allowed PCR0 values`)
  const allowDebugEnclave = p.allowDebugEnclave === undefined ? false : p.allowDebugEnclave
  if (typeof allowDebugEnclave !== 'boolean') fail(`${field}.allowDebugEnclave`, 'must be a boolean')
  const pcr0 = (p.pcr0 as unknown[]).map((v, i) => {
    const hex = typeof v === 'string' ? v.replace(/^0x/i, '').toLowerCase() : ''
    if (!/^[0-9a-f]{96}$/.test(hex)) fail(`${field}.pcr0[${i}]`, 'must be 48 bytes of hex')
    if (hex === DEBUG_PCR0 && !allowDebugEnclave) fail(`${field}.pcr0[${i}]`, 'is the all-zero PCR0 of a debug-mode enclave; allowed only with allowDebugEnclave')
    return hex
  })
  if (p.maxAgeMs !== undefined && (typeof p.maxAgeMs !== 'number' || !Number.isSafeInteger(p.maxAgeMs) || p.maxAgeMs < 1_000)) fail(`${field}.maxAgeMs`, 'must be an integer of at least 1000 ms')
  if (p.roots !== undefined && (!Array.isArray(p.roots) || p.roots.length === 0)) fail(`${field}.roots`, 'must be a non-empty array of PEM certificates')
  if (p.pcrs !== undefined && (typeof p.pcrs !== 'object' || p.pcrs === null || Array.isArray(p.pcrs))) fail(`${field}.pcrs`, 'must be an object of PCR index → hex')
  return {
    pcr0,
    ...(p.pcrs === undefined ? {} : { pcrs: p.pcrs as Record<number, string> }),
    ...(p.roots === undefined ? {} : { roots: p.roots as string[] }),
    ...(p.maxAgeMs === undefined ? {} : { maxAgeMs: p.maxAgeMs as number }),
    allowDebugEnclave,
  }
}

/**
 * Attest the enclave behind `send` (a transport's `request`): ask for a session attestation document over
 * a fresh nonce, verify it (roots, chain, signature, nonce, age), require its PCR0 to be in the allowlist
 * (and any listed PCRs to match), and check that `user_data` binds the trust configuration and HPKE key the
 * enclave reported. The document's `public_key` is the enclave's response-signing key.
 *
 * @throws AttestationError naming the first check that failed; UnavailableError when the enclave cannot be reached.
 */
export async function attestEnclave(send: (message: RequestMessage) => Promise<unknown>, policy: AttestationPolicy, { now = () => new Date() }: { now?: () => Date } = {}): Promise<AttestedEnclave> {
  const nonce = new Uint8Array(randomBytes(32))
  const message = { v: PROTOCOL_VERSION, id: `att-${bytesToHex(nonce).slice(2, 14)}`, op: 'system.attestation', params: { nonce: bytesToHex(nonce) } } as RequestMessage
  const response = parseResponse(await send(message))
  if (!response.ok) {
    // Unsigned, like any answer to an unstamped request: only availability can be read from it. An enclave that
    // is down or restarting (UNAVAILABLE, TIMEOUT) may answer a later try; anything else is a failed attestation.
    const code = String(response.error.code).slice(0, 32)
    if (code === 'UNAVAILABLE' || code === 'TIMEOUT') throw new UnavailableError({ reason: `the enclave did not attest (${code})` })
    // The attestation request carries no stamp: an UNAUTHENTICATED answer is the proxy refusing this caller.
    if (code === 'UNAUTHENTICATED') {
      throw new UnavailableError({ reason: 'the parent proxy refused this caller (UNAUTHENTICATED): check the token or the client certificate', retryable: false })
    }
    throw new AttestationError({ reason: `the enclave did not attest (${code})` })
  }
  const answer = parseResult('system.attestation', response.result)
  const document = Buffer.from(answer.document, 'base64')
  let verified: ReturnType<typeof verifyAttestationDocument>
  try {
    verified = verifyAttestationDocument(new Uint8Array(document), {
      ...(policy.roots ? { roots: [...policy.roots] } : {}),
      now: now(),
      nonce,
      maxAgeMs: policy.maxAgeMs ?? 300_000,
      ...(policy.pcrs ? { expectedPcrs: { ...policy.pcrs } } : {}),
    })
  } catch (e) {
    if (isCustodyError(e, 'ATTESTATION_FAILED')) throw e
    throw new AttestationError({ reason: 'the attestation document is malformed', cause: e })
  }
  const pcr0 = verified.pcrs[0] ?? ''
  if (pcr0 === DEBUG_PCR0 && !policy.allowDebugEnclave) throw new AttestationError({ reason: 'the enclave runs in debug mode (PCR0 all zero)' })
  if (!policy.pcr0.includes(pcr0)) throw new AttestationError({ reason: `PCR0 ${pcr0.slice(0, 16)}… is not in the allowlist` })
  const publicKey = verified.publicKey
  if (publicKey?.length !== 65 || publicKey[0] !== 4) throw new AttestationError({ reason: 'the document\'s public_key is not an uncompressed P-256 point' })
  try {
    p256.Point.fromBytes(publicKey).assertValidity()
  } catch {
    throw new AttestationError({ reason: 'the document\'s public_key is not on P-256' })
  }
  let trust: TrustConfiguration
  try {
    trust = parseTrustConfiguration(answer.trust)
  } catch (e) {
    throw new AttestationError({ reason: 'the enclave reported a malformed trust configuration', cause: e })
  }
  const userData = attestationUserData({ trust, hpkePublicKey: answer.hpkePublicKey as Hex })
  if (!verified.userData || bytesToHex(verified.userData) !== bytesToHex(userData)) {
    throw new AttestationError({ reason: 'user_data does not bind the reported trust configuration and HPKE key' })
  }
  return {
    keyId: responseKeyIdOf(publicKey),
    publicKey,
    aud: trustDigest(trust),
    trust,
    hpkePublicKey: answer.hpkePublicKey as Hex,
    pcr0,
    moduleId: verified.moduleId,
  }
}
