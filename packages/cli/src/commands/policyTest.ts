import { canonicalApiKey, type Hex, InvalidArgumentError, MAX_WINDOW_MS, type PolicyFacts, type SigningPolicy } from '@enclave-custody/sdk'
import type { ParsedRequest } from '@enclave-custody/sdk/protocol'
import { compileSigningPolicy, createRollingLimits, evaluateSigningPolicy, extractFacts, type PolicySigningKey, signingOperationOf } from './policyEngine.js'

/** Parameters of {@link testSigningPolicy}. */
export type TestSigningPolicyParameters = {
  /** The policy (canonical or not: it is put through the schema again). */
  policy: SigningPolicy
  /** The signing request, its params validated (`parseParams`). */
  request: ParsedRequest
  /** The API key that would stamp the request (the `signer` fact; it counts towards a rule's quorum). */
  signer?: Hex | undefined
  /** API keys whose approval stamps would be on the request. */
  approvers?: readonly Hex[] | undefined
  /**
   * Evaluate as an enclave that has just booted: a rolling limit with `afterRestart: 'deny-until-window-end'` then
   * refuses. Otherwise the enclave has run for longer than any window and signed nothing under the policy's limits.
   * @default false
   */
  freshBoot?: boolean | undefined
  /**
   * The public key of the key that would sign (secp256k1, compressed, 33 bytes): Bitcoin facts need it to tell the
   * key's own change outputs from payments. Required for a `sign.bitcoinPsbt` request; other families ignore it.
   */
  publicKey?: Uint8Array | undefined
  /** The clock, in milliseconds. @default Date.now */
  now?: (() => number) | undefined
}

/** The decision of {@link testSigningPolicy}. */
export type TestSigningPolicyReturnType = {
  allowed: boolean
  /** The allowing rule; for a denial, the deny rule or the allow rule that could not allow (none: "no rule allows"). */
  rule?: string
  /** Why it was denied, as the enclave says it. */
  reason?: string
  /** One line: `allowed by rule "…"`, or the enclave's POLICY_DENIED message (`denied: rule "…": …`, `denied: no rule allows`). */
  message: string
  /** The payload's facts as the enclave extracts them (integers as decimal strings), with `signer` when given. */
  facts: Record<string, string | boolean | string[]>
  /** What the offline evaluation cannot know and the enclave also checks (sealed flags, owners, limits' history). */
  notes: string[]
}

/** The sealed flag a payload needs besides any rule, if any. */
function sealedFlagNote(request: ParsedRequest): string | undefined {
  const ceiling = 'a sealed flag is a ceiling no rule widens'
  if (request.op === 'sign.digest') return `the enclave signs a raw digest only with a key sealed with allowRawDigest (${ceiling})`
  if (request.op === 'sign.transaction' && request.params.tx.allowReplayable && request.params.tx.transaction.chainId === null) {
    return `the enclave signs a legacy transaction without chainId only with a key sealed with allowReplayableLegacy (${ceiling})`
  }
  if (request.op === 'sign.authorization' && request.params.authorization.authorization.chainId === 0n) {
    return `the enclave signs an authorization for every chain (chainId 0) only with a key sealed with allowAnyChainAuthorization (${ceiling})`
  }
  if (request.op === 'sign.bitcoinPsbt') {
    const { allow } = request.params
    if (allow?.unprovenSegwitAmounts) return `the enclave signs segwit v0 inputs whose amount only a witnessUtxo states only with a key sealed with allowUnprovenBitcoinAmounts (${ceiling})`
    if ((allow?.sighashTypes ?? []).some((t) => t !== 0x01)) return `the enclave signs with sighash types other than ALL only with a key sealed with allowBitcoinSighashTypes (${ceiling})`
  }
  return undefined
}

/** Facts as JSON: integers as decimal strings, lists (Bitcoin outputs, Solana programs…) as arrays of strings. */
function factsJson(facts: PolicyFacts): Record<string, string | boolean | string[]> {
  return Object.fromEntries(
    Object.entries(facts).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : Array.isArray(v) ? v.map(String) : (v as string | boolean)]),
  )
}

/**
 * The key the offline extractors read, by the operation's family: for Bitcoin a plain secp256k1 key with
 * `publicKey` (compressed; its own outputs are change), for Solana an ed25519 key (its facts read only the curve),
 * none for EVM (its facts read the payload alone).
 */
function offlineKey(request: ParsedRequest, keyId: string, publicKey: Uint8Array | undefined): PolicySigningKey | undefined {
  const family = signingOperationOf(request.op)?.family
  if (family === 'solana') {
    return {
      keyId,
      curve: 'ed25519',
      families: ['solana'],
      address: '',
      publicKey: () => {
        throw new TypeError('the public key of a Solana key is not known offline')
      },
    }
  }
  if (publicKey === undefined) return undefined
  const bytes = Uint8Array.from(publicKey)
  return { keyId, curve: 'secp256k1', families: ['evm', 'bitcoin'], address: '', publicKey: () => Uint8Array.from(bytes) }
}

/**
 * Evaluate a signing request against a signing policy offline, with the enclave's own engine: the payload's facts
 * from the extractor the enclave registers for its operation (`extractFacts`), the policy through
 * `compileSigningPolicy`, the decision from `evaluateSigningPolicy` with fresh rolling-limit state (nothing signed
 * yet under any limit; with `freshBoot`, an enclave that has just booted). No key, no enclave: the sealed flags
 * and the key's owners are not known here, and are named in `notes` when they matter.
 *
 * @returns the decision, the facts and the notes
 * @throws InvalidArgumentError (from the schema or an extractor) naming the field, for a policy or a payload the
 * enclave would refuse
 * @example
 * import { normalizeSigningPolicy } from '@enclave-custody/sdk'
 * import { parseParams } from '@enclave-custody/sdk/protocol'
 * const policy = normalizeSigningPolicy({ rules: [{ id: 'small', effect: 'allow', when: { value: { lte: '100' } } }] })
 * const request = parseParams({ id: 't', op: 'sign.eip1559', params: { keyId: 'k', tx: { chainId: '1', nonce: '0', to, value: '50', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' } } })
 * testSigningPolicy({ policy, request }) // { allowed: true, rule: 'small', message: 'allowed by rule "small"', … }
 */
export function testSigningPolicy({ policy, request, signer, approvers = [], freshBoot = false, publicKey, now = Date.now }: TestSigningPolicyParameters): TestSigningPolicyReturnType {
  const compiled = compileSigningPolicy(policy)
  const keyId = 'keyId' in request.params ? String(request.params.keyId) : 'policy-test'
  if (request.op === 'sign.bitcoinPsbt' && publicKey === undefined) {
    throw new InvalidArgumentError({ field: 'publicKey', rule: "is required for a PSBT: the Bitcoin facts tell the key's change outputs from payments by its public key" })
  }
  if (publicKey !== undefined && publicKey.length !== 33) throw new InvalidArgumentError({ field: 'publicKey', rule: 'must be a compressed secp256k1 public key (33 bytes)' })
  const extracted = extractFacts(request, offlineKey(request, keyId, publicKey))
  if (extracted === undefined) throw new TypeError(`${request.op} signs nothing: it has no facts`)
  const facts: PolicyFacts = { ...extracted, ...(signer === undefined ? {} : { signer: canonicalApiKey(signer, 'signer') }) }
  const start = now()
  const limits = createRollingLimits({ now, bootTime: freshBoot ? start : start - MAX_WINDOW_MS })
  const decision = evaluateSigningPolicy(compiled, facts, { keyId, approvers: new Set(approvers.map((k, i) => canonicalApiKey(k, `approvers[${i}]`))), limits })
  if (decision.allowed) decision.reservation?.release()

  const notes: string[] = []
  const flag = sealedFlagNote(request)
  if (flag) notes.push(flag)
  if (facts.signer !== undefined && policy.signers.length > 0 && !policy.signers.some((k) => canonicalApiKey(k, 'signers') === facts.signer)) {
    notes.push("the signer is not among the policy's signers: the enclave lets it sign only if it is an owner of the key")
  }
  const usesSigner = policy.rules.some((r) => r.when.signer !== undefined || r.approvals !== undefined || r.limit?.per === 'signer')
  if (facts.signer === undefined && usesSigner) notes.push('no --signer: conditions on "signer" do not hold and no requester counts towards a quorum')
  const limited = decision.allowed && decision.rule !== undefined ? policy.rules.find((r) => r.id === decision.rule)?.limit : undefined
  if (limited) notes.push(`rule "${decision.rule}" has a rolling limit of ${limited.max} ${limited.sum} per ${limited.window}: evaluated as if nothing were signed under it yet (the enclave counts what it signed)`)

  const base = { facts: factsJson(facts), notes }
  if (decision.allowed) {
    const message = decision.rule === undefined ? 'allowed: the policy has no allow rule and no deny rule matches' : `allowed by rule "${decision.rule}"`
    return { allowed: true, ...(decision.rule === undefined ? {} : { rule: decision.rule }), message, ...base }
  }
  const message = `denied: ${decision.rule === undefined ? decision.reason : `rule "${decision.rule}": ${decision.reason}`}`
  return { allowed: false, ...(decision.rule === undefined ? {} : { rule: decision.rule }), reason: decision.reason, message, ...base }
}
