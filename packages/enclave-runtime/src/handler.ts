import { createHash, getRandomValues, randomBytes } from 'node:crypto'
import { DEFAULT_MAX_GAS, hexToBytes, isValidPrivateKeyBytes } from '@enclave-custody/sdk'
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
import { signEip1559Transaction } from './signers/eip1559.js'
import type { KeyCache } from './unseal/keyCache.js'
import { deriveAddress } from './signers/secp256k1.js'

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

const toKeyInfo = (r: SealedKeyRecord): KeyInfoWire => ({ keyId: r.keyId, address: r.address, curve: r.curve, createdAt: r.createdAt })

/**
 * The enclave's request handler: import, generate, get, list and sign, independent of the socket it is
 * served on. Plaintext key bytes exist only for the duration of one operation and are zeroed after it.
 */
export function createRequestHandler({ keyStore, sealer, maxGas = DEFAULT_MAX_GAS, logger = silentLogger, now = () => new Date(), keyCache }: RequestHandlerOptions): RequestHandler {
  async function store(keyId: string, privateKey: Uint8Array, sealed: SealedSecret): Promise<KeyInfoWire & { record?: SealedKeyRecord }> {
    const record: SealedKeyRecord = {
      version: 1,
      keyId,
      curve: 'secp256k1',
      address: deriveAddress(privateKey),
      ...sealed,
      createdAt: now().toISOString(),
    }
    if (!keyStore.put) return { ...toKeyInfo(record), record }
    await keyStore.put(record)
    return toKeyInfo(record)
  }

  async function withKey<T>(keyId: string, context: UnsealContext | undefined, fn: (privateKey: Uint8Array, record: SealedKeyRecord) => T): Promise<T> {
    const record = await keyStore.get(keyId, context)
    if (!record) throw new KeyNotFoundError({ keyId })
    // A record with other sealed bytes under the same keyId is another cache entry, never a hit.
    const cacheKey = `${record.keyId}:${createHash('sha256').update(record.ciphertext).digest('base64url')}`
    let privateKey = keyCache?.get(cacheKey)
    if (!privateKey) {
      privateKey = await sealer.unseal(record, context)
      keyCache?.set(cacheKey, privateKey)
    }
    try {
      return fn(privateKey, record)
    } finally {
      privateKey.fill(0)
    }
  }

  async function dispatch(req: ParsedRequest, context: UnsealContext | undefined): Promise<unknown> {
    switch (req.op) {
      case 'key.import': {
        const keyId = req.params.keyId ?? newKeyId()
        const privateKey = hexToBytes(req.params.privateKey)
        try {
          if (!sealer.seal || !keyStore.put) {
            throw new InvalidArgumentError({ field: 'privateKey', rule: `cannot be sent to an enclave with ${sealer.kind} sealing; import with the KMS importer (createKmsImporter)` })
          }
          if (await keyStore.get(keyId, context)) throw new KeyExistsError({ keyId })
          return await store(keyId, privateKey, await sealer.seal(keyId, privateKey, context))
        } finally {
          privateKey.fill(0)
        }
      }
      case 'key.generate': {
        const keyId = req.params.keyId ?? newKeyId()
        const { privateKey, sealed } = sealer.generate ? await sealer.generate(keyId, context) : await generateAndSeal(sealer, keyId, context)
        try {
          return await store(keyId, privateKey, sealed)
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
        return withKey(keyId, context, (privateKey, record) => {
          const signed = signEip1559Transaction(privateKey, tx)
          if (signed.from !== record.address) throw new IntegrityError({ reason: 'unsealed key does not match the record address' })
          return signed
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
        const log = error.code === 'INTERNAL' ? logger.error : logger.info
        log({ reqId: id, op, code: error.code, ms: Math.round(performance.now() - started), ...(error.code === 'INTERNAL' ? { errName: (e as Error)?.name } : {}) }, 'request failed')
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

async function generateAndSeal(sealer: Sealer, keyId: string, context: UnsealContext | undefined): Promise<{ privateKey: Uint8Array; sealed: SealedSecret }> {
  if (!sealer.seal) throw new InternalError({ reason: `${sealer.kind} sealer can neither generate nor seal` })
  // getRandomValues fills our own buffer: no copy of the key is left in Node's Buffer pool.
  const privateKey = getRandomValues(new Uint8Array(32))
  while (!isValidPrivateKeyBytes(privateKey)) getRandomValues(privateKey)
  try {
    return { privateKey, sealed: await sealer.seal(keyId, privateKey, context) }
  } catch (e) {
    privateKey.fill(0)
    throw e
  }
}

export { PROTOCOL_VERSION }
