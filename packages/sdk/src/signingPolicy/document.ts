import { verifyP256 } from '../auth/p256.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { type Stamper, P256_STAMP_SCHEME, type StampScheme } from '../auth/types.js'
import { ForbiddenError } from '../errors/CustodyError.js'
import { canonicalApiKey, type Owners } from '../keys/owners.js'
import { KEY_ID_PATTERN, KEY_ID_RULE } from '../protocol/keyId.js'
import { contextBytes } from '../session/contextBytes.js'
import { assertObject, fail } from '../utils/assert.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { normalizeSigningPolicy, type PolicyRule } from './rules.js'

/** Domain separation of policy approvals (and of the policy digest): no other signed object starts so. */
export const POLICY_CONTEXT = 'enclave-custody/policy/v1'

/**
 * A key's signing policy as owners approve it: which key (its id and its public key, so that a document
 * cannot be moved to another key), a version that only increases, the rules and the delegated signers.
 */
export type SigningPolicyDocument = { keyId: string; keyPublicKey: Hex; version: number; rules: PolicyRule[]; signers: Hex[] }

/** An owner's approval of a document: a signature over {@link policyApprovalBytes}, with no time window. */
export type PolicyApproval = { publicKey: Hex; scheme: StampScheme; signature: Hex }

/** A document with the approvals that make it take effect. */
export type SignedSigningPolicy = { document: SigningPolicyDocument; approvals: PolicyApproval[] }

/** Where a key's signing policy stands, as the enclave reports it (`KeyInfo.signingPolicy`). */
export type SigningPolicyRef = { version: number; digest: Hex }

export const MAX_POLICY_APPROVALS = 16
/** Largest signing-policy document, as canonical JSON: what the enclave keeps compiled stays bounded. */
export const MAX_POLICY_DOCUMENT_BYTES = 32 * 1024

/**
 * Check a signing-policy document and return its canonical form (rules and signers through
 * `normalizeSigningPolicy`, the key's public key lower-case hex: secp256k1 uncompressed, or ed25519).
 * @throws InvalidArgumentError naming the field.
 */
export function normalizeSigningPolicyDocument(value: unknown, field = 'document'): SigningPolicyDocument {
  const d = assertObject(value, field, ['keyId', 'keyPublicKey', 'version', 'rules', 'signers'])
  // Before any per-value work (checksums, points): a document far beyond the limit is refused by its size.
  let size: number
  try {
    size = JSON.stringify(d).length
  } catch {
    return fail(field, 'must be JSON')
  }
  if (size > 2 * MAX_POLICY_DOCUMENT_BYTES) fail(field, `must be at most ${MAX_POLICY_DOCUMENT_BYTES / 1024} KiB as canonical JSON`)
  if (typeof d.keyId !== 'string' || !KEY_ID_PATTERN.test(d.keyId)) fail(`${field}.keyId`, KEY_ID_RULE)
  if (typeof d.keyPublicKey !== 'string' || !/^0x(?:04[0-9a-fA-F]{128}|[0-9a-fA-F]{64})$/.test(d.keyPublicKey)) {
    fail(`${field}.keyPublicKey`, 'must be the key\'s public key: uncompressed secp256k1 (65 bytes; an HD wallet\'s master key) or ed25519 (32 bytes), 0x-hex')
  }
  if (typeof d.version !== 'number' || !Number.isSafeInteger(d.version) || d.version < 1) fail(`${field}.version`, 'must be an integer of at least 1')
  const { rules, signers } = normalizeSigningPolicy({ rules: d.rules, signers: d.signers }, field)
  const document = { keyId: d.keyId, keyPublicKey: d.keyPublicKey.toLowerCase() as Hex, version: d.version, rules, signers }
  if (policyApprovalBytes(document).length > MAX_POLICY_DOCUMENT_BYTES) fail(field, `must be at most ${MAX_POLICY_DOCUMENT_BYTES / 1024} KiB as canonical JSON`)
  return document
}

/** The bytes an owner signs to approve `document`: `enclave-custody/policy/v1` ‖ 0x00 ‖ canonical JSON. */
export function policyApprovalBytes(document: SigningPolicyDocument): Uint8Array {
  return contextBytes(POLICY_CONTEXT, document)
}

/** The digest that names a document: SHA-256 of {@link policyApprovalBytes}, 0x-hex. */
export function signingPolicyDigest(document: SigningPolicyDocument): Hex {
  return bytesToHex(sha256(policyApprovalBytes(document)))
}

/**
 * Approve a document with an owner's API key (its stamper). The approval has no time window: a stored
 * policy stays valid until a higher version replaces it.
 *
 * @example
 * const approval = await approveSigningPolicy(ownerStamper, document)
 */
export async function approveSigningPolicy(stamper: Stamper, document: SigningPolicyDocument): Promise<PolicyApproval> {
  const canonical = normalizeSigningPolicyDocument(document)
  const signature = await stamper.stamp(policyApprovalBytes(canonical))
  return { publicKey: canonicalApiKey(stamper.publicKey, 'stamper.publicKey'), scheme: P256_STAMP_SCHEME, signature: bytesToHex(signature) }
}

/**
 * Check a signed document against the key's owners: the document is canonical, every approval is a valid
 * signature by an owner (compared as points), no owner counts twice, and the owners' threshold is met.
 *
 * @returns The canonical document.
 * @throws InvalidArgumentError for a malformed or non-canonical document; ForbiddenError naming what is missing
 * (an approval by a non-owner, a signature that does not verify, too few approvals).
 */
export function verifySignedSigningPolicy(signed: unknown, owners: Owners, field = 'policy'): SignedSigningPolicy {
  const s = assertObject(signed, field, ['document', 'approvals'])
  const document = normalizeSigningPolicyDocument(s.document, `${field}.document`)
  if (JSON.stringify(document) !== JSON.stringify(s.document)) fail(`${field}.document`, 'must be in canonical form (normalizeSigningPolicyDocument): approvals sign its exact bytes')
  if (!Array.isArray(s.approvals) || s.approvals.length > MAX_POLICY_APPROVALS) fail(`${field}.approvals`, `must be a list of at most ${MAX_POLICY_APPROVALS} approvals`)
  const bytes = policyApprovalBytes(document)
  const approvers = new Set<Hex>()
  const approvals: PolicyApproval[] = []
  for (const [i, a] of (s.approvals as unknown[]).entries()) {
    const f = `${field}.approvals[${i}]`
    const o = assertObject(a, f, ['publicKey', 'scheme', 'signature'])
    if (o.scheme !== P256_STAMP_SCHEME) fail(`${f}.scheme`, `must be ${P256_STAMP_SCHEME}`)
    const key = canonicalApiKey(o.publicKey, `${f}.publicKey`)
    if (typeof o.signature !== 'string' || !/^0x[0-9a-f]{128}$/.test(o.signature)) fail(`${f}.signature`, 'must be 64 bytes of lower-case 0x-hex')
    if (!owners.publicKeys.includes(key)) throw new ForbiddenError({ reason: `${f} is by an API key that is not an owner of key "${document.keyId}"` })
    if (approvers.has(key)) fail(f, 'repeats an owner\'s approval (each owner counts once)')
    if (!verifyP256(hexToBytes(o.signature), bytes, hexToBytes(key))) {
      throw new ForbiddenError({ reason: `${f} does not verify over this document (altered after approval, or signed for another)` })
    }
    approvers.add(key)
    approvals.push({ publicKey: key, scheme: P256_STAMP_SCHEME, signature: o.signature as Hex })
  }
  if (approvers.size < owners.threshold) {
    throw new ForbiddenError({ reason: `the policy of key "${document.keyId}" has ${approvers.size} owner approval(s); its owners' threshold is ${owners.threshold}` })
  }
  return { document, approvals }
}
