import { createHash, getRandomValues, randomBytes } from 'node:crypto'
import {
  type Address,
  DEFAULT_KEY_POLICY,
  DEFAULT_MAX_GAS,
  encryptionContextsEqual,
  hexToBytes,
  isDefaultKeyPolicy,
  isValidPrivateKeyBytes,
  keyInfoOfRecord,
  type KeyPolicy,
  keyEncryptionContext,
  keyPolicyOfRecord,
  PolicyDeniedError,
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
  type KeyInfoWire,
  KeyNotFoundError,
  type ParsedRequest,
  ParentContextSchema,
  PROTOCOL_VERSION,
  parseRequest,
  type ResponseMessage,
  successResponse,
} from '@enclave-custody/sdk/protocol'
import type { KeyStore, SealedKeyRecord, SealedSecret, Sealer, UnsealContext } from './keys/types.js'
import { type Logger, silentLogger } from './logger.js'
import { signAuthorization } from './signers/authorization.js'
import { signEip1559Transaction } from './signers/eip1559.js'
import { signHash } from './signers/hash.js'
import { signMessage } from './signers/message.js'
import { deriveAddress } from './signers/secp256k1.js'
import { signTransaction } from './signers/transaction.js'
import { signTypedData } from './signers/typedData.js'
import type { KeyCache } from './unseal/keyCache.js'

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
}

export type RequestHandler = {
  /**
   * Answer one decoded protocol message. Never throws: every failure becomes an error response with
   * a stable code. `context` carries what the parent forwards (credentials for unsealing).
   */
  handle(message: unknown, context?: unknown): Promise<ResponseMessage>
}

const toKeyInfo = (r: SealedKeyRecord): KeyInfoWire => keyInfoOfRecord(r)

/**
 * The enclave's request handler: import, generate, get, list and sign (transactions of type 0, 1, 2 and 4,
 * EIP-7702 authorizations, EIP-191 messages, EIP-712 typed data, and raw digests for keys whose policy
 * allows it), independent of the socket it is served on. Plaintext key bytes exist only for the duration
 * of one operation and are zeroed after it.
 *
 * A key's policy comes from its record and is trusted only once the record has unsealed: the sealing binds
 * `keyEncryptionContext(keyId, policy)`, which the handler requires the record's `encryptionContext` to be.
 */
export function createRequestHandler({ keyStore, sealer, maxGas = DEFAULT_MAX_GAS, logger = silentLogger, now = () => new Date(), keyCache }: RequestHandlerOptions): RequestHandler {
  async function store(keyId: string, privateKey: Uint8Array, sealed: SealedSecret, policy: KeyPolicy): Promise<KeyInfoWire & { record?: SealedKeyRecord }> {
    // A sealer that ignored the policy would leave it unbound: refuse to create such a record.
    if (!encryptionContextsEqual(sealed.encryptionContext, keyEncryptionContext(keyId, policy))) {
      throw new InternalError({ reason: `the ${sealer.kind} sealer did not bind the key's policy to its sealing` })
    }
    const record: SealedKeyRecord = {
      version: 1,
      keyId,
      curve: 'secp256k1',
      address: deriveAddress(privateKey),
      ...sealed,
      createdAt: now().toISOString(),
      ...(isDefaultKeyPolicy(policy) ? {} : { policy }),
    }
    if (!keyStore.put) return { ...toKeyInfo(record), record }
    await keyStore.put(record)
    return toKeyInfo(record)
  }

  /**
   * Run `fn` with the unsealed key of `keyId` and the record's policy. The policy is checked against the
   * record's encryption context before unsealing, and the unsealing (KMS, or AES-GCM's AAD) checks that
   * context against the ciphertext, so `fn` only ever sees a policy the key was sealed with.
   */
  async function withKey<T>(keyId: string, context: UnsealContext | undefined, fn: (privateKey: Uint8Array, policy: KeyPolicy, address: Address) => T): Promise<T> {
    const record = await keyStore.get(keyId, context)
    if (!record) throw new KeyNotFoundError({ keyId })
    let policy: KeyPolicy
    try {
      policy = keyPolicyOfRecord(record)
    } catch {
      throw new IntegrityError({ reason: 'the record\'s policy is malformed' })
    }
    const encryptionContext = record.encryptionContext ?? {}
    if (!encryptionContextsEqual(encryptionContext, keyEncryptionContext(record.keyId, policy))) {
      throw new IntegrityError({ reason: 'the record\'s encryption context does not bind its keyId and policy' })
    }
    // A record with other sealed bytes, another context (so another policy), another address, sealer or
    // KMS key under the same keyId is another cache entry, never a hit: a cached key never vouches for an
    // edited record (a relabelled kmsKeyId must reach the sealer's pin check).
    const cacheKey = `${record.keyId}:${createHash('sha256')
      .update(JSON.stringify([record.sealing, record.kmsKeyId ?? null, record.ciphertext, Object.entries(encryptionContext).sort(), record.address]))
      .digest('base64url')}`
    const cached = keyCache?.get(cacheKey)
    const privateKey = cached ?? (await sealer.unseal(record, context))
    try {
      // Deriving the address costs a scalar multiplication: do it once per unseal, not per signature.
      // A cache entry exists only for a key that matched this exact record's address.
      if (!cached) {
        if (deriveAddress(privateKey) !== record.address) throw new IntegrityError({ reason: 'unsealed key does not match the record address' })
        keyCache?.set(cacheKey, privateKey)
      }
      return fn(privateKey, policy, record.address as Address)
    } finally {
      privateKey.fill(0)
    }
  }

  async function dispatch(req: ParsedRequest, context: UnsealContext | undefined): Promise<unknown> {
    switch (req.op) {
      case 'key.import': {
        const keyId = req.params.keyId ?? newKeyId()
        const policy = req.params.policy ?? { ...DEFAULT_KEY_POLICY }
        const privateKey = hexToBytes(req.params.privateKey)
        try {
          if (!sealer.seal || !keyStore.put) {
            throw new InvalidArgumentError({ field: 'privateKey', rule: `cannot be sent to an enclave with ${sealer.kind} sealing; import with the KMS importer (createKmsImporter)` })
          }
          if (await keyStore.get(keyId, context)) throw new KeyExistsError({ keyId })
          return await store(keyId, privateKey, await sealer.seal(keyId, privateKey, context, policy), policy)
        } finally {
          privateKey.fill(0)
        }
      }
      case 'key.generate': {
        const keyId = req.params.keyId ?? newKeyId()
        const policy = req.params.policy ?? { ...DEFAULT_KEY_POLICY }
        const { privateKey, sealed } = sealer.generate ? await sealer.generate(keyId, context, policy) : await generateAndSeal(sealer, keyId, context, policy)
        try {
          return await store(keyId, privateKey, sealed, policy)
        } finally {
          privateKey.fill(0)
        }
      }
      case 'key.get': {
        const record = await keyStore.get(req.params.keyId, context)
        if (!record) throw new KeyNotFoundError({ keyId: req.params.keyId })
        return toKeyInfo(record)
      }
      case 'system.health':
        return { status: 'ok', protocolVersion: PROTOCOL_VERSION }
      case 'key.list':
        if (!keyStore.list) throw new UnknownOperationError({ op: 'key.list (records are listed by the parent)' })
        return { keys: (await keyStore.list()).map(toKeyInfo) }
      case 'sign.eip1559': {
        const { keyId, tx } = req.params
        if (tx.gas > maxGas) throw new InvalidArgumentError({ field: 'tx.gas', rule: `must be at most ${maxGas} (the configured gas cap)` })
        return withKey(keyId, context, (privateKey, _, address) => signEip1559Transaction(privateKey, tx, address))
      }
      case 'sign.transaction': {
        const { keyId, tx } = req.params
        const { transaction } = tx
        if (transaction.gas > maxGas) throw new InvalidArgumentError({ field: 'tx.gas', rule: `must be at most ${maxGas} (the configured gas cap)` })
        return withKey(keyId, context, (privateKey, policy, address) => {
          // The request opted in (normalisation refuses a chainId-less legacy transaction otherwise); the key must allow it too.
          if (transaction.type === 'legacy' && transaction.chainId === null && !policy.allowReplayableLegacy) {
            throw new PolicyDeniedError({ reason: 'the key\'s policy does not allow replayable legacy transactions (no chainId); import it with policy.allowReplayableLegacy' })
          }
          return signTransaction(privateKey, transaction, address)
        })
      }
      case 'sign.authorization': {
        const { keyId, authorization } = req.params
        return withKey(keyId, context, (privateKey, policy) => {
          // The request opted in (normalisation refuses chainId 0 otherwise); the key must allow it too.
          if (authorization.authorization.chainId === 0n && !policy.allowAnyChainAuthorization) {
            throw new PolicyDeniedError({ reason: 'the key\'s policy does not allow EIP-7702 authorizations for every chain (chainId 0); import it with policy.allowAnyChainAuthorization' })
          }
          return signAuthorization(privateKey, authorization.authorization)
        })
      }
      case 'sign.message': {
        const { keyId, message } = req.params
        return withKey(keyId, context, (privateKey) => signMessage(privateKey, message))
      }
      case 'sign.typedData': {
        const { keyId, typedData } = req.params
        return withKey(keyId, context, (privateKey) => signTypedData(privateKey, typedData))
      }
      case 'sign.digest': {
        const { keyId, digest } = req.params
        return withKey(keyId, context, (privateKey, policy) => {
          if (!policy.allowRawDigest) {
            throw new PolicyDeniedError({ reason: 'the key\'s policy does not allow raw-digest signing; import or generate it with policy.allowRawDigest' })
          }
          return signHash(privateKey, digest)
        })
      }
    }
  }

  return {
    async handle(message, context) {
      const started = performance.now()
      const id = idOf(message)
      let op = 'unknown'
      try {
        const req = parseRequest(message)
        op = req.op
        const result = await dispatch(req, parseContext(context))
        logger.info({ reqId: id, op, ms: Math.round(performance.now() - started) }, 'request served')
        return successResponse(id, result)
      } catch (e) {
        const error = publicError(e)
        const fields = { reqId: id, op, code: error.code, ms: Math.round(performance.now() - started) }
        // Called as methods: pino's need their logger as `this`.
        if (error.code === 'INTERNAL') logger.error({ ...fields, errName: (e as Error)?.name }, 'request failed')
        else logger.info(fields, 'request failed')
        return errorResponse(id, error)
      }
    },
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

function newKeyId(): string {
  return `key-${randomBytes(10).toString('hex')}`
}

async function generateAndSeal(
  sealer: Sealer,
  keyId: string,
  context: UnsealContext | undefined,
  policy: KeyPolicy,
): Promise<{ privateKey: Uint8Array; sealed: SealedSecret }> {
  if (!sealer.seal) throw new InternalError({ reason: `${sealer.kind} sealer can neither generate nor seal` })
  // getRandomValues fills our own buffer: no copy of the key is left in Node's Buffer pool.
  const privateKey = getRandomValues(new Uint8Array(32))
  while (!isValidPrivateKeyBytes(privateKey)) getRandomValues(privateKey)
  try {
    return { privateKey, sealed: await sealer.seal(keyId, privateKey, context, policy) }
  } catch (e) {
    privateKey.fill(0)
    throw e
  }
}

export { PROTOCOL_VERSION }
