import { getRandomValues, randomBytes } from 'node:crypto'
import {
  canonicalApiKey,
  ForbiddenError,
  isCanonicalOwners,
  type Owners,
  recordEncryptionContext,
  DEFAULT_KEY_POLICY,
  DEFAULT_MAX_GAS,
  encryptionContextsEqual,
  hexToBytes,
  keyInfoOfRecord,
  type KeyPolicy,
  keyEncryptionContext,
  keyPolicyOfRecord,
  PolicyDeniedError,
  publicKeyToAddress,
  type PolicyFacts,
} from '@enclave-custody/sdk'
import {
  type CustodyError,
  errorResponse,
  IntegrityError,
  idOf,
  InternalError,
  InvalidArgumentError,
  InvalidFrameError,
  isCustodyError,
  KeyExistsError,
  UnknownOperationError,
  UnauthenticatedError,
  type KeyInfoWire,
  KeyNotFoundError,
  MAX_LISTED_RECORDS,
  type OperationParams,
  type ParsedRequest,
  ParentContextSchema,
  PROTOCOL_VERSION,
  parseEnvelope,
  parseParams,
  type RequestEnvelope,
  requestDigest,
  type ResponseMessage,
  responseSigningPayload,
  successResponse,
  UNSTAMPED_OPERATIONS,
  verifyStamp,
  type Hex,
  jsonDigest,
  hpkeKeyIdOf,
  importAad,
} from '@enclave-custody/sdk/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { createIdempotencyStore } from './idempotency/createIdempotencyStore.js'
import type { AuditLog } from './audit/createAuditLog.js'
import type { NonceCache } from './auth/createNonceCache.js'
import type { EnclaveIdentity } from './identity/createEnclaveIdentity.js'
import type { KeyStore, SealedKeyRecord, SealedSecret, Sealer, UnsealContext } from './keys/types.js'
import { type Logger, silentLogger } from '@enclave-custody/sdk/server'
import type { KeyCache } from './unseal/keyCache.js'
import { createRecordV2, openRecordV2 } from './keys/recordV2.js'
import type { AuditRecord } from './audit/createAuditLog.js'
import { evaluateSigningPolicy } from './policy/evaluateSigningPolicy.js'
import { createRollingLimits, type RollingLimits } from './policy/rollingLimits.js'
import { createMemoryPolicyStore, createSigningPolicies, type LoadedPolicy, POLICY_REFRESH_MS } from './policy/signingPolicies.js'
import type { PolicyStore } from './policy/types.js'
import { type SigningOperation, signingOperationOf } from './families/index.js'
import type { SigningKey, SigningOperationSpec, SigningSecret } from './families/types.js'
import { signItems } from './families/batch.js'
import { checkMaterial, deriveAccount, familiesOfRecord, isValidKeyMaterial, type PlainKeyKind, plainKeyHeader, reportedPublicKey, signingKeyOf, walletHeader } from './keys/keyKinds.js'
import type { RecordV2Kind } from './keys/recordV2.js'
import { assertMnemonic, BIP39_MAX_PASSPHRASE_LENGTH, entropyToMnemonic, mnemonicToSeed } from './families/hd/mnemonic.js'

export type RequestHandlerOptions = {
  keyStore: KeyStore
  sealer: Sealer
  /** Refuse transactions whose gas exceeds this. @default 30_000_000n */
  maxGas?: bigint
  logger?: Logger
  /** Clock for `createdAt`. @default () => new Date() */
  now?: () => Date
  /**
   * Plaintext keys kept between requests (zeroed on eviction), keyed by keyId and the record's
   * ciphertext: one KMS call per key per TTL instead of one per signature. @default no cache
   */
  keyCache?: KeyCache
  /**
   * This boot's identity, its audit log and its stamp-nonce memory. With them every request but health and
   * attestation must carry a valid stamp for `identity.aud`, every answer to a stamped request is signed by
   * the response key, and every such request leaves an audit event.
   */
  session: EnclaveSession
  /**
   * API public keys that may use records sealed before owners existed (an image build argument, so measured
   * into PCR0). No stamp, however valid, uses such a record otherwise. @default none
   */
  legacyOwners?: readonly string[]
  /**
   * Where the enclave reads keys' signing policies itself (production: Secrets Manager over TLS that ends here,
   * in the sealing key's account and region). @default an in-memory store (tests, the in-process enclave)
   */
  policyStore?: PolicyStore
  /** How long a policy read from the store serves before it is read again. @default 30_000 */
  policyRefreshMs?: number
  /**
   * The rolling limits' counters (reserve-then-commit). @default `createRollingLimits` over this handler's clock,
   * with the session's boot time (a restart does not refill a limit unless its rule says `afterRestart: 'reset'`)
   */
  limits?: RollingLimits
}

/**
 * Who asked: the stamping API key, its stamp's nonce, and every API key whose stamp over this same request
 * verified (the requester's and its approval stamps', as compressed points). `audit` collects what the
 * request's audit event reports besides the outcome.
 */
type Caller = { key: Hex; nonce: Hex; approvers(): ReadonlySet<Hex>; audit: Partial<AuditRecord>; /** The digest the answer is signed over (a batch's item events name it). */ requestDigest?: Hex }

/** What an operation needs of its caller: read a key, administer its policy, sign with it, or create an account of a wallet. */
type Access = 'read' | 'admin' | 'sign' | 'create'

/** One boot's identity, audit log and stamp-nonce memory (see `createEnclaveSession`). */
export type EnclaveSession = { identity: EnclaveIdentity; audit: AuditLog; nonces: NonceCache }

export type RequestHandler = {
  /**
   * Answer one decoded protocol message. Never throws: every failure becomes an error response with
   * a stable code. `context` carries what the parent forwards (credentials for unsealing).
   */
  handle(message: unknown, context?: unknown): Promise<ResponseMessage>
}

/**
 * What a record's signing policy is read, checked and cached under: the record itself (its keyId and address), an
 * HD wallet under its master key's address, and an HD account under its wallet's (policy and limits belong to the
 * wallet, so a delegate gains no fresh limit from a new account). With `op`, an account is refused: its policy
 * is set and read on the wallet.
 */
function policySubjectOf(record: SealedKeyRecord, op?: string): SealedKeyRecord {
  if (record.version !== 2 || record.address !== undefined && record.kind !== 'hd-account') return record
  if (record.kind === 'hd-account') {
    if (op) throw new InvalidArgumentError({ field: 'keyId', rule: `names an account of wallet "${record.walletId}": ${op} applies to the wallet` })
    return { ...record, keyId: record.walletId as string, address: masterAddress(record.walletPublicKey as Hex) }
  }
  return { ...record, address: masterAddress(record.publicKey as Hex) }
}

/**
 * The EVM-style address of a wallet's compressed master key: what its policy documents' `keyPublicKey` hashes to.
 * A pure function of its input, computed once per key (a point decompression and a keccak on every signature of an
 * HD account otherwise); bounded like the key cache.
 */
function masterAddress(publicKey: Hex): ReturnType<typeof publicKeyToAddress> {
  let address = masterAddresses.get(publicKey)
  if (address === undefined) {
    address = publicKeyToAddress(secp256k1.Point.fromBytes(hexToBytes(publicKey)).toBytes(false))
    if (masterAddresses.size >= 10_000) masterAddresses.delete(masterAddresses.keys().next().value!)
    masterAddresses.set(publicKey, address)
  }
  return address
}
const masterAddresses = new Map<Hex, ReturnType<typeof publicKeyToAddress>>()

/** A record's public description, with the public key of the key it unsealed to. */
const toKeyInfo = (r: SealedKeyRecord, key: SigningKey): KeyInfoWire => ({ ...keyInfoOfRecord(r), publicKey: reportedPublicKey(key) }) as KeyInfoWire

/**
 * The enclave's request handler: import, generate, get, list and sign (transactions of type 0, 1, 2 and 4,
 * EIP-7702 authorizations, EIP-191 messages, EIP-712 typed data, and raw digests for keys whose policy
 * allows it), independent of the socket it is served on. Plaintext key bytes exist only for the duration
 * of one operation and are zeroed after it.
 *
 * A key's policy and owners come from its record and are trusted only once the record has unsealed: the
 * sealing binds `recordEncryptionContext(record)` (keyId, policy, owners, and `record: 'v2'` for a v2 record's
 * data key), which the handler requires the record's `encryptionContext` to be. Every operation but health and
 * attestation needs a verified stamp (`session`); a key serves only its owners (or, for a record sealed before
 * owners, the image's `legacyOwners`).
 */
export function createRequestHandler({
  keyStore,
  sealer,
  maxGas = DEFAULT_MAX_GAS,
  logger = silentLogger,
  now = () => new Date(),
  keyCache,
  session,
  legacyOwners,
  policyStore = createMemoryPolicyStore(),
  policyRefreshMs = POLICY_REFRESH_MS,
  limits = createRollingLimits({ now: () => now().getTime(), bootTime: session.identity.bootTime }),
}: RequestHandlerOptions): RequestHandler {
  const idempotency = createIdempotencyStore()
  const policies = createSigningPolicies({ store: policyStore, now: () => now().getTime(), refreshMs: policyRefreshMs })
  /** Canonical legacy owners: who may use a record sealed before owners existed (measured into the image). */
  const legacy = new Set((legacyOwners ?? []).map((k, i) => canonicalApiKey(k, `legacyOwners[${i}]`)))
  /** The owners of a record sealed before owners existed: the legacy owners, any one of them. */
  const legacyAsOwners: Owners = { publicKeys: [...legacy].sort(), threshold: 1 }

  /** Who owns `record`: its sealed owners, or, for a record sealed before owners, the image's legacy owners. */
  function ownersOf(record: SealedKeyRecord): Owners {
    return (record.owners as Owners | undefined) ?? legacyAsOwners
  }

  /**
   * Whether `caller` may do `access` with `record`: owners may read and administer (a policy change carries its
   * own owner approvals) and sign once their threshold of distinct owner stamps is on the request; the policy's
   * signers may read and sign under its rules. Checked against the record's claimed owners before unsealing; the
   * unsealing then proves the claim (the owners' hash is in the sealing's context).
   */
  function authorize(record: SealedKeyRecord, caller: Caller, access: Access, policy?: LoadedPolicy): void {
    const owners = ownersOf(record)
    const isSigner = (access === 'read' || access === 'sign') && policy?.signed.document.signers.includes(caller.key) === true
    if (owners.publicKeys.includes(caller.key)) {
      // A delegated signer of the policy needs no owner quorum; an owner signing needs the owners' threshold
      // (approval stamps are verified only when a threshold above 1 asks for them).
      const quorum = (access === 'sign' && !isSigner) || access === 'create'
      const stamps = quorum && owners.threshold > 1 ? owners.publicKeys.filter((k) => caller.approvers().has(k)).length : owners.threshold
      if (stamps < owners.threshold) {
        throw new ForbiddenError({ reason: `key "${record.keyId}" needs stamps of ${owners.threshold} distinct owners (approvals); this request has ${stamps}` })
      }
      return
    }
    if (isSigner) return
    if (!record.owners) throw new ForbiddenError({ reason: `key "${record.keyId}" predates owners; only the image's legacy owners may use it` })
    throw new ForbiddenError({ reason: `this API key is not an owner${access === 'admin' || access === 'create' ? '' : ' or a signer'} of key "${record.keyId}"` })
  }

  /** Open key material sealed to this enclave's HPKE key for this request (its AAD binds requester, nonce, id, owners, kind). */
  async function openSealedImport(sealed: { to: string; enc: string; ciphertext: string }, aad: Parameters<typeof importAad>[0]): Promise<Uint8Array> {
    if (sealed.to !== hpkeKeyIdOf(session.identity.hpkePublicKey)) {
      throw new InvalidArgumentError({ field: 'sealed.to', rule: 'names another enclave\'s HPKE key (seal to the key this enclave attested)' })
    }
    try {
      return await session.identity.openHpke(hexToBytes(sealed.enc), hexToBytes(sealed.ciphertext), importAad(aad))
    } catch {
      // The associated data binds the API key, the stamp's nonce, the id, owners and kind: a re-stamped capture fails here.
      throw new InvalidArgumentError({ field: 'sealed', rule: 'does not open: it was sealed for another request, API key, keyId, owners, kind or enclave' })
    }
  }

  /**
   * The next default account index of a wallet's family (for Bitcoin, of its network and format: each has its own
   * purpose and coin type): how many such accounts the key store lists, 0 without a list. The list is the parent's:
   * one that hides accounts gets a second record of an existing account (same key, same wallet limits), nothing more.
   */
  async function nextAccountIndex(walletId: string, spec: { family: string; network?: string | undefined; format?: string | undefined }, context: UnsealContext | undefined): Promise<number> {
    if (!keyStore.list) return 0
    const records = await keyStore.list(context)
    const same = (r: SealedKeyRecord) =>
      r.version === 2 && r.kind === 'hd-account' && r.walletId === walletId && r.family === spec.family &&
      (spec.family !== 'bitcoin' || (r.network === (spec.network ?? 'mainnet') && r.format === (spec.format ?? 'p2wpkh')))
    return records.filter(same).length
  }

  async function recordOf(keyId: string, context: UnsealContext | undefined): Promise<SealedKeyRecord> {
    const record = await keyStore.get(keyId, context)
    if (!record) throw new KeyNotFoundError({ keyId })
    return record
  }

  /**
   * Sign a structured payload with `keyId`: extract its facts (nothing is signed whose facts cannot be
   * extracted), authorize the caller, evaluate the key's signing policy (reserving its rolling limits), then
   * unseal and sign with `fn`, which checks the sealed flags (a ceiling no rule widens). A limit's reservation is
   * committed once the signature exists and released when anything failed.
   */
  async function sign(req: ParsedRequest & { op: SigningOperation }, context: UnsealContext | undefined, caller: Caller): Promise<unknown> {
    const spec = specOf(req.op)
    const params = req.params as never
    const { keyId } = req.params as { keyId: string }
    spec.check?.(params, { maxGas })
    const record = await recordOf(keyId, context)
    checkFamily(record, spec, req.op)
    const access = await signingAccess(record, context, caller)
    return withRecord(record, context, (secret, keyPolicy, key) => {
      access.read.remember()
      return signPayload(spec, params, { secret, keyPolicy, key }, access, caller)
    })
  }

  /** The spec of a signing operation (the request's op passed its schema, so one exists). */
  function specOf(op: SigningOperation): SigningOperationSpec<SigningOperation> {
    const spec = signingOperationOf(op)
    if (!spec) throw new InternalError({ reason: `no signing operation ${op}` })
    return spec
  }

  /** Refuse an operation of a family the record's key does not sign for. */
  function checkFamily(record: SealedKeyRecord, spec: SigningOperationSpec<SigningOperation>, op: string): void {
    const families = familiesOfRecord(record)
    if (!families.includes(spec.family)) {
      const what = record.version === 2 && record.kind === 'hd-wallet' ? 'an HD wallet, which signs through its accounts (account.create)' : `a key that signs for ${families.join(' and ')}`
      throw new InvalidArgumentError({ field: 'keyId', rule: `names ${what}, not ${spec.family} (${op})` })
    }
  }

  /** Read the signing policy that governs `record` and authorize `caller` to sign with it (once per request). */
  async function signingAccess(record: SealedKeyRecord, context: UnsealContext | undefined, caller: Caller) {
    // An HD account is governed by its wallet's signing policy and limits (one limit for all the wallet's accounts).
    const subject = policySubjectOf(record)
    const read = await policies.current(subject, ownersOf(record), context)
    const policy = read.loaded
    authorize(record, caller, 'sign', policy)
    return { read, policy, subject }
  }

  /**
   * Facts, policy decision (reserving the rolling limits), signature and the limit's commit of one payload, with
   * the key already unsealed: the one path of a single sign request and of each item of a batch.
   */
  function signPayload(
    spec: SigningOperationSpec<SigningOperation>,
    params: never,
    unsealed: { secret: SigningSecret; keyPolicy: KeyPolicy; key: SigningKey },
    { policy, subject }: { policy: LoadedPolicy | undefined; subject: SealedKeyRecord },
    caller: Caller,
  ): unknown {
    const { secret, keyPolicy, key } = unsealed
    // Facts come from the payload and the unsealed key's public side (a Bitcoin key's own outputs are change).
    const facts: PolicyFacts = spec.facts(params, key)
    // Limits are counted per policy subject: its keyId and its address (a record the parent made under the same
    // keyId, with a policy of its own, draws on another bucket).
    const reservation = policy ? decide(policy, facts, caller, `${subject.keyId}@${subject.address}`) : undefined
    // Evaluation, signing and the limit's commit run in one synchronous step: no other request interleaves.
    let out: unknown
    try {
      out = spec.sign(secret, params, { policy: keyPolicy, key })
    } catch (e) {
      reservation?.release()
      throw e
    }
    reservation?.commit()
    return out
  }

  /**
   * `sign.batch`: one stamp, one owner check, one policy read and one unsealing for every item; then each item,
   * in order, through the single operation's own checks ({@link signItems}): its schema, the gas cap, its family,
   * its facts and the policy (each item's limit reservation committed before the next item is evaluated, all in
   * one synchronous step, so item k sees the spend of items 1..k-1 and no other request interleaves).
   */
  async function signBatch(params: OperationParams<'sign.batch'>, context: UnsealContext | undefined, caller: Caller, id: string): Promise<unknown> {
    const { keyId, items } = params
    const record = await recordOf(keyId, context)
    // Nothing is unsealed for a batch none of whose items this key signs (an HD wallet signs through its accounts):
    // the single operation's refusal, before the key's material is opened.
    const families = familiesOfRecord(record)
    const first = items[0]!
    if (!items.some((item) => families.includes(specOf(item.op as SigningOperation).family))) checkFamily(record, specOf(first.op as SigningOperation), first.op)
    const access = await signingAccess(record, context, caller)
    if (access.policy) {
      caller.audit.policyVersion = access.policy.ref.version
      caller.audit.policyDigest = access.policy.ref.digest
    }
    return withRecord(record, context, (secret, keyPolicy, key) => {
      access.read.remember()
      const results = signItems(items, {
        sign(item, audit) {
          // The single operation's params schema, over the item's params under the batch's key.
          const req = parseParams({ id, op: item.op, params: { ...item.params, keyId } }) as ParsedRequest & { op: SigningOperation }
          const spec = specOf(req.op)
          spec.check?.(req.params as never, { maxGas })
          checkFamily(record, spec, req.op)
          // Each item reports its own rule in its own event; the approvers are the batch's (stamps over the whole batch).
          return signPayload(spec, req.params as never, { secret, keyPolicy, key }, access, { ...caller, audit })
        },
        audit(item, outcome, fields) {
          // One audit event per item (the batch's own event follows, as for every request), under the batch's digest.
          session.audit.record({
            op: item.op,
            outcome,
            keyId,
            ...(caller.requestDigest ? { requestDigest: caller.requestDigest } : {}),
            apiKey: caller.key,
            ...(caller.audit.approvers ? { approvers: caller.audit.approvers } : {}),
            ...fields,
          })
        },
        publicError,
      })
      return { results }
    })
  }

  /**
   * Evaluate a key's signing policy over a payload's facts for `caller` (approval stamps are verified only for a
   * policy with a quorum rule). Returns the rule's limit reservation, if any.
   * @throws PolicyDeniedError naming the rule, when the policy refuses.
   */
  function decide(policy: LoadedPolicy, facts: PolicyFacts, caller: Caller, keyId: string): { commit(): void; release(): void } | undefined {
    caller.audit.policyVersion = policy.ref.version
    caller.audit.policyDigest = policy.ref.digest
    const approvers = policy.compiled.allow.some((r) => r.approvals) ? caller.approvers() : new Set([caller.key])
    let decision: ReturnType<typeof evaluateSigningPolicy>
    try {
      decision = evaluateSigningPolicy(policy.compiled, { ...facts, signer: caller.key }, { keyId, approvers, limits })
    } catch {
      // Facts come from our own extractors: one the evaluator cannot read is our bug, and nothing is signed.
      throw new InternalError({ reason: 'the signing policy could not be evaluated' })
    }
    if (decision.rule !== undefined) caller.audit.rule = decision.rule
    if (!decision.allowed) throw new PolicyDeniedError({ reason: decision.rule === undefined ? decision.reason : `rule "${decision.rule}": ${decision.reason}`, ...(decision.rule === undefined ? {} : { rule: decision.rule }) })
    return decision.reservation
  }

  /**
   * Seal key material into a new v2 record (a fresh data key from the sealer: KMS GenerateDataKey with this
   * enclave's attestation, or the local sealer) and persist it, or return it for the caller to store.
   */
  async function store(keyId: string, header: RecordV2Kind, material: Uint8Array, context: UnsealContext | undefined, policy: KeyPolicy, owners: Owners, creator: Hex): Promise<KeyInfoWire & { record?: SealedKeyRecord }> {
    const { privateKey: dataKey, sealed } = sealer.generate ? await sealer.generate(keyId, context, policy, owners, 2) : await generateAndSeal(sealer, keyId, context, policy, owners)
    let record: SealedKeyRecord
    try {
      // A sealer that ignored the policy, the owners or the record format would leave them unbound (a data key
      // sealed like a v1 private key would unseal as one): refuse to create such a record.
      if (!encryptionContextsEqual(sealed.encryptionContext, keyEncryptionContext(keyId, policy, owners, 2))) {
        throw new InternalError({ reason: `the ${sealer.kind} sealer did not bind the key's policy and owners to its sealing` })
      }
      record = createRecordV2({ keyId, key: header, material, dataKey, sealed, policy, owners, createdAt: now().toISOString(), creator, identity: session.identity })
    } finally {
      dataKey.fill(0)
    }
    const key = signingKeyOf(record, material)
    if (!keyStore.put) return { ...toKeyInfo(record, key), record }
    await keyStore.put(record)
    return toKeyInfo(record, key)
  }

  /**
   * Run `fn` with the unsealed key of `keyId` and the record's policy. The policy is checked against the
   * record's encryption context before unsealing, and the unsealing (KMS, or AES-GCM's AAD) checks that
   * context against the ciphertext, so `fn` only ever sees a policy the key was sealed with.
   */
  async function withRecord<T>(
    record: SealedKeyRecord,
    context: UnsealContext | undefined,
    fn: (secret: SigningSecret, policy: KeyPolicy, key: SigningKey) => T,
  ): Promise<T> {
    let policy: KeyPolicy
    let expected: Record<string, string>
    try {
      policy = keyPolicyOfRecord(record)
      expected = recordEncryptionContext(record)
    } catch {
      throw new IntegrityError({ reason: 'the record\'s policy or owners are malformed' })
    }
    if (record.owners && !isCanonicalOwners(record.owners as Owners)) throw new IntegrityError({ reason: 'the record\'s owners are not canonical' })
    const encryptionContext = record.encryptionContext ?? {}
    if (!encryptionContextsEqual(encryptionContext, expected)) {
      throw new IntegrityError({ reason: 'the record\'s encryption context does not bind its keyId, policy and owners' })
    }
    // A record that differs in any byte (sealed bytes, context, policy, owners, address, sealer, KMS key, v2
    // header or data key) is another cache entry, never a hit: a cached key never vouches for an edited
    // record (a relabelled kmsKeyId must reach the sealer's pin check).
    const cacheKey = `${record.keyId}:${jsonDigest(record)}`
    const cached = keyCache?.get(cacheKey)
    const privateKey = cached ?? (await unsealWith(sealer, record, context))
    try {
      // Checking the key against its record costs a scalar multiplication: do it once per unseal, not per signature.
      // A cache entry exists only for a key that matched this exact record's address.
      if (!cached) {
        checkMaterial(record, privateKey)
        keyCache?.set(cacheKey, privateKey)
      }
      return fn({ privateKey }, policy, signingKeyOf(record, privateKey))
    } finally {
      privateKey.fill(0)
    }
  }

  async function dispatch(req: ParsedRequest, context: UnsealContext | undefined, who: Caller): Promise<unknown> {
    const { key: caller, nonce } = who
    switch (req.op) {
      case 'key.importSealed': {
        const { keyId } = req.params
        const kind: PlainKeyKind = req.params.kind ?? 'secp256k1'
        const policy = req.params.policy ?? { ...DEFAULT_KEY_POLICY }
        const owners = req.params.owners ?? { publicKeys: [caller], threshold: 1 }
        const privateKey = await openSealedImport(req.params.sealed, { apiKey: caller, keyId, nonce, owners, kind })
        try {
          if (!isValidKeyMaterial(kind, privateKey)) throw new InvalidArgumentError({ field: 'sealed', rule: `must hold a valid ${kind} private key` })
          if (await keyStore.get(keyId, context)) throw new KeyExistsError({ keyId })
          return await store(keyId, plainKeyHeader(kind, privateKey), privateKey, context, policy, owners, caller)
        } finally {
          privateKey.fill(0)
        }
      }
      case 'key.import': {
        const keyId = req.params.keyId ?? newKeyId()
        const kind: PlainKeyKind = req.params.kind ?? 'secp256k1'
        const policy = req.params.policy ?? { ...DEFAULT_KEY_POLICY }
        const owners = req.params.owners ?? { publicKeys: [caller], threshold: 1 }
        const privateKey = hexToBytes(req.params.privateKey)
        try {
          if (!isValidKeyMaterial(kind, privateKey)) throw new InvalidArgumentError({ field: 'privateKey', rule: `must be a valid ${kind} private key` })
          if (await keyStore.get(keyId, context)) throw new KeyExistsError({ keyId })
          return await store(keyId, plainKeyHeader(kind, privateKey), privateKey, context, policy, owners, caller)
        } finally {
          privateKey.fill(0)
        }
      }
      case 'key.generate': {
        const keyId = req.params.keyId ?? newKeyId()
        const kind: PlainKeyKind = req.params.kind ?? 'secp256k1'
        const policy = req.params.policy ?? { ...DEFAULT_KEY_POLICY }
        const owners = req.params.owners ?? { publicKeys: [caller], threshold: 1 }
        // getRandomValues fills our own buffer: no copy of the key is left in Node's Buffer pool.
        const privateKey = getRandomValues(new Uint8Array(32))
        while (!isValidKeyMaterial(kind, privateKey)) getRandomValues(privateKey)
        try {
          return await store(keyId, plainKeyHeader(kind, privateKey), privateKey, context, policy, owners, caller)
        } finally {
          privateKey.fill(0)
        }
      }
      case 'wallet.create': {
        const walletId = req.params.walletId ?? newKeyId('wallet')
        const policy = req.params.policy ?? { ...DEFAULT_KEY_POLICY }
        const owners = req.params.owners ?? { publicKeys: [caller], threshold: 1 }
        if (await keyStore.get(walletId, context)) throw new KeyExistsError({ keyId: walletId })
        // BIP-39 entropy from the enclave's CSPRNG (Nitro: seeded by the NSM), then the standard seed (no passphrase).
        const entropy = getRandomValues(new Uint8Array(req.params.words === undefined ? 32 : (req.params.words / 3) * 4))
        const seed = mnemonicToSeed(entropyToMnemonic(entropy))
        entropy.fill(0)
        try {
          return await store(walletId, walletHeader(seed), seed, context, policy, owners, caller)
        } finally {
          seed.fill(0)
        }
      }
      case 'wallet.importSealed': {
        const { walletId } = req.params
        const policy = req.params.policy ?? { ...DEFAULT_KEY_POLICY }
        const owners = req.params.owners ?? { publicKeys: [caller], threshold: 1 }
        const opened = await openSealedImport(req.params.sealed, { apiKey: caller, keyId: walletId, nonce, owners, kind: 'hd-wallet' })
        let seed: Uint8Array
        try {
          seed = seedOfSealedMnemonic(opened)
        } finally {
          opened.fill(0)
        }
        try {
          if (await keyStore.get(walletId, context)) throw new KeyExistsError({ keyId: walletId })
          return await store(walletId, walletHeader(seed), seed, context, policy, owners, caller)
        } finally {
          seed.fill(0)
        }
      }
      case 'account.create': {
        const { walletId, family, path, index, network, format } = req.params
        const keyId = req.params.keyId ?? newKeyId('account')
        const wallet = await recordOf(walletId, context)
        if (wallet.version !== 2 || wallet.kind !== 'hd-wallet') throw new InvalidArgumentError({ field: 'walletId', rule: 'must name an HD wallet' })
        // The caller names the wallet by its master key too: a wallet the parent made under the same id (from a seed it
        // knows, naming the caller's owners) is refused, not derived from. The header is proven by the unsealing below.
        if (wallet.publicKey !== req.params.walletPublicKey) {
          throw new IntegrityError({ reason: `the forwarded record of wallet "${walletId}" is not the wallet whose master key the request names` })
        }
        // Accounts are the wallet owners' to make (their threshold of stamps): a delegate cannot add one.
        authorize(wallet, who, 'create')
        if (await keyStore.get(keyId, context)) throw new KeyExistsError({ keyId })
        const at = path === undefined ? { index: index ?? (await nextAccountIndex(walletId, { family, network, format }, context)) } : { path }
        const derived = await withRecord(wallet, context, ({ privateKey: seed }) =>
          deriveAccount(seed, { walletId, publicKey: wallet.publicKey as Hex, fingerprint: wallet.fingerprint as Hex }, {
            family,
            ...at,
            ...(network === undefined ? {} : { network }),
            ...(format === undefined ? {} : { format }),
          }),
        )
        try {
          // The account carries the wallet's owners and sealed flags; its signing policy and limits are the wallet's.
          return await store(keyId, derived.header, derived.privateKey, context, keyPolicyOfRecord(wallet), wallet.owners as Owners, caller)
        } finally {
          derived.privateKey.fill(0)
        }
      }
      case 'key.get': {
        // Identity only from a record that unseals: a parent cannot make the enclave vouch for an address it chose.
        const record = await recordOf(req.params.keyId, context)
        const read = await policies.current(policySubjectOf(record), ownersOf(record), context)
        const policy = read.loaded
        authorize(record, who, 'read', policy)
        return withRecord(record, context, (_, __, key) => {
          read.remember()
          return { ...toKeyInfo(record, key), ...(policy ? { signingPolicy: policy.ref } : {}) }
        })
      }
      case 'policy.get': {
        const record = await recordOf(req.params.keyId, context)
        const read = await policies.current(policySubjectOf(record, 'policy.get'), ownersOf(record), context, { fresh: true })
        const policy = read.loaded
        authorize(record, who, 'read', policy)
        // Answered only for a record that unseals: its owners (whose approvals the policy carries) are then proven.
        await withRecord(record, context, () => read.remember())
        return { keyId: record.keyId, ...(policy ? { policy: policy.signed, signingPolicy: policy.ref } : {}) }
      }
      case 'policy.set': {
        const { keyId } = req.params
        return policies.exclusive(keyId, async () => {
          const record = await recordOf(keyId, context)
          const owners = ownersOf(record)
          authorize(record, who, 'admin')
          const subject = policySubjectOf(record, 'policy.set')
          const checked = policies.check(subject, owners, req.params.policy, 'policy')
          who.audit.policyVersion = checked.ref.version
          who.audit.policyDigest = checked.ref.digest
          // The version in force as the store says it now (and never below what this boot has seen).
          const read = await policies.current(subject, owners, context, { fresh: true })
          const current = read.loaded
          if (current && checked.ref.version <= current.ref.version) {
            throw new InvalidArgumentError({ field: 'policy.document.version', rule: `must be above the version in force (${current.ref.version}): versions only increase` })
          }
          // The unsealing proves the record's owners (whose approvals were checked) and its key (the document's).
          // (`check` tied the document's public key to the record's address, which the unsealed key matches.)
          await withRecord(record, context, () => read.remember())
          // Compiled only now: a document that is not the next version costs no compilation and no memory.
          const next = policies.load(checked)
          if (!policyStore.write) return { keyId, signingPolicy: next.ref, stored: false }
          await policyStore.write(keyId, next.signed)
          policies.accept(subject, owners, next)
          return { keyId, signingPolicy: next.ref, stored: true }
        })
      }
      case 'system.health':
        return { status: 'ok', protocolVersion: PROTOCOL_VERSION }
      case 'system.attestation':
        return session.identity.attest(hexToBytes(req.params.nonce))
      case 'audit.read':
        return { events: session.audit.read(req.params.after, req.params.limit ?? 1000) }
      case 'key.list': {
        if (!keyStore.list) throw new UnknownOperationError({ op: 'key.list' })
        const keys: KeyInfoWire[] = []
        let skipped = 0
        // The cap counts this caller's keys: records of other owners, and (when the caller names the creators it
        // trusts) records another API key created, are left out first (no unsealing), so that no one else's keys
        // push the caller's out of its list. Records without a creator (the offline importer's) always count.
        const creators = req.params.creators ? new Set<string>(req.params.creators) : undefined
        const mine = (await keyStore.list(context)).filter((record) => {
          const creator = record.version === 2 ? record.creator : undefined
          if (creators && creator !== undefined && !creators.has(creator)) return false
          try {
            // Owners only: a policy's signers are not listed (listing would read every key's policy).
            authorize(record, who, 'read')
            return true
          } catch (e) {
            // Keys this caller may not use are left out of its list, not counted; a record that cannot be read is.
            if (!isCustodyError(e, 'FORBIDDEN')) skipped++
            return false
          }
        })
        for (const record of mine.slice(0, MAX_LISTED_RECORDS)) {
          try {
            keys.push(await withRecord(record, context, (_, __, key) => toKeyInfo(record, key)))
          } catch (e) {
            if (isCustodyError(e, 'UNAVAILABLE') || isCustodyError(e, 'TIMEOUT')) throw e
            skipped++
          }
        }
        return skipped > 0 ? { keys, skipped } : { keys }
      }
      case 'sign.batch':
        return signBatch(req.params, context, who, req.id)
      default:
        // Every signing operation, of every chain family, through its spec (families/index.ts).
        return sign(req as ParsedRequest & { op: SigningOperation }, context, who)
    }
  }

  /** Serve one request; the outcome as a result or a public error. */
  async function serve(envelope: RequestEnvelope, context: unknown, authenticate: () => Caller): Promise<{ ok: true; result: unknown } | { ok: false; error: CustodyError }> {
    try {
      const caller = authenticate()
      const req = parseParams(envelope)
      const unseal = parseContext(context)
      const key = (req.params as { idempotencyKey?: string }).idempotencyKey
      if (key === undefined) return { ok: true, result: await dispatch(req, unseal, caller) }
      // What a retry must repeat: the operation and its params (the key aside; stamps differ by design).
      const { idempotencyKey: _, ...rest } = envelope.params as Record<string, unknown>
      return { ok: true, result: await idempotency.run(caller.key, key, jsonDigest({ op: envelope.op, params: rest }), () => dispatch(req, unseal, caller)) }
    } catch (e) {
      return { ok: false, error: publicError(e) }
    }
  }

  function logOutcome(fields: { reqId: string; op: string; started: number }, outcome: { ok: true } | { ok: false; error: CustodyError; cause?: unknown }) {
    const base = { reqId: fields.reqId, op: fields.op, ms: Math.round(performance.now() - fields.started) }
    // Called as methods: pino's need their logger as `this`.
    if (outcome.ok) logger.info(base, 'request served')
    else if (outcome.error.code === 'INTERNAL') logger.error({ ...base, code: outcome.error.code }, 'request failed')
    else logger.info({ ...base, code: outcome.error.code }, 'request failed')
  }

  return {
    async handle(message, context) {
      const started = performance.now()
      const id = idOf(message)
      let envelope: RequestEnvelope
      try {
        envelope = parseEnvelope(message)
      } catch (e) {
        const error = publicError(e)
        logOutcome({ reqId: id, op: 'unknown', started }, { ok: false, error })
        return errorResponse(id, error)
      }
      const { op } = envelope
      if (UNSTAMPED_OPERATIONS.has(op)) {
        // Health and attestation: unstamped, so their answers are unsigned (an attestation proves itself).
        // No caller: these two operations touch no key.
        const outcome = await serve(envelope, context, () => ({ key: '0x' as Hex, nonce: '0x' as Hex, approvers: () => new Set(), audit: {} }))
        logOutcome({ reqId: id, op, started }, outcome)
        return outcome.ok ? successResponse(id, outcome.result) : errorResponse(id, outcome.error)
      }
      const { identity, audit, nonces } = session
      let digest: Hex
      try {
        digest = requestDigest({ v: envelope.v, op, params: envelope.params, auth: envelope.auth, aud: identity.aud })
      } catch {
        // Not canonical JSON: no digest to sign over, so the answer is unsigned (the SDK reads it as UNAVAILABLE).
        const error = new InvalidFrameError({ reason: 'params and auth must be canonical JSON (no fractions, exponents or unsafe integers)' })
        logOutcome({ reqId: id, op, started }, { ok: false, error })
        return errorResponse(id, error)
      }
      let apiKey: Hex | undefined
      let caller: Caller | undefined
      const authenticate = (): Caller => {
        const verify = (auth: unknown) => verifyStamp({ v: envelope.v, op, params: envelope.params, auth, aud: identity.aud, now: now().getTime(), notBefore: identity.bootTime })
        const stamp = verify(envelope.auth)
        nonces.claim(stamp.publicKey, stamp.nonce)
        apiKey = stamp.publicKey
        // Approval stamps are checked only when a decision needs them (an owners' threshold, a quorum rule): a
        // request cannot buy 16 signature verifications by sending junk approvals.
        let approvers: Set<Hex> | undefined
        const approversOf = (): ReadonlySet<Hex> => {
          if (approvers) return approvers
          const found = new Set<Hex>([stamp.publicKey])
          for (const [i, auth] of ((envelope.approvals as unknown[] | undefined) ?? []).entries()) {
            let approval: ReturnType<typeof verify>
            try {
              // Bound to this requester: an approval is never a request stamp, nor someone else's approval.
              approval = verifyStamp({ v: envelope.v, op, params: envelope.params, auth, aud: identity.aud, now: now().getTime(), notBefore: identity.bootTime, approvalFor: stamp.publicKey })
            } catch (e) {
              throw new UnauthenticatedError({ reason: `approvals[${i}]: ${e instanceof Error ? e.message : 'does not verify'}` })
            }
            // Each stamp once: a captured approval does not count again in another request.
            nonces.claim(approval.publicKey, approval.nonce)
            // Keys are compressed points: one key counts once, however it was sent.
            found.add(approval.publicKey)
          }
          approvers = found
          const others = [...found].filter((k) => k !== stamp.publicKey).sort()
          if (caller && others.length > 0) caller.audit.approvers = others
          return found
        }
        caller = { key: stamp.publicKey, nonce: stamp.nonce, approvers: approversOf, audit: {}, requestDigest: digest }
        return caller
      }
      const outcome = await serve(envelope, context, authenticate)
      logOutcome({ reqId: id, op, started }, outcome)
      const stamp = envelope.auth as { nonce?: string } | undefined
      if (outcome.ok && apiKey && typeof stamp?.nonce === 'string') nonces.served(apiKey, stamp.nonce)
      const keyId = keyIdOf(envelope.params) ?? (outcome.ok ? keyIdOf(outcome.result) : undefined)
      const receipt = audit.record({
        op,
        outcome: outcome.ok ? 'ok' : outcome.error.code,
        requestDigest: digest,
        ...(keyId ? { keyId } : {}),
        ...(apiKey ? { apiKey } : {}),
        ...caller?.audit,
      })
      let response: ResponseMessage = outcome.ok ? successResponse(id, outcome.result) : errorResponse(id, outcome.error)
      let signature: Hex
      try {
        const value = response.ok ? response.result : response.error
        signature = identity.sign(responseSigningPayload(identity.responseKeyId, { request: digest, ok: response.ok, value, auditSeq: receipt.seq, auditHead: receipt.head }))
      } catch {
        // A result canonical JSON cannot carry is a bug of ours: answer a generic, signable error.
        const internal = new InternalError()
        response = errorResponse(id, internal)
        signature = identity.sign(responseSigningPayload(identity.responseKeyId, { request: digest, ok: false, value: internal.toJSON(), auditSeq: receipt.seq, auditHead: receipt.head }))
      }
      return { ...response, sig: { keyId: identity.responseKeyId, auditSeq: receipt.seq, auditHead: receipt.head, signature }, audit: audit.drain() }
    },
  }
}

/** The keyId a request names, when it names a well-formed one (for the audit event). */
function keyIdOf(params: unknown): string | undefined {
  const keyId = typeof params === 'object' && params !== null ? (params as { keyId?: unknown }).keyId : undefined
  return typeof keyId === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(keyId) ? keyId : undefined
}

/**
 * A record's private key: v1 through the sealer; v2's data key through the sealer (under the v2 context, which
 * no v1 private key is sealed under), then its AES-GCM envelope.
 */
async function unsealWith(sealer: Sealer, record: SealedKeyRecord, context: UnsealContext | undefined): Promise<Uint8Array> {
  if (record.version === 1) return sealer.unseal(record, context)
  const dataKey = await sealer.unseal(record, context)
  try {
    return openRecordV2(record, dataKey)
  } finally {
    dataKey.fill(0)
  }
}

/** Validate what the parent attached (untrusted input, like the request itself). */
function parseContext(context: unknown): UnsealContext | undefined {
  if (context === undefined) return undefined
  const parsed = ParentContextSchema.safeParse(context)
  if (!parsed.success) throw new InvalidFrameError({ reason: `malformed parent context at "${parsed.error.issues[0]?.path.join('.') ?? ''}"` })
  return parsed.data
}

/** Our own errors pass unchanged; anything else becomes a generic INTERNAL with no details. */
function publicError(e: unknown): CustodyError {
  return isCustodyError(e) ? e : new InternalError()
}

function newKeyId(prefix = 'key'): string {
  return `${prefix}-${randomBytes(10).toString('hex')}`
}

/**
 * The BIP-39 seed of a sealed wallet import: UTF-8 JSON `{ "mnemonic": …, "passphrase"?: … }` (a valid BIP-39
 * English mnemonic; the passphrase at most 1,024 characters). The caller zeroes `plaintext`.
 */
function seedOfSealedMnemonic(plaintext: Uint8Array): Uint8Array {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext))
  } catch {
    throw new InvalidArgumentError({ field: 'sealed', rule: 'must hold UTF-8 JSON { mnemonic, passphrase? }' })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).some((k) => k !== 'mnemonic' && k !== 'passphrase')) {
    throw new InvalidArgumentError({ field: 'sealed', rule: 'must hold UTF-8 JSON { mnemonic, passphrase? }' })
  }
  const { mnemonic, passphrase = '' } = parsed as { mnemonic?: unknown; passphrase?: unknown }
  if (typeof passphrase !== 'string' || passphrase.length > BIP39_MAX_PASSPHRASE_LENGTH) {
    throw new InvalidArgumentError({ field: 'sealed.passphrase', rule: `must be a string of at most ${BIP39_MAX_PASSPHRASE_LENGTH} characters` })
  }
  // The error names the field and the rule, never a word of the mnemonic.
  return mnemonicToSeed(assertMnemonic(mnemonic, 'sealed.mnemonic'), passphrase)
}

/** A fresh data key for a v2 record, sealed by a sealer that cannot generate (the local sealer). */
async function generateAndSeal(
  sealer: Sealer,
  keyId: string,
  context: UnsealContext | undefined,
  policy: KeyPolicy,
  owners: Owners,
): Promise<{ privateKey: Uint8Array; sealed: SealedSecret }> {
  if (!sealer.seal) throw new InternalError({ reason: `${sealer.kind} sealer can neither generate nor seal` })
  // getRandomValues fills our own buffer: no copy of the key is left in Node's Buffer pool.
  const dataKey = getRandomValues(new Uint8Array(32))
  try {
    return { privateKey: dataKey, sealed: await sealer.seal(keyId, dataKey, context, policy, owners, 2) }
  } catch (e) {
    dataKey.fill(0)
    throw e
  }
}

export { PROTOCOL_VERSION }
