import { z } from 'zod'
import {
  type CustodyError,
  ErrorCode,
  InvalidArgumentError,
  InvalidFrameError,
  UnknownOperationError,
  UnsupportedVersionError,
} from '../errors/CustodyError.js'
import { normalizeKeyPolicy } from '../keys/keyPolicy.js'
import { KeyPolicySchema } from '../keys/keyPolicy.js'
import { ACCOUNT_FAMILIES, BITCOIN_ADDRESS_FORMATS, BITCOIN_NETWORK_NAMES, RECORD_KINDS, SealedKeyRecordSchema } from '../keys/sealedKeyRecord.js'
import { normalizeOwners, OwnersSchema } from '../keys/owners.js'
import { SIGNING_OPERATION_SCHEMAS } from '../families/index.js'
import { assertPrivateKeyHex } from '../utils/privateKey.js'
import { KEY_ID_PATTERN, KEY_ID_RULE } from './keyId.js'
import { hexSchema, idempotencyKeySchema, keyIdSchema } from './schemas.js'
import type { RequestStamp } from '../auth/types.js'

import { PROTOCOL_VERSION } from './version.js'

export { PROTOCOL_VERSION }

export { KEY_ID_PATTERN, KEY_ID_RULE }
export { IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE } from './schemas.js'
export {
  MessageSignatureSchema,
  type MessageSignatureWire,
  SignedAuthorizationSchema,
  type SignedAuthorizationResultWire,
  SignedTransactionSchema,
  type SignedTransactionWire,
  SignedTypedTransactionSchema,
  type SignedTypedTransactionWire,
} from '../families/evm/protocol.js'
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/

const keyId = keyIdSchema
const hex = hexSchema

/** Public description of a key, an HD wallet or an HD account. Never carries key material. */
const KeyInfoObject = z.strictObject({
    keyId,
    /** What the record holds: a plain key, an HD wallet's seed, or an HD account's derived key. */
    kind: z.enum(RECORD_KINDS),
    /** The key's primary address (EIP-55, base58 for Solana, a Bitcoin address); absent for an HD wallet. */
    address: z.string().max(100).optional(),
    curve: z.enum(['secp256k1', 'ed25519']),
    /** The chain family the key serves first: a secp256k1 key `evm` (it signs Bitcoin PSBTs too), an ed25519 key `solana`, an account its own. */
    family: z.enum(ACCOUNT_FAMILIES).optional(),
    /** HD accounts: the wallet, the derivation path, and (Bitcoin) the network, address format and account xpub. */
    walletId: keyId.optional(),
    path: z.string().max(120).optional(),
    network: z.enum(BITCOIN_NETWORK_NAMES).optional(),
    format: z.enum(BITCOIN_ADDRESS_FORMATS).optional(),
    /** HD wallets and accounts: the wallet's BIP-32 master fingerprint. */
    fingerprint: hex(4).optional(),
    /** Bitcoin accounts: the account node's extended public key (BIP-32 serialization of the account's network). */
    xpub: z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{100,120}$/).optional(),
    createdAt: z.iso.datetime(),
    /** What the key may sign beyond structured payloads, as sealed with it; absent = nothing more. */
    policy: KeyPolicySchema.optional(),
    /**
     * The key's public key, reported by the enclave from the unsealed key: secp256k1 uncompressed SEC1 (65 bytes;
     * for an HD wallet its BIP-32 master key), ed25519 32 bytes.
     */
    publicKey: z.union([hex(65), hex(32)]).optional(),
    /** Who may use the key, as bound to its sealing; absent for a legacy record (the image's legacyOwners). */
    owners: OwnersSchema.optional(),
    /** The API key that created the key in the enclave (v2 records); absent for a key sealed by the offline importer. */
    creator: z.string().regex(/^0x0[23][0-9a-f]{64}$/, 'must be a compressed P-256 public key').optional(),
    /** The signing policy in force for this key (for an HD account: its wallet's), as the enclave read it (absent: none set). */
    signingPolicy: z.strictObject({ version: z.number().int().min(1), digest: hex(32) }).optional(),
})

/** An EVM key's address is EIP-55; every key but an HD wallet has an address. */
function checkKeyInfo(k: z.infer<typeof KeyInfoObject>, ctx: z.RefinementCtx): void {
    const evm = k.kind === 'secp256k1' || (k.kind === 'hd-account' && k.family === 'evm')
    if (evm && (k.address === undefined || !/^0x[0-9a-fA-F]{40}$/.test(k.address))) ctx.addIssue({ code: 'custom', path: ['address'], message: 'must be an EIP-55 address' })
    if (k.kind !== 'hd-wallet' && k.address === undefined) ctx.addIssue({ code: 'custom', path: ['address'], message: 'is required' })
}
export const KeyInfoSchema = KeyInfoObject.superRefine(checkKeyInfo)
/** A key just created: its info, and its record when the enclave does not persist records (the caller stores it). */
const CreatedKeySchema = KeyInfoObject.extend({ record: SealedKeyRecordSchema.optional() }).superRefine(checkKeyInfo)
export type KeyInfoWire = z.infer<typeof KeyInfoSchema>

const policy = z
  .unknown()
  .transform((v) => normalizeKeyPolicy(v, 'policy'))
  .optional()
/** What a plain key is: secp256k1 (EVM, Bitcoin) or ed25519 (Solana); absent = secp256k1. */
const keyKind = z.enum(['secp256k1', 'ed25519']).optional()
/** Who may use a new key; absent = the stamping API key alone. */
const owners = z
  .unknown()
  .transform((v) => (v === undefined ? undefined : normalizeOwners(v, 'owners')))
  .optional()

/** Most items one `sign.batch` request carries. */
export const MAX_BATCH_ITEMS = 64

/** Most creators one `key.list` call may name (the SDK's own API key and its `trustedCreators`). */
export const MAX_LIST_CREATORS = 32

/** The operations a `sign.batch` item may be: every signing operation of every family (never a batch itself). */
export const BATCH_ITEM_OPERATIONS = Object.keys(SIGNING_OPERATION_SCHEMAS) as [keyof typeof SIGNING_OPERATION_SCHEMAS, ...(keyof typeof SIGNING_OPERATION_SCHEMAS)[]]
export type BatchItemOperation = keyof typeof SIGNING_OPERATION_SCHEMAS

/** An error as it travels (a response's `error`, a batch item's). */
const WireErrorSchema = z.strictObject({
  code: z.string().max(64),
  message: z.string().max(2000),
  retryable: z.boolean(),
  details: z.record(z.string(), z.unknown()).optional(),
})

/**
 * One item of a batch: an operation and its params without `keyId` (the batch names the key once) and without
 * `idempotencyKey` (the batch has one). The params are validated item by item by the enclave with the operation's
 * own schema, so that an invalid item fails alone.
 */
const BatchItemSchema = z.strictObject({
  op: z.enum(BATCH_ITEM_OPERATIONS),
  // Passed on as sent (no copy that would drop an own `__proto__`): the operation's own schema reads every field.
  params: z
    .custom<Record<string, unknown>>((p) => typeof p === 'object' && p !== null && !Array.isArray(p), { message: 'must be an object' })
    .refine((p) => !Object.hasOwn(p, 'keyId'), { message: 'must not name a key: the batch\'s keyId applies to every item', path: ['keyId'] })
    .refine((p) => !Object.hasOwn(p, 'idempotencyKey'), { message: 'must not carry an idempotency key: the batch\'s applies to all its items', path: ['idempotencyKey'] }),
})

/** One item's outcome in a `sign.batch` result, in item order. */
const BatchItemResultSchema = z.union([z.strictObject({ ok: z.literal(true), result: z.unknown() }), z.strictObject({ ok: z.literal(false), error: WireErrorSchema })])
export type BatchItemResultWire = z.infer<typeof BatchItemResultSchema>

const BATCH_ITEMS_RULE = `must hold 1 to ${MAX_BATCH_ITEMS} items`

/** Every operation: its params schema (validated by the enclave) and its result schema (validated by the SDK). */
export const operations = {
  'key.import': {
    params: z.strictObject({
      privateKey: z.unknown().transform((v) => assertPrivateKeyHex(v, 'privateKey')),
      keyId: keyId.optional(),
      kind: keyKind,
      policy,
      owners,
    }),
    result: CreatedKeySchema,
  },
  'key.generate': {
    params: z.strictObject({ keyId: keyId.optional(), kind: keyKind, policy, owners }),
    /** `record` is present when the enclave does not persist records itself: the caller must store it. */
    result: CreatedKeySchema,
  },
  /**
   * Import a private key sealed with HPKE to this enclave's attested HPKE key (`sealImport`); the associated
   * data binds keyId, owners, the stamping API key and the stamp's nonce (`importAad`).
   */
  'key.importSealed': {
    params: z.strictObject({
      keyId,
      kind: keyKind,
      policy,
      owners,
      sealed: z.strictObject({ to: hex(32), enc: hex(65), ciphertext: hex(48) }),
    }),
    result: CreatedKeySchema,
  },
  /**
   * Create an HD wallet: BIP-39 entropy of `words` words (default 24) drawn in the enclave, kept as its seed. The
   * mnemonic never leaves the enclave. The wallet signs nothing itself: its accounts do (`account.create`).
   */
  'wallet.create': {
    params: z.strictObject({ walletId: keyId.optional(), words: z.union([z.literal(12), z.literal(15), z.literal(18), z.literal(21), z.literal(24)]).optional(), policy, owners }),
    result: CreatedKeySchema,
  },
  /**
   * Import an HD wallet from a BIP-39 mnemonic sealed with HPKE to this enclave's attested key: the plaintext is
   * UTF-8 JSON `{ mnemonic, passphrase? }`, the associated data `importAad({ …, kind: 'hd-wallet' })`.
   */
  'wallet.importSealed': {
    params: z.strictObject({
      walletId: keyId,
      policy,
      owners,
      sealed: z.strictObject({ to: hex(32), enc: hex(65), ciphertext: z.string().regex(/^0x(?:[0-9a-f]{2}){17,8192}$/, 'must be 17 to 8192 bytes of lower-case 0x-hex') }),
    }),
    result: CreatedKeySchema,
  },
  /**
   * Derive an account of an HD wallet in the enclave (its owners' threshold of stamps): `family`, and `path` or
   * `index` of the family's default path (EVM `m/44'/60'/0'/0/n`, Bitcoin `m/purpose'/coin'/n'/0/0` by `format`
   * and `network`, Solana `m/44'/501'/n'/0'`). The account shares the wallet's owners, signing policy and limits.
   */
  'account.create': {
    params: z
      .strictObject({
        walletId: keyId,
        /**
         * The wallet's master public key (compressed) as the caller knows it (from `key.get` of a wallet it trusts):
         * the enclave derives only from a forwarded wallet record with exactly this key, so a parent cannot make it
         * derive the account from a wallet of its own under the same id.
         */
        walletPublicKey: z.string().regex(/^0x0[23][0-9a-f]{64}$/, 'must be the wallet\'s compressed master public key'),
        keyId: keyId.optional(),
        family: z.enum(ACCOUNT_FAMILIES),
        path: z.string().max(120).optional(),
        index: z.number().int().min(0).max(0x7fffffff).optional(),
        network: z.enum(BITCOIN_NETWORK_NAMES).optional(),
        format: z.enum(BITCOIN_ADDRESS_FORMATS).optional(),
      })
      .refine((p) => p.path === undefined || p.index === undefined, { message: 'give path or index, not both', path: ['index'] }),
    result: CreatedKeySchema,
  },
  'key.get': { params: z.strictObject({ keyId }), result: KeyInfoSchema },
  /**
   * The keys of the records the parent forwarded that unseal (at most 100 per call): proof of what was
   * forwarded, not that nothing was left out. `skipped` counts forwarded records that did not unseal.
   */
  /**
   * The caller's keys (owned, or of a policy it signs for), at most {@link MAX_LISTED_RECORDS}. `creators` leaves out,
   * before that cap, keys created by any other API key (keys the offline importer sealed have no creator and stay):
   * the SDK sends the creators it trusts, so that keys another API key made for this caller cannot crowd its own
   * out of the list.
   */
  'key.list': {
    params: z.strictObject({ creators: z.array(z.string().regex(/^0x0[23][0-9a-f]{64}$/, 'must be a compressed P-256 public key')).min(1).max(MAX_LIST_CREATORS).optional() }),
    result: z.strictObject({ keys: z.array(KeyInfoSchema), skipped: z.number().int().min(0).optional() }) },
  /** Liveness of the enclave itself (the parent's health check makes one round trip with it). */
  'system.health': {
    params: z.strictObject({}),
    result: z.strictObject({ status: z.literal('ok'), protocolVersion: z.literal(PROTOCOL_VERSION) }),
  },
  /**
   * The enclave's kept audit events after `after` (unstamped: they are signed and chained, and hold no secret),
   * for the parent to fill a gap left by a lost answer: the boot event and the last 10,000.
   */
  'audit.read': {
    params: z.strictObject({ after: z.number().int().min(-1), limit: z.number().int().min(1).max(1000).optional() }),
    result: z.strictObject({ events: z.array(z.unknown()) }),
  },
  /**
   * The enclave's session attestation (unstamped): an attestation document over the caller's nonce whose
   * `public_key` is the response-signing key and whose `user_data` binds `trust` and `hpkePublicKey`.
   */
  'system.attestation': {
    params: z.strictObject({ nonce: z.string().regex(/^0x(?:[0-9a-f]{2}){16,64}$/, 'must be 16 to 64 bytes of lower-case 0x-hex') }),
    result: z.strictObject({
      document: z.string().max(64 * 1024).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64'),
      trust: z.unknown(),
      hpkePublicKey: hex(65),
    }),
  },
  /**
   * Set a key's signing policy: a document with its owners' approvals (see `SignedSigningPolicy`). The enclave
   * verifies the approvals against the key's sealed owners and refuses a version not above the highest it has
   * seen or read; `stored: false` means the caller stores it (production: the importer role, Secrets Manager).
   */
  'policy.set': {
    params: z.strictObject({ keyId, policy: z.strictObject({ document: z.unknown(), approvals: z.array(z.unknown()).max(16) }) }),
    result: z.strictObject({ keyId, signingPolicy: z.strictObject({ version: z.number().int().min(1), digest: hex(32) }), stored: z.boolean() }),
  },
  /** A key's signing policy in force, with its approvals, as the enclave read it itself (absent: none set). */
  'policy.get': {
    params: z.strictObject({ keyId }),
    result: z.strictObject({
      keyId,
      policy: z.strictObject({ document: z.unknown(), approvals: z.array(z.unknown()) }).optional(),
      signingPolicy: z.strictObject({ version: z.number().int().min(1), digest: hex(32) }).optional(),
    }),
  },
  // Every chain family's signing operations (families/index.ts).
  ...SIGNING_OPERATION_SCHEMAS,
  /**
   * Sign up to {@link MAX_BATCH_ITEMS} payloads with one key in one stamped request: each item is validated,
   * policy-checked and signed like its own operation (rolling limits charged item by item, in order); an item
   * that fails has `{ ok: false, error }` in its slot and the others are still signed.
   */
  'sign.batch': {
    params: z.strictObject({
      idempotencyKey: idempotencyKeySchema,
      keyId,
      items: z.array(BatchItemSchema).min(1, { message: BATCH_ITEMS_RULE }).max(MAX_BATCH_ITEMS, { message: BATCH_ITEMS_RULE }),
    }),
    /** One outcome per item, in item order (the SDK checks the count and each result against its item). */
    result: z.strictObject({ results: z.array(BatchItemResultSchema).max(MAX_BATCH_ITEMS) }),
  },
} as const

export type Operation = keyof typeof operations
export const operationNames = Object.keys(operations) as Operation[]
/** Params as sent on the wire (JSON). */
export type OperationParamsWire<O extends Operation> = z.input<(typeof operations)[O]['params']>
/** Params after validation (bigints, checksummed addresses). */
export type OperationParams<O extends Operation> = z.output<(typeof operations)[O]['params']>
export type OperationResult<O extends Operation> = z.output<(typeof operations)[O]['result']>

/** Operations served without a stamp: liveness and the session attestation. Every other one needs one. */
export const UNSTAMPED_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>(['system.health', 'system.attestation', 'audit.read'])

/**
 * A request's stamp (see `stampPayload`): it travels beside `params` so that the enclave verifies who
 * asked before it parses what was asked.
 */
export type RequestAuth = RequestStamp

export type RequestMessage<O extends Operation = Operation> = {
  v: typeof PROTOCOL_VERSION
  id: string
  op: O
  params: OperationParamsWire<O>
  auth?: RequestAuth
  /**
   * Stamps of other API keys over the same request (quorum approvals of a policy rule, or the owners'
   * threshold): each is a full stamp, with its own timestamp and nonce, over the same `{ v, op, params, aud }`.
   */
  approvals?: RequestAuth[]
}

/** Most approval stamps one request carries. */
export const MAX_APPROVAL_STAMPS = 16

/** Most records one `key.list` call carries. */
export const MAX_LISTED_RECORDS = 100

/** AWS credentials the parent forwards for one request (the instance role's, from IMDS). */
export const ForwardedCredentialsSchema = z.strictObject({
  accessKeyId: z.string().min(16).max(128),
  secretAccessKey: z.string().min(1).max(256),
  sessionToken: z.string().min(1).max(4096).optional(),
  expiration: z.iso.datetime().optional(),
})

/**
 * What the parent attaches beside a request envelope on the enclave socket: the sealed record of the
 * key the request names (fetched from Secrets Manager) and the credentials for KMS. Untrusted input:
 * KMS binds a record to its keyId, and the enclave checks the unsealed key against the record address.
 */
export const ParentContextSchema = z.strictObject({
  record: SealedKeyRecordSchema.optional(),
  /** The records a `key.list` covers (the parent's choice: the enclave reports only those that unseal). */
  records: z.array(SealedKeyRecordSchema).max(MAX_LISTED_RECORDS).optional(),
  credentials: ForwardedCredentialsSchema.optional(),
})
export type ParentContext = z.infer<typeof ParentContextSchema>

export type WireError = { code: ErrorCode; message: string; retryable: boolean; details?: Record<string, unknown> }

/**
 * An enclave's answer. `sig` (see `ResponseSignature`) is present on every answer to a stamped request
 * the enclave could read; `audit` carries the audit events not yet handed to the parent, which strips them.
 */
export type ResponseMessage =
  | { v: typeof PROTOCOL_VERSION; id: string; ok: true; result: unknown; sig?: unknown; audit?: unknown }
  | { v: typeof PROTOCOL_VERSION; id: string; ok: false; error: WireError; sig?: unknown; audit?: unknown }

const EnvelopeSchema = z.looseObject({
  v: z.unknown().optional(),
  id: z.unknown().optional(),
  op: z.unknown().optional(),
  params: z.unknown().optional(),
  auth: z.unknown().optional(),
  approvals: z.unknown().optional(),
})

const ENVELOPE_FIELDS: ReadonlySet<string> = new Set(['v', 'id', 'op', 'params', 'auth', 'approvals'])

/** A request that passed every check, with validated params. */
export type ParsedRequest = { [O in Operation]: { id: string; op: O; params: OperationParams<O> } }[Operation]

/** A request envelope that passed its checks: params and auth still as sent (unvalidated). */
export type RequestEnvelope = { v: typeof PROTOCOL_VERSION; id: string; op: Operation; params: unknown; auth: unknown; approvals?: unknown }

/**
 * Validate a decoded request message: the envelope, then `params` against its operation's schema (a stamp
 * in `auth` is the caller's to verify first, with {@link parseEnvelope}). Throws a CustodyError whose code
 * says what is wrong; `idOf(message)` recovers the request id (when valid) so that the error can still be answered.
 */
export function parseRequest(message: unknown): ParsedRequest {
  const envelope = parseEnvelope(message)
  return parseParams(envelope)
}

/** Validate `params` of an envelope against its operation's schema. */
export function parseParams(envelope: Pick<RequestEnvelope, 'id' | 'op' | 'params'>): ParsedRequest {
  const schema = operations[envelope.op].params
  const parsed = schema.safeParse(envelope.params ?? {})
  if (!parsed.success) throw zodToInvalidArgument(parsed.error)
  return { id: envelope.id, op: envelope.op, params: parsed.data } as ParsedRequest
}

/** Validate a request's envelope (`v`, `id`, `op`, no unknown field) without looking into params or auth. */
export function parseEnvelope(message: unknown): RequestEnvelope {
  const env = EnvelopeSchema.safeParse(message)
  if (!env.success) throw new InvalidFrameError({ reason: 'a request must be a JSON object' })
  // The envelope's own keys, read from the message itself: a schema's copy would drop an own `__proto__`
  // (assigning it sets the copy's prototype) instead of refusing it.
  const extra = Object.keys(message as object).filter((k) => !ENVELOPE_FIELDS.has(k))
  if (extra.length > 0) throw new InvalidFrameError({ reason: `unknown envelope field ${JSON.stringify(extra[0]!.slice(0, 40))}` })
  const { v, id, op, params, auth, approvals } = env.data
  if (v !== PROTOCOL_VERSION) throw new UnsupportedVersionError({ version: v, supported: PROTOCOL_VERSION })
  if (typeof id !== 'string' || !REQUEST_ID_PATTERN.test(id)) throw new InvalidFrameError({ reason: '"id" must be 1-64 characters of [A-Za-z0-9._:-]' })
  if (typeof op !== 'string') throw new InvalidFrameError({ reason: '"op" must be a string' })
  if (!Object.hasOwn(operations, op)) throw new UnknownOperationError({ op })
  if (approvals !== undefined && (!Array.isArray(approvals) || approvals.length === 0 || approvals.length > MAX_APPROVAL_STAMPS)) {
    throw new InvalidFrameError({ reason: `"approvals" must be a list of 1 to ${MAX_APPROVAL_STAMPS} stamps` })
  }
  return { v: PROTOCOL_VERSION, id, op: op as Operation, params: params ?? {}, auth, ...(approvals === undefined ? {} : { approvals }) }
}

/** The request id of a message, if it has a well-formed one. */
export function idOf(message: unknown): string {
  const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined
  return typeof id === 'string' && REQUEST_ID_PATTERN.test(id) ? id : '0'
}

/** Validate a result for `op` coming back from a peer (the SDK distrusts the backend). */
export function parseResult<O extends Operation>(op: O, result: unknown): OperationResult<O> {
  const parsed = operations[op].result.safeParse(result)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidFrameError({ reason: `malformed ${op} result at "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'}` })
  }
  return parsed.data as OperationResult<O>
}

export function successResponse(id: string, result: unknown): ResponseMessage {
  return { v: PROTOCOL_VERSION, id, ok: true, result }
}

export function errorResponse(id: string, error: CustodyError): ResponseMessage {
  return { v: PROTOCOL_VERSION, id, ok: false, error: error.toJSON() }
}

const ResponseSchema = z.union([
  z.strictObject({ v: z.literal(PROTOCOL_VERSION), id: z.string(), ok: z.literal(true), result: z.unknown(), sig: z.unknown().optional(), audit: z.unknown().optional() }),
  z.strictObject({
    v: z.literal(PROTOCOL_VERSION),
    id: z.string(),
    ok: z.literal(false),
    error: WireErrorSchema,
    sig: z.unknown().optional(),
    audit: z.unknown().optional(),
  }),
])

/** Validate a decoded response message. */
export function parseResponse(message: unknown): ResponseMessage {
  const parsed = ResponseSchema.safeParse(message)
  if (!parsed.success) throw new InvalidFrameError({ reason: 'malformed response message' })
  return parsed.data as ResponseMessage
}

function zodToInvalidArgument(error: z.ZodError): InvalidArgumentError {
  const issue = error.issues[0]!
  if (issue.code === 'unrecognized_keys') {
    const field = issue.path.length ? issue.path.join('.') : 'params'
    return new InvalidArgumentError({ field, rule: `has unknown field ${JSON.stringify(String(issue.keys[0]).slice(0, 40))}` })
  }
  const field = issue.path.length ? issue.path.map(String).join('.') : 'params'
  const rule = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : `is invalid: ${issue.message}`
  return new InvalidArgumentError({ field, rule })
}

export { ErrorCode }
