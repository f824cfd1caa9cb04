import { verifyP256 } from '../auth/p256.js'
import { randomBytes } from 'node:crypto'
import { AttestationError, errorFromWire, InvalidArgumentError, isCustodyError, KeyNotFoundError, UnavailableError } from '../errors/CustodyError.js'
import { stampRequest } from '../auth/stampRequest.js'
import type { RequestStamp, Stamper } from '../auth/types.js'
import type { ApprovalRequest } from '../auth/approveRequest.js'
import { bitcoinSignRequests, type SignBitcoinPsbtParameters, type SignBitcoinPsbtReturnType } from '../families/bitcoin/client.js'
import { evmSignRequests, type SignedTransaction, type SignMessageParameters, type SignMessageReturnType, type SignTransactionReturnType } from '../families/evm/client.js'
import {
  type SignSolanaMessageParameters,
  type SignSolanaMessageReturnType,
  type SignSolanaTransactionParameters,
  type SignSolanaTransactionReturnType,
  solanaSignRequests,
} from '../families/solana/client.js'
import {
  approveSigningPolicy,
  normalizeSigningPolicyDocument,
  type PolicyApproval,
  type SignedSigningPolicy,
  type SigningPolicyDocument,
  type SigningPolicyRef,
} from '../signingPolicy/document.js'
import { normalizeSigningPolicy, type SigningPolicyInput } from '../signingPolicy/rules.js'
import { type AttestationPolicy, type AttestedEnclave, attestEnclave, checkAttestationPolicy } from '../session/attestEnclave.js'
import { parseResponseSignature, requestDigest, verifyResponseSignature } from '../session/responseSignature.js'
import {
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_KEY_RULE,
  type KeyInfoWire,
  MAX_LIST_CREATORS,
  type Operation,
  type OperationParamsWire,
  type OperationResult,
  PROTOCOL_VERSION,
  parseResponse,
  parseResult,
  type RequestMessage,
} from '../protocol/messages.js'
import { IntegrityError } from '../errors/CustodyError.js'
import { DEFAULT_MAX_GAS, type Eip1559TransactionRequest } from '../transactions/eip1559.js'
import type { KmsImporter } from '../importer/createKmsImporter.js'
import { encryptionContextsEqual, isDefaultKeyPolicy, keyEncryptionContext, type KeyPolicy, type KeyPolicyInput, normalizeKeyPolicy } from '../keys/keyPolicy.js'
import {
  type AccountFamily,
  type BITCOIN_ADDRESS_FORMATS,
  type BITCOIN_NETWORK_NAMES,
  keyInfoOfRecord,
  keyPolicyOfRecord,
  type RecordKind,
  recordSigningBytes,
  type SealedKeyRecord,
  type SealedKeyRecordV2,
} from '../keys/sealedKeyRecord.js'

type BitcoinNetworkName = (typeof BITCOIN_NETWORK_NAMES)[number]
type BitcoinAddressFormat = (typeof BITCOIN_ADDRESS_FORMATS)[number]
import { canonicalApiKey, normalizeOwners, type Owners, type OwnersInput } from '../keys/owners.js'
import { importAad, sealImport } from '../session/sealedImport.js'
import type { TypedDataDefinition } from '../messages/typedData.js'
import type { AuthorizationRequest, SignedAuthorization } from '../transactions/authorization.js'
import type { TransactionRequest } from '../transactions/transaction.js'
import { isRepeatable, isRetryableFailure, NO_RETRY, normalizeRetry, type RetryOptions, retryDelay } from '../transports/retry.js'
import type { Transport } from '../transports/types.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { assertObject, fail } from '../utils/assert.js'
import { type SignBatchItem, type SignBatchReturnType, signBatch, signBatchRequest } from './signBatch.js'
import { base58 } from '@scure/base'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import type { Address } from '../utils/address.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { assertPrivateKeyHex, privateKeyToAddress } from '../utils/privateKey.js'

/** Public description of a custody key, an HD wallet or an HD account. */
export type KeyInfo = {
  keyId: string
  /** What the key is: a plain `secp256k1` or `ed25519` key, an `hd-wallet` (whose accounts sign) or an `hd-account`. */
  kind: RecordKind
  /**
   * The key's primary address: EIP-55 for EVM keys and accounts (then a checked `Address`), base58 for Solana keys
   * and accounts, a Bitcoin address (the first receive address) for a Bitcoin account; `''` for an HD wallet, which
   * has none. Narrow with `family` (see `EvmKeyInfo`).
   */
  address: Address
  curve: 'secp256k1' | 'ed25519'
  /** The family the key serves first (a secp256k1 key `evm`, and it signs Bitcoin PSBTs too; an ed25519 key `solana`); absent for an HD wallet. */
  family?: AccountFamily
  /** HD accounts: the wallet they belong to and their derivation path. */
  walletId?: string
  path?: string
  /** Bitcoin accounts: network, address format of `address`, and the account's extended public key. */
  network?: BitcoinNetworkName
  format?: BitcoinAddressFormat
  xpub?: string
  /** HD wallets and accounts: the wallet's BIP-32 master fingerprint (what PSBT derivation records name). */
  fingerprint?: Hex
  createdAt: Date
  /** What the key may sign beyond structured payloads, as sealed with it. */
  policy: KeyPolicy
  /** Who may use the key (as bound to its sealing); absent for a record sealed before owners existed. */
  owners?: Owners
  /**
   * The key's public key as the enclave derived it from the unsealed key: secp256k1 uncompressed (0x04…; for an HD
   * wallet its BIP-32 master key), ed25519 32 bytes.
   */
  publicKey?: Hex
  /** The API key whose request created the key in the enclave; absent for a key sealed by the offline importer. */
  creator?: Hex
  /** The signing policy in force (`getKey` only), as the enclave read it itself; absent when none is set. */
  signingPolicy?: SigningPolicyRef
}

/** An EVM key (a secp256k1 key, or an HD account of family `evm`): its `address` is EIP-55. */
export type EvmKeyInfo = KeyInfo & { family: 'evm'; curve: 'secp256k1' }

/**
 * `importKey` parameters: an existing private key, or `generate: true`. `policy` widens what the key may
 * sign (raw digests, replayable legacy transactions); it is fixed for the key's life and bound to its
 * sealing. @default policy: nothing beyond structured signing
 */
export type ImportKeyParameters =
  | {
      privateKey: string
      keyId?: string
      generate?: undefined
      /** `secp256k1` (EVM, Bitcoin) or `ed25519` (Solana: `privateKey` is the 32-byte seed). @default 'secp256k1' */
      kind?: PlainKeyKind
      policy?: KeyPolicyInput
      owners?: OwnersInput
      /** Seal with KMS Encrypt by the importer role (`importer`) instead of sealing to the enclave: the importer sees the key. */
      offline?: true
      /** INSECURE: send the key in plaintext through the transport (tests and the local enclave only). */
      insecurePlaintextImport?: true
    }
  | { generate: true; keyId?: string; kind?: PlainKeyKind; privateKey?: undefined; policy?: KeyPolicyInput; owners?: OwnersInput }

/** The kinds of plain keys: `secp256k1` (EVM and Bitcoin) and `ed25519` (Solana). */
export type PlainKeyKind = 'secp256k1' | 'ed25519'

/** `createWallet` parameters. The wallet's owners and sealed policy flags pass to every account made from it. */
export type CreateWalletParameters = {
  walletId?: string
  /** Mnemonic length of the BIP-39 entropy drawn in the enclave. @default 24 */
  words?: 12 | 15 | 18 | 21 | 24
  policy?: KeyPolicyInput
  owners?: OwnersInput
}

/** `importWallet` parameters: a BIP-39 mnemonic (English), sealed to the attested enclave before it leaves this process. */
export type ImportWalletParameters = {
  mnemonic: string
  /** The BIP-39 passphrase ("25th word"). @default '' */
  passphrase?: string
  walletId?: string
  policy?: KeyPolicyInput
  owners?: OwnersInput
}

/**
 * `createAccount` parameters: the family, and a path or the index of the family's default path (EVM
 * `m/44'/60'/0'/0/n`, Bitcoin `m/purpose'/coin'/n'/0/0` — purpose 44' P2PKH, 49' P2SH-P2WPKH, 84' P2WPKH, 86' P2TR;
 * coin 0' mainnet, 1' otherwise —, Solana `m/44'/501'/n'/0'`). The index defaults to the number of the wallet's
 * accounts of that family the key store lists.
 */
export type CreateAccountParameters = {
  family: AccountFamily
  keyId?: string
  path?: string
  index?: number
  /** Bitcoin: the network. @default 'mainnet' */
  network?: BitcoinNetworkName
  /** Bitcoin: the address format of the account's address. @default 'p2wpkh' */
  format?: BitcoinAddressFormat
}

export type { SignedTransaction, SignMessageParameters, SignMessageReturnType, SignTransactionReturnType } from '../families/evm/client.js'
export type { SignBitcoinPsbtParameters, SignBitcoinPsbtReturnType } from '../families/bitcoin/client.js'
export type { SignSolanaMessageParameters, SignSolanaMessageReturnType, SignSolanaTransactionParameters, SignSolanaTransactionReturnType } from '../families/solana/client.js'
export type { SignBatchItem, SignBatchItemKind, SignBatchItemResult, SignBatchReturnType, SignBatchValue } from './signBatch.js'

/**
 * Options of every sign method. `idempotencyKey` (1-64 of [A-Za-z0-9._:-]) makes a retry safe: the enclave
 * answers a repeat of the same request under the same key (from the same API key) with the first result,
 * for the life of its process; across a restart it signs again, which gives the same signature (RFC 6979).
 * The same key with a different request is refused (`INVALID_ARGUMENT`).
 */
export type SignOptions = {
  idempotencyKey?: string
  /**
   * Approval stamps of other API keys over this same request (a policy rule's quorum, or a key's owners'
   * threshold), collected with `custody.approvalRequest.<method>(…)` and `approveRequest(stamper, request)` on
   * the approvers' machines. A stamp is valid for ±5 minutes and for one use.
   */
  approvals?: readonly RequestStamp[]
  /** Stampers in this process that approve the request too (each stamps it beside the client's own stamp). */
  approvers?: readonly Stamper[]
}

/** A signing policy with its approvals, and where it stands (what `getSigningPolicy` returns). */
export type SigningPolicyState = SignedSigningPolicy & SigningPolicyRef

/**
 * What `setSigningPolicy` takes: the rules and signers (the client builds the document: this key, its public key,
 * the next version) approved by this client's stamper when it is an owner and by `approvers`; or a document
 * already approved elsewhere (`{ document, approvals }`, see `custody.signingPolicyDocument`).
 */
export type SetSigningPolicyParameters = SigningPolicyInput & { version?: number }
export type SetSigningPolicyOptions = {
  /** Other owners' stampers in this process. */
  approvers?: readonly Stamper[]
  /** Approvals collected elsewhere (`approveSigningPolicy(stamper, document)`). */
  approvals?: readonly PolicyApproval[]
}

/** Builders of the approval requests of each sign method: what an approver stamps (`approveRequest`). */
export type ApprovalRequests = {
  signEip1559(keyId: string, tx: Eip1559TransactionRequest, options?: SignOptions): Promise<ApprovalRequest>
  signTransaction(keyId: string, tx: TransactionRequest, options?: SignOptions): Promise<ApprovalRequest>
  signAuthorization(keyId: string, authorization: AuthorizationRequest, options?: SignOptions): Promise<ApprovalRequest>
  signMessage(keyId: string, params: SignMessageParameters, options?: SignOptions): Promise<ApprovalRequest>
  signTypedData(keyId: string, typedData: TypedDataDefinition, options?: SignOptions): Promise<ApprovalRequest>
  signDigest(keyId: string, digest: Hex | Uint8Array, options?: SignOptions): Promise<ApprovalRequest>
  signBitcoinPsbt(keyId: string, params: SignBitcoinPsbtParameters, options?: SignOptions): Promise<ApprovalRequest>
  signSolanaTransaction(keyId: string, params: SignSolanaTransactionParameters, options?: SignOptions): Promise<ApprovalRequest>
  signSolanaMessage(keyId: string, params: SignSolanaMessageParameters, options?: SignOptions): Promise<ApprovalRequest>
  /** The whole `sign.batch` request: an approval counts for every item of the batch. */
  signBatch(keyId: string, items: readonly SignBatchItem[], options?: SignOptions): Promise<ApprovalRequest>
}

/** The audit receipt of one verified response: where the enclave's audit chain stood after the request. */
export type AuditReceipt = {
  /** The response key (one per enclave boot) that signed the answer and the audit segment. */
  responseKeyId: Hex
  auditSeq: number
  auditHead: Hex
  op: string
  requestDigest: Hex
}

export type CreateCustodyClientParameters = {
  transport: Transport
  /**
   * Signs every request (`apiKeyStamper`, or your own `Stamper` for a key held in KMS, WebAuthn or an HSM).
   * With it the client attests the enclave (`transport.attestation`) before its first request and accepts only
   * answers signed by an attested enclave. Required: there is no unauthenticated mode.
   */
  stamper: Stamper
  /** Called with the receipt of every verified answer (keep them for `custody audit verify --receipts`). */
  onReceipt?: (receipt: AuditReceipt) => void
  /**
   * API public keys whose keys this client accepts besides its own: a key the enclave created carries the API
   * key whose request created it (bound to its sealing), and a key from any other creator is refused
   * (`INTEGRITY_ERROR`), so that a key the parent had the enclave create (under an API key of its own, naming
   * this caller as owner) never reaches the app. Keys sealed by the offline importer have no creator and are
   * accepted (only the importer role can make them). @default none (only this client's own keys)
   */
  trustedCreators?: readonly string[]
  /**
   * Seals imported keys with KMS Encrypt and stores key records in Secrets Manager (importer role).
   * Required for `importKey` against an attested enclave, which never receives plaintext keys and does
   * not store records itself.
   */
  importer?: KmsImporter
  /** Refuse transactions whose gas exceeds this. @default 30_000_000n */
  maxGas?: bigint
  /**
   * Retries of reads and of signs that carry an `idempotencyKey` (never of a sign without one), each stamped anew.
   * @default the transport's `retry` (none unless set)
   */
  retry?: RetryOptions
}

export type CustodyClient = {
  /** Import an existing private key, or `{ generate: true }` to have the enclave create one. */
  importKey(params: ImportKeyParameters): Promise<KeyInfo>
  /** Create an HD wallet: its BIP-39 entropy is drawn in the enclave and its mnemonic never leaves it. */
  createWallet(params?: CreateWalletParameters): Promise<KeyInfo>
  /** Import an HD wallet from a BIP-39 mnemonic, sealed with HPKE to the attested enclave (never in plaintext on any transport). */
  importWallet(params: ImportWalletParameters): Promise<KeyInfo>
  /**
   * Derive an account of an HD wallet in the enclave (needs the wallet owners' threshold of stamps: pass the other
   * owners as `options.approvers` or their stamps as `options.approvals`). The account is a key of its own
   * (`keyId`), usable with every sign method of its family and the adapters; its signing policy and rolling limits
   * are the wallet's.
   */
  createAccount(walletId: string, params: CreateAccountParameters, options?: Pick<SignOptions, 'approvals' | 'approvers'>): Promise<KeyInfo>
  /**
   * A key's identity (address, public key, owners, policy) as the enclave reports it after unsealing its record,
   * in an answer it signed. `FORBIDDEN` unless this client's API key is an owner.
   */
  getKey(keyId: string): Promise<KeyInfo>
  /**
   * The keys this API key may use among the records the parent forwarded (at most 100), each reported by the
   * enclave from an unsealed record, in a signed answer. It proves what the parent forwarded, not that nothing
   * was left out: a hostile parent can omit keys (it cannot add or alter one).
   */
  listKeys(): Promise<KeyInfo[]>
  /** Sign an EIP-1559 (type 2) transaction; the result is verified before it is returned. */
  signEip1559(keyId: string, tx: Eip1559TransactionRequest, options?: SignOptions): Promise<SignedTransaction>
  /**
   * Sign a transaction of type 0 (legacy, EIP-155), 1 (EIP-2930), 2 (EIP-1559) or 4 (EIP-7702). `tx.type` is
   * 0, 1, 2, 4 or 'legacy', 'eip2930', 'eip1559', 'eip7702', inferred from the fields when absent. A legacy
   * transaction without chainId needs `allowReplayable: true` and a key whose policy has
   * `allowReplayableLegacy`. The result is verified before it is returned.
   */
  signTransaction(keyId: string, tx: TransactionRequest, options?: SignOptions): Promise<SignTransactionReturnType>
  /**
   * Sign an EIP-7702 authorization (delegate the key's account to `address`). chainId 0 (every chain)
   * needs `allowAnyChain: true` and a key whose sealed policy has `allowAnyChainAuthorization`
   * (`POLICY_DENIED` otherwise). Returns viem's signed-authorization shape with bigint quantities.
   */
  signAuthorization(keyId: string, authorization: AuthorizationRequest, options?: SignOptions): Promise<SignedAuthorization>
  /** Sign an EIP-191 `personal_sign` message. */
  signMessage(keyId: string, params: SignMessageParameters, options?: SignOptions): Promise<SignMessageReturnType>
  /** Sign EIP-712 typed data; the enclave receives, validates and hashes the whole payload. */
  signTypedData(keyId: string, typedData: TypedDataDefinition, options?: SignOptions): Promise<SignMessageReturnType>
  /** Sign a raw 32-byte digest: only keys imported or generated with `policy: { allowRawDigest: true }`. */
  signDigest(keyId: string, digest: Hex | Uint8Array, options?: SignOptions): Promise<SignMessageReturnType>
  /**
   * Sign the inputs of a PSBT v0 (BIP-174) that the key owns (P2PKH, P2SH-P2WPKH, P2WPKH, P2TR key path; an HD
   * account's by their derivation records), and with `finalize` extract the transaction. The answer is verified:
   * the PSBT unchanged but for the key's signatures, each checked over the sighash computed here.
   */
  signBitcoinPsbt(keyId: string, params: SignBitcoinPsbtParameters, options?: SignOptions): Promise<SignBitcoinPsbtReturnType>
  /**
   * Sign a Solana transaction (legacy or v0) with an ed25519 key: `transaction` is the compiled message or a whole
   * wire transaction. Returns the verified signature and the wire transaction with it in the key's slot.
   */
  signSolanaTransaction(keyId: string, params: SignSolanaTransactionParameters, options?: SignOptions): Promise<SignSolanaTransactionReturnType>
  /** Sign a Solana off-chain message (version 0, preamble included) with an ed25519 key; the signature is verified. */
  signSolanaMessage(keyId: string, params: SignSolanaMessageParameters, options?: SignOptions): Promise<SignSolanaMessageReturnType>
  /**
   * Sign 1 to 64 payloads (EVM kinds, Bitcoin PSBTs, Solana transactions and messages) with one key in one stamped
   * request (`sign.batch`): each item checked by the enclave's
   * policy as its own request would be (rolling limits charged item by item), each signed item verified here as its
   * single method verifies it. Returns `{ ok: true, value } | { ok: false, error }` per item, in order; an answer
   * that does not verify throws `IntegrityError`. Approvals (`options.approvals`/`approvers`) stamp the whole batch.
   */
  signBatch<const I extends readonly SignBatchItem[]>(keyId: string, items: I, options?: SignOptions): Promise<SignBatchReturnType<I>>
  /**
   * The exact request a sign method would send, for approvers on other machines to stamp with
   * `approveRequest(stamper, request)`; pass their stamps as `options.approvals` to the same call (with the same
   * arguments and idempotency key) within 5 minutes.
   */
  readonly approvalRequest: ApprovalRequests
  /**
   * Set a key's signing policy: the enclave verifies the owners' approvals (their threshold), that the version is
   * above the one in force, and stores it (or, in production, the importer role stores it in Secrets Manager and
   * the enclave reads it back from there itself). Returns the policy now in force.
   */
  setSigningPolicy(keyId: string, policy: SetSigningPolicyParameters | SignedSigningPolicy, options?: SetSigningPolicyOptions): Promise<SigningPolicyState>
  /** The document to approve for `policy` (next version unless given), for owners who approve on other machines. */
  signingPolicyDocument(keyId: string, policy: SetSigningPolicyParameters): Promise<SigningPolicyDocument>
  /** The signing policy in force for a key, with its approvals, as the enclave read it; `undefined` when none is set. */
  getSigningPolicy(keyId: string): Promise<SigningPolicyState | undefined>
  close(): Promise<void>
}

const MAX_ATTESTED_KEYS = 256
/** A sealed import that reaches another enclave than the one it was sealed to is sealed again, this often at most. */
const IMPORT_ATTEMPTS = 4
const ATTEST_UNKNOWN_KEY_ATTEMPTS = 4
/** How long a response key id that could not be attested is not hunted again. */
const UNATTESTED_KEY_MEMORY_MS = 60_000

function verifyRecordSignature(record: SealedKeyRecordV2, publicKey: Uint8Array): boolean {
  try {
    return verifyP256(hexToBytes(record.enclaveSignature.signature), recordSigningBytes(record), publicKey)
  } catch {
    return false
  }
}

/** The idempotency key of sign options, checked before anything is sent. */
/** Who approves a request besides the client's own stamp. */
type Quorum = { approvals?: readonly RequestStamp[]; approvers?: readonly Stamper[] }

function quorumOf(options: SignOptions | undefined): Quorum | undefined {
  if (options === undefined) return undefined
  const { approvals, approvers } = options
  if (approvals !== undefined && !Array.isArray(approvals)) fail('options.approvals', 'must be a list of approval stamps')
  if (approvers !== undefined && (!Array.isArray(approvers) || approvers.some((s) => typeof s?.stamp !== 'function'))) fail('options.approvers', 'must be a list of stampers')
  return { ...(approvals ? { approvals } : {}), ...(approvers ? { approvers } : {}) }
}

function idempotency(options: SignOptions | undefined): { idempotencyKey?: string } {
  if (options === undefined) return {}
  const o = assertObject(options, 'options', ['idempotencyKey', 'approvals', 'approvers'])
  if (o.idempotencyKey === undefined) return {}
  if (typeof o.idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(o.idempotencyKey)) fail('options.idempotencyKey', IDEMPOTENCY_KEY_RULE)
  return { idempotencyKey: o.idempotencyKey }
}

async function attestationPolicyOf(transport: Transport): Promise<AttestationPolicy> {
  const declared = transport.attestation
  return checkAttestationPolicy(typeof declared === 'function' ? await declared() : declared, 'transport.attestation')
}

/**
 * Create a custody client over a transport. Every method validates its input before anything is sent
 * (`INVALID_ARGUMENT` naming the field) and verifies every result before returning it (`INTEGRITY_ERROR`).
 *
 * @param parameters - The transport, an optional KMS importer, an optional gas cap.
 * @returns The client.
 * @example
 * import { createCustodyClient, nitroEnclave, parseEther } from '@enclave-custody/sdk'
 * const custody = createCustodyClient({ transport: nitroEnclave({ url: 'http://127.0.0.1:8443' }) })
 * const { keyId } = await custody.importKey({ generate: true })
 * const signed = await custody.signEip1559(keyId, { chainId: 1n, nonce: 0n, to: '0x…', value: parseEther('0.01'),
 *   gas: 21000n, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n })
 * const legacy = await custody.signTransaction(keyId, { chainId: 1n, nonce: 1n, to: '0x…', gas: 21000n, gasPrice: 20_000_000_000n })
 * const { signature } = await custody.signMessage(keyId, { message: 'hello world' })
 * @throws CustodyError with a stable `code` for every failure.
 */
export function createCustodyClient({ transport, stamper, importer, maxGas = DEFAULT_MAX_GAS, onReceipt, trustedCreators = [], retry: retryOptions }: CreateCustodyClientParameters): CustodyClient {
  if (!transport || typeof transport.request !== 'function') throw new TypeError('createCustodyClient: a transport is required')
  const retry = retryOptions === undefined ? (transport.retry ?? NO_RETRY) : normalizeRetry(retryOptions, 'retry')
  if (typeof stamper !== 'object' || stamper === null || typeof stamper.stamp !== 'function' || typeof stamper.publicKey !== 'string') {
    throw new TypeError('createCustodyClient: a stamper is required (apiKeyStamper({ privateKey }) or your own Stamper)')
  }
  if (transport.attestation === undefined) {
    throw new TypeError(`createCustodyClient: the ${transport.name} transport declares no attestation policy (nitroEnclave({ url, attestation: { pcr0: [...] } }))`)
  }
  let policy: Promise<AttestationPolicy> | undefined
  /** keyId → address: a key's address never changes, so one lookup serves every later signature. */
  const addresses = new Map<string, Address>()
  /** keyId → the address, public key and xpub first reported for it (hex lower-case). */
  const identities = new Map<string, { address?: string; publicKey?: string; xpub?: string }>()
  /** Attested response keys by id: each instance of a fleet (and each boot) has its own. */
  const enclaves = new Map<Hex, AttestedEnclave>()
  let first: Promise<AttestedEnclave> | undefined
  /** Response key ids that could not be attested, and when (see `responseKey`). */
  const unattested = new Map<Hex, number>()
  /** The enclave the last sealed import reached, once it was not the first attested one (a restart). */
  let importTarget: AttestedEnclave | undefined

  async function attest(): Promise<AttestedEnclave> {
    policy ??= attestationPolicyOf(transport)
    const enclave = await attestEnclave((m) => transport.request(m), await policy)
    const known = enclaves.values().next().value as AttestedEnclave | undefined
    // Every instance behind one endpoint must share one trust configuration: stamps carry its digest.
    if (known && known.aud !== enclave.aud) throw new AttestationError({ reason: 'an enclave with another trust configuration answered' })
    if (enclaves.size >= MAX_ATTESTED_KEYS) enclaves.delete(enclaves.keys().next().value!)
    enclaves.set(enclave.keyId, enclave)
    return enclave
  }

  function session(): Promise<AttestedEnclave> {
    first ??= attest().catch((e: unknown) => {
      first = undefined
      throw e
    })
    return first
  }

  /**
   * The attested key with this id: attest (a few times, behind a load balancer) until it shows up. `budget` is the
   * attestations the whole call (all its tries) may still spend hunting keys: a parent that answers every try with
   * a fresh forged key id gets no more attestations out of a retried call than out of one try.
   */
  async function responseKey(keyId: Hex, budget: { attestations: number }): Promise<AttestedEnclave | undefined> {
    const known = enclaves.get(keyId)
    if (known) return known
    // A key id nobody could attest a moment ago is not hunted again at once: a parent that forges ids must not
    // buy attestation round trips with every answer.
    const missed = unattested.get(keyId)
    if (missed !== undefined && Date.now() - missed < UNATTESTED_KEY_MEMORY_MS) return undefined
    for (let i = 0; i < ATTEST_UNKNOWN_KEY_ATTEMPTS && budget.attestations > 0 && !enclaves.has(keyId); i++) {
      budget.attestations--
      await attest()
    }
    const found = enclaves.get(keyId)
    if (!found) {
      if (unattested.size >= MAX_ATTESTED_KEYS) unattested.delete(unattested.keys().next().value!)
      unattested.set(keyId, Date.now())
    }
    return found
  }

  /**
   * Send one stamped request and return its verified result. `params` may be built from the attested enclave
   * and the stamp's nonce (a sealed import binds both).
   */
  async function call<O extends Operation>(
    op: O,
    paramsOrBuild: OperationParamsWire<O> | ((s: { enclave: AttestedEnclave; nonce: Hex }) => Promise<OperationParamsWire<O>>),
    quorum?: Quorum,
  ): Promise<OperationResult<O>> {
    // Only a request that is safe to repeat is repeated; each try is stamped anew (a new nonce and time). Approval
    // stamps collected elsewhere (`approvals`) cannot be made again: the enclave spends their nonces on the first
    // try, so a request carrying them is sent once (approvers given as stampers stamp each try anew).
    const collected = (quorum?.approvals?.length ?? 0) > 0
    const repeatable = retry.attempts > 1 && !collected && typeof paramsOrBuild !== 'function' && isRepeatable(op, paramsOrBuild)
    const budget = { attestations: ATTEST_UNKNOWN_KEY_ATTEMPTS }
    for (let attempt = 1; ; attempt++) {
      try {
        return await callOnce(op, paramsOrBuild, quorum, budget)
      } catch (e) {
        if (!repeatable || attempt >= retry.attempts || !isRetryableFailure(e)) throw e
        await sleep(retryDelay(retry, attempt))
      }
    }
  }

  async function callOnce<O extends Operation>(
    op: O,
    paramsOrBuild: OperationParamsWire<O> | ((s: { enclave: AttestedEnclave; nonce: Hex }) => Promise<OperationParamsWire<O>>),
    quorum: Quorum | undefined,
    budget: { attestations: number },
  ): Promise<OperationResult<O>> {
    const attested = await session()
    const { aud } = attested
    const nonce = bytesToHex(new Uint8Array(randomBytes(16)))
    const params = typeof paramsOrBuild === 'function' ? await paramsOrBuild({ enclave: attested, nonce }) : paramsOrBuild
    // What is stamped is exactly what travels: the params as JSON.
    const wireParams = JSON.parse(JSON.stringify(params)) as OperationParamsWire<O>
    const auth = await stampRequest({ stamper, v: PROTOCOL_VERSION, op, params: wireParams, aud, nonce })
    const digest = requestDigest({ v: PROTOCOL_VERSION, op, params: wireParams, auth, aud })
    const stamped = await Promise.all((quorum?.approvers ?? []).map((s) => stampRequest({ stamper: s, v: PROTOCOL_VERSION, op, params: wireParams, aud, approvalFor: ownKey })))
    const approvals = [...(quorum?.approvals ?? []), ...stamped]
    const message: RequestMessage<O> = { v: PROTOCOL_VERSION, id: randomBytes(12).toString('base64url'), op, params: wireParams, auth, ...(approvals.length > 0 ? { approvals } : {}) }
    let response: ReturnType<typeof parseResponse>
    try {
      response = parseResponse(await transport.request(message))
    } catch (e) {
      if (isCustodyError(e, 'TIMEOUT') || isCustodyError(e, 'UNAVAILABLE')) throw e
      throw new UnavailableError({ reason: 'the enclave\'s answer could not be read', cause: e })
    }
    const sig = parseResponseSignature(response.sig)
    const enclave = sig ? await responseKey(sig.keyId, budget) : undefined
    const value = response.ok ? response.result : response.error
    const signed = sig !== undefined && enclave !== undefined && enclave.aud === aud && verifyResponseSignature(sig, enclave.publicKey, { request: digest, ok: response.ok, value })
    if (!signed) {
      // Only what the enclave signed carries meaning: an unsigned error may come from the proxy or the network.
      if (!response.ok) throw new UnavailableError({ reason: 'the answer is not signed by an attested enclave (the proxy or the network may have made it)' })
      throw new IntegrityError({ reason: 'the result is not signed by an attested enclave for this request' })
    }
    onReceipt?.({ responseKeyId: sig.keyId, auditSeq: sig.auditSeq, auditHead: sig.auditHead, op, requestDigest: digest })
    if (!response.ok) throw errorFromWire(response.error)
    return parseResult(op, response.result)
  }

  const ownKey = canonicalApiKey(stamper.publicKey, 'stamper.publicKey')
  if (!Array.isArray(trustedCreators) || trustedCreators.length >= MAX_LIST_CREATORS) throw new InvalidArgumentError({ field: 'trustedCreators', rule: `must be a list of at most ${MAX_LIST_CREATORS - 1} API public keys` })
  const creators = new Set([ownKey, ...trustedCreators.map((k, i) => canonicalApiKey(k, `trustedCreators[${i}]`))])
  const trusted = (k: KeyInfoWire) => k.creator === undefined || creators.has(k.creator as Hex)

  const toKeyInfo = (k: KeyInfoWire): KeyInfo => {
    if (!trusted(k)) {
      throw new IntegrityError({ reason: `key "${k.keyId}" was created by an API key this client does not trust (a key planted under its id?); add the creator to trustedCreators if it is yours` })
    }
    // A keyId names one key for the life of this client: a hostile parent can make a second key under the same
    // id (a key.generate replayed to another instance) and forward it later; its signatures must not be taken
    // for the first key's because a later getKey or listKeys reported it.
    // Each of address, public key and xpub is compared where both this answer and an earlier one carry it (some
    // answers carry only some of them); hex in either case is one value, base58 and bech32 compare as given.
    const known = identities.get(k.keyId) ?? {}
    for (const field of ['address', 'publicKey', 'xpub'] as const) {
      const reported = k[field]
      if (reported === undefined) continue
      const value = /^0x[0-9a-f]*$/i.test(reported) ? reported.toLowerCase() : reported
      if (known[field] === undefined) known[field] = value
      else if (known[field] !== value) {
        throw new IntegrityError({ reason: `key "${k.keyId}" now reports another ${field} than it did to this client before: a second key under the same keyId (made on another enclave instance?)` })
      }
    }
    identities.set(k.keyId, known)
    if (k.family === 'evm') addresses.set(k.keyId, k.address as Address)
    return {
      keyId: k.keyId,
      kind: k.kind,
      address: (k.address ?? '') as Address,
      curve: k.curve,
      ...(k.family ? { family: k.family } : {}),
      ...(k.walletId ? { walletId: k.walletId } : {}),
      ...(k.path ? { path: k.path } : {}),
      ...(k.network ? { network: k.network } : {}),
      ...(k.format ? { format: k.format } : {}),
      ...(k.xpub ? { xpub: k.xpub } : {}),
      ...(k.fingerprint ? { fingerprint: k.fingerprint as Hex } : {}),
      createdAt: new Date(k.createdAt),
      policy: normalizeKeyPolicy(k.policy ?? {}),
      ...(k.owners ? { owners: k.owners as Owners } : {}),
      ...(k.publicKey ? { publicKey: k.publicKey as Hex } : {}),
      ...(k.creator ? { creator: k.creator as Hex } : {}),
      ...(k.signingPolicy ? { signingPolicy: k.signingPolicy as SigningPolicyRef } : {}),
    }
  }

  async function addressOf(keyId: string): Promise<Address> {
    const known = addresses.get(keyId)
    if (known) return known
    const key = await client.getKey(keyId)
    if (key.family !== 'evm') throw new InvalidArgumentError({ field: 'keyId', rule: `names a ${key.kind}${key.family ? ` ${key.family}` : ''} key, not an EVM key` })
    return key.address
  }

  /**
   * Store a record the enclave sealed but does not persist (production: the importer role's Secrets Manager),
   * after checking that it is the record of the key the enclave reported, under the requested policy and owners.
   */
  async function storeEnclaveRecord(record: SealedKeyRecord, policy: KeyPolicy, owners: Owners | undefined, info: KeyInfoWire): Promise<void> {
    if (record.keyId !== info.keyId || record.address !== info.address) throw new IntegrityError({ reason: 'the enclave\'s record does not match the key' })
    // Only a record an attested enclave signed is stored (its answer is signed too; the record's own signature
    // lets any later reader check it against the enclave's attestation).
    if (record.version !== 2) throw new IntegrityError({ reason: 'an enclave creates records of format v2 only' })
    if (record.creator !== ownKey) throw new IntegrityError({ reason: 'the enclave\'s record names another creator than this client\'s API key' })
    const signer = enclaves.get(record.enclaveSignature.keyId as Hex)
    if (!signer || !verifyRecordSignature(record, signer.publicKey)) throw new IntegrityError({ reason: 'the record is not signed by an attested enclave' })
    const recordPolicy = keyPolicyOfRecord(record)
    // The context of a v2 data key: the requested keyId, policy and owners, and `record: 'v2'`.
    if (JSON.stringify(recordPolicy) !== JSON.stringify(policy) || !encryptionContextsEqual(record.encryptionContext, keyEncryptionContext(record.keyId, policy, owners, 2))) {
      throw new IntegrityError({ reason: 'the enclave\'s record does not bind the requested policy and owners' })
    }
    if (JSON.stringify(record.owners) !== JSON.stringify(owners)) throw new IntegrityError({ reason: 'the enclave\'s record does not carry the requested owners' })
    if (!importer) throw new InvalidArgumentError({ field: 'importer', rule: 'is required to store keys created by an attested enclave' })
    await importer.storeRecord(record)
  }

  /** The EVM family's requests and result checks (families/evm/client.ts), built once per call and per approval request. */
  const evm = evmSignRequests({ maxGas })
  /** The Bitcoin and Solana families' requests and result checks: they read the key's public side from its signed key info. */
  const bitcoin = bitcoinSignRequests({ keyOf: (keyId) => client.getKey(keyId) })
  const solana = solanaSignRequests({ keyOf: (keyId) => client.getKey(keyId) })

  /** Send a prepared sign request (stamped, with its quorum) and check its result against what was asked and the key's address. */
  async function signWith<O extends Operation, R>(keyId: string, prepared: { request: { op: O; params: OperationParamsWire<O> }; verify(result: OperationResult<O>, expected: Address): R }, options: SignOptions | undefined): Promise<R> {
    const expected = await addressOf(keyId)
    return prepared.verify(await call(prepared.request.op, prepared.request.params, quorumOf(options)), expected)
  }

  /** The document of `policy` for `key` (its public key, the next version unless given). */
  function documentFor(keyId: string, policy: SetSigningPolicyParameters, key: KeyInfo): SigningPolicyDocument {
    const p = assertObject(policy, 'policy', ['rules', 'signers', 'version'])
    const { rules, signers } = normalizeSigningPolicy({ ...(p.rules === undefined ? {} : { rules: p.rules }), ...(p.signers === undefined ? {} : { signers: p.signers }) }, 'policy')
    if (!key.publicKey) throw new IntegrityError({ reason: `the enclave did not report the public key of "${keyId}"` })
    const version = p.version === undefined ? (key.signingPolicy?.version ?? 0) + 1 : p.version
    return normalizeSigningPolicyDocument({ keyId, keyPublicKey: key.publicKey, version, rules, signers }, 'policy')
  }

  /** What an approver stamps for `request`: the wire params exactly as they will travel, and the enclave's audience. */
  async function approvalRequestOf(request: { op: Operation; params: unknown }): Promise<ApprovalRequest> {
    const { aud } = await session()
    return { v: PROTOCOL_VERSION, op: request.op, params: JSON.parse(JSON.stringify(request.params)) as unknown, aud, requester: ownKey }
  }

  /**
   * Send a request whose params seal something to the attested enclave's HPKE key (a sealed import). Another
   * instance (behind a load balancer) or a restarted enclave says so, signed (`sealed.to`): attest whoever answers
   * now and seal to that key; the ciphertext for the other one is useless to it.
   */
  async function sealedCall<O extends 'key.importSealed' | 'wallet.importSealed'>(op: O, build: (enclave: AttestedEnclave, nonce: Hex) => Promise<OperationParamsWire<O>>): Promise<OperationResult<O>> {
    for (let attempt = 1, recipient = importTarget; ; attempt++) {
      try {
        const answer = await call(op, ({ enclave, nonce }) => build(recipient ?? enclave, nonce))
        importTarget = recipient
        return answer
      } catch (e) {
        if (attempt >= IMPORT_ATTEMPTS || !isCustodyError(e, 'INVALID_ARGUMENT') || e.details?.field !== 'sealed.to') throw e
        recipient = await attest()
      }
    }
  }

  /** The owners and sealed policy of a new wallet, and how they travel (defaults do not). */
  function creationOf(p: { policy?: unknown; owners?: unknown }) {
    const policy = normalizeKeyPolicy(p.policy, 'policy')
    const owners = p.owners === undefined ? normalizeOwners({ publicKeys: [stamper.publicKey] }) : normalizeOwners(p.owners, 'owners')
    return { policy, owners, params: { ...(isDefaultKeyPolicy(policy) ? {} : { policy }), ...(p.owners === undefined ? {} : { owners }) } }
  }

  /** Check a new wallet's answer and store its record when the enclave does not. */
  async function walletCreated(answer: OperationResult<'wallet.create'>, walletId: string | undefined, policy: KeyPolicy, owners: Owners): Promise<KeyInfo> {
    const { record, ...info } = answer
    if (info.kind !== 'hd-wallet' || (walletId !== undefined && info.keyId !== walletId)) throw new IntegrityError({ reason: 'the enclave did not answer with the wallet asked for' })
    if (record) await storeEnclaveRecord(record, policy, owners, info)
    return toKeyInfo(info)
  }

  const client: CustodyClient = {
    async importKey(params) {
      const p = assertObject(params, 'params', ['privateKey', 'keyId', 'kind', 'generate', 'policy', 'owners', 'insecurePlaintextImport', 'offline'])
      const keyId = p.keyId === undefined ? {} : { keyId: p.keyId as string }
      if (p.kind !== undefined && p.kind !== 'secp256k1' && p.kind !== 'ed25519') throw new InvalidArgumentError({ field: 'kind', rule: 'must be secp256k1 or ed25519' })
      const kind: PlainKeyKind = (p.kind as PlainKeyKind | undefined) ?? 'secp256k1'
      // Only a non-default kind travels: secp256k1 requests stay what they always were.
      const kindParam = kind === 'secp256k1' ? {} : { kind }
      const policy = normalizeKeyPolicy(p.policy, 'policy')
      // Only a widened policy travels: default-policy requests stay what they always were.
      const policyParam = isDefaultKeyPolicy(policy) ? {} : { policy }
      // Owners default to this client's API key (the enclave does the same from the stamp).
      const owners = p.owners === undefined ? normalizeOwners({ publicKeys: [stamper.publicKey] }) : normalizeOwners(p.owners, 'owners')
      const ownersParam = p.owners === undefined ? {} : { owners }
      if (p.generate !== undefined) {
        if (p.generate !== true) throw new InvalidArgumentError({ field: 'generate', rule: 'must be true when present' })
        if (p.privateKey !== undefined) throw new InvalidArgumentError({ field: 'privateKey', rule: 'must be absent when generate is true' })
        const { record, ...info } = await call('key.generate', { ...keyId, ...kindParam, ...policyParam, ...ownersParam })
        if (info.kind !== kind) throw new IntegrityError({ reason: `the enclave generated a ${info.kind} key, not ${kind}` })
        if (record) await storeEnclaveRecord(record, policy, owners, info)
        return toKeyInfo(info)
      }
      const privateKey = assertPrivateKeyHex(p.privateKey, 'privateKey')
      if (p.insecurePlaintextImport !== undefined && p.insecurePlaintextImport !== true) throw new InvalidArgumentError({ field: 'insecurePlaintextImport', rule: 'must be true when present' })
      if (p.offline !== undefined && p.offline !== true) throw new InvalidArgumentError({ field: 'offline', rule: 'must be true when present' })
      if (p.offline === true) {
        if (!importer) throw new InvalidArgumentError({ field: 'importer', rule: 'is required for an offline import (KMS Encrypt by the importer role)' })
        if (kind !== 'secp256k1') throw new InvalidArgumentError({ field: 'offline', rule: 'imports secp256k1 keys only' })
        return toKeyInfo(keyInfoOfRecord(await importer.importPrivateKey({ privateKey, ...keyId, ...policyParam, owners })))
      }
      if (p.insecurePlaintextImport !== true) {
        // Sealed to the attested enclave's HPKE key: the key is never in plaintext on any transport.
        const id = (p.keyId as string | undefined) ?? `key-${randomBytes(10).toString('hex')}`
        const answer = await sealedCall('key.importSealed', async (enclave, nonce) => {
          const bytes = hexToBytes(privateKey)
          try {
            const sealed = await sealImport(enclave.hpkePublicKey, bytes, importAad({ apiKey: ownKey, keyId: id, nonce, owners, kind }))
            return { keyId: id, ...kindParam, ...policyParam, owners, sealed }
          } finally {
            bytes.fill(0)
          }
        })
        const { record, ...info } = answer
        const bytes = hexToBytes(privateKey)
        let expected: string
        try {
          expected = kind === 'ed25519' ? base58.encode(ed25519.getPublicKey(bytes)) : privateKeyToAddress(bytes)
        } finally {
          bytes.fill(0)
        }
        if (info.keyId !== id || info.address !== expected || info.kind !== kind) throw new IntegrityError({ reason: 'the imported key is not the key that was sealed' })
        if (record) await storeEnclaveRecord(record, policy, owners, info)
        return toKeyInfo(info)
      }
      // Plaintext on the wire: only with the loud flag.
      const { record, ...info } = await call('key.import', { privateKey, ...keyId, ...kindParam, ...policyParam, ...ownersParam })
      if (info.kind !== kind) throw new IntegrityError({ reason: `the enclave imported a ${info.kind} key, not ${kind}` })
      if (record) await storeEnclaveRecord(record, policy, owners, info)
      return toKeyInfo(info)
    },
    async createWallet(params = {}) {
      const p = assertObject(params, 'params', ['walletId', 'words', 'policy', 'owners'])
      if (p.words !== undefined && ![12, 15, 18, 21, 24].includes(p.words as number)) throw new InvalidArgumentError({ field: 'words', rule: 'must be 12, 15, 18, 21 or 24' })
      const { policy, owners, params: created } = creationOf(p)
      const walletId = p.walletId as string | undefined
      const answer = await call('wallet.create', { ...(walletId === undefined ? {} : { walletId }), ...(p.words === undefined ? {} : { words: p.words as 24 }), ...created })
      return walletCreated(answer, walletId, policy, owners)
    },
    async importWallet(params) {
      const p = assertObject(params, 'params', ['mnemonic', 'passphrase', 'walletId', 'policy', 'owners'])
      if (typeof p.mnemonic !== 'string' || p.mnemonic.trim().split(/\s+/).length < 12) throw new InvalidArgumentError({ field: 'mnemonic', rule: 'must be a BIP-39 mnemonic of 12 to 24 words' })
      if (p.passphrase !== undefined && typeof p.passphrase !== 'string') throw new InvalidArgumentError({ field: 'passphrase', rule: 'must be a string' })
      const { policy, owners, params: created } = creationOf(p)
      const walletId = (p.walletId as string | undefined) ?? `wallet-${randomBytes(10).toString('hex')}`
      // The words are checked by the enclave (checksum, word list); the error names the field, never a word.
      const plaintext = new TextEncoder().encode(JSON.stringify({ mnemonic: p.mnemonic, ...(p.passphrase ? { passphrase: p.passphrase } : {}) }))
      try {
        const answer = await sealedCall('wallet.importSealed', async (enclave, nonce) => ({
          walletId,
          ...created,
          owners,
          sealed: await sealImport(enclave.hpkePublicKey, plaintext, importAad({ apiKey: ownKey, keyId: walletId, nonce, owners, kind: 'hd-wallet' })),
        }))
        return await walletCreated(answer, walletId, policy, owners)
      } finally {
        plaintext.fill(0)
      }
    },
    async createAccount(walletId, params, options) {
      const p = assertObject(params, 'params', ['family', 'keyId', 'path', 'index', 'network', 'format'])
      const wallet = await client.getKey(walletId)
      if (wallet.kind !== 'hd-wallet') throw new InvalidArgumentError({ field: 'walletId', rule: `must name an HD wallet (it names a ${wallet.kind} key)` })
      // The master key from a wallet this client trusts (its creator): the enclave derives only from that wallet.
      if (!wallet.publicKey) throw new IntegrityError({ reason: `the enclave did not report the master key of wallet "${walletId}"` })
      const walletPublicKey = bytesToHex(secp256k1.Point.fromHex(wallet.publicKey.slice(2)).toBytes(true))
      const request = { walletId, walletPublicKey, ...(p as CreateAccountParameters) }
      const { record, ...info } = await call('account.create', JSON.parse(JSON.stringify(request)) as OperationParamsWire<'account.create'>, quorumOf(options))
      const same = info.kind === 'hd-account' && info.walletId === walletId && info.family === p.family && (p.keyId === undefined || info.keyId === p.keyId) && (p.path === undefined || info.path === p.path)
      if (!same || info.fingerprint !== wallet.fingerprint || (record?.version === 2 && record.walletPublicKey !== walletPublicKey)) {
        throw new IntegrityError({ reason: 'the enclave did not answer with the account asked for' })
      }
      // An account carries its wallet's owners and sealed policy flags.
      if (record) await storeEnclaveRecord(record, wallet.policy, wallet.owners, info)
      return toKeyInfo(info)
    },
    async getKey(keyId) {
      const info = toKeyInfo(await call('key.get', { keyId }))
      if (info.keyId !== keyId) throw new KeyNotFoundError({ keyId })
      return info
    },
    async listKeys() {
      // Keys of untrusted creators are left out, like keys of other owners.
      // The enclave leaves out keys of other creators before its cap, so that they cannot crowd this client's out.
      return (await call('key.list', { creators: [...creators] })).keys.filter(trusted).map(toKeyInfo)
    },
    signEip1559: async (keyId, tx, options) => signWith(keyId, evm.signEip1559(keyId, tx, idempotency(options)), options),
    signTransaction: async (keyId, tx, options) => signWith(keyId, evm.signTransaction(keyId, tx, idempotency(options)), options),
    signAuthorization: async (keyId, authorization, options) => signWith(keyId, evm.signAuthorization(keyId, authorization, idempotency(options)), options),
    signMessage: async (keyId, params, options) => signWith(keyId, evm.signMessage(keyId, params, idempotency(options)), options),
    signTypedData: async (keyId, typedData, options) => signWith(keyId, evm.signTypedData(keyId, typedData, idempotency(options)), options),
    signDigest: async (keyId, digest, options) => signWith(keyId, evm.signDigest(keyId, digest, idempotency(options)), options),
    // Bitcoin and Solana: the prepared request read the key's public side itself (no EVM address to expect).
    signBitcoinPsbt: async (keyId, params, options) => {
      const { request, verify } = await bitcoin.signBitcoinPsbt(keyId, params, idempotency(options))
      return verify(await call(request.op, request.params, quorumOf(options)))
    },
    signSolanaTransaction: async (keyId, params, options) => {
      const { request, verify } = await solana.signSolanaTransaction(keyId, params, idempotency(options))
      return verify(await call(request.op, request.params, quorumOf(options)))
    },
    signSolanaMessage: async (keyId, params, options) => {
      const { request, verify } = await solana.signSolanaMessage(keyId, params, idempotency(options))
      return verify(await call(request.op, request.params, quorumOf(options)))
    },
    signBatch: async (keyId, items, options) => signBatch({ call, addressOf, getKey: (id) => client.getKey(id), evm, idempotency: idempotency(options), quorum: quorumOf(options) }, keyId, items),
    approvalRequest: {
      signEip1559: async (keyId, tx, options) => approvalRequestOf(evm.signEip1559(keyId, tx, idempotency(options)).request),
      signTransaction: async (keyId, tx, options) => approvalRequestOf(evm.signTransaction(keyId, tx, idempotency(options)).request),
      signAuthorization: async (keyId, authorization, options) => approvalRequestOf(evm.signAuthorization(keyId, authorization, idempotency(options)).request),
      signMessage: async (keyId, params, options) => approvalRequestOf(evm.signMessage(keyId, params, idempotency(options)).request),
      signTypedData: async (keyId, typedData, options) => approvalRequestOf(evm.signTypedData(keyId, typedData, idempotency(options)).request),
      signDigest: async (keyId, digest, options) => approvalRequestOf(evm.signDigest(keyId, digest, idempotency(options)).request),
      signBitcoinPsbt: async (keyId, params, options) => approvalRequestOf(bitcoin.signBitcoinPsbtRequest(keyId, params, idempotency(options))),
      signSolanaTransaction: async (keyId, params, options) => approvalRequestOf(solana.signSolanaTransactionRequest(keyId, params, idempotency(options))),
      signSolanaMessage: async (keyId, params, options) => approvalRequestOf(solana.signSolanaMessageRequest(keyId, params, idempotency(options))),
      signBatch: async (keyId, items, options) => approvalRequestOf(signBatchRequest(evm, keyId, items, idempotency(options))),
    },
    signingPolicyDocument: async (keyId, policy) => documentFor(keyId, policy, await client.getKey(keyId)),
    async setSigningPolicy(keyId, policy, options) {
      const o = options === undefined ? {} : assertObject(options, 'options', ['approvers', 'approvals'])
      let signed: SignedSigningPolicy
      if (typeof policy === 'object' && policy !== null && 'document' in policy) {
        signed = { document: normalizeSigningPolicyDocument(policy.document, 'policy.document'), approvals: [...policy.approvals] }
      } else {
        const key = await client.getKey(keyId)
        const document = documentFor(keyId, policy as SetSigningPolicyParameters, key)
        // This client approves as one of the owners when it is one; other owners through approvers/approvals.
        const own = key.owners?.publicKeys.includes(ownKey) ? [stamper] : []
        const approvers = [...own, ...((o.approvers as Stamper[] | undefined) ?? [])]
        signed = { document, approvals: [...((o.approvals as PolicyApproval[] | undefined) ?? []), ...(await Promise.all(approvers.map((s) => approveSigningPolicy(s, document))))] }
      }
      if (signed.document.keyId !== keyId) throw new InvalidArgumentError({ field: 'policy.document.keyId', rule: `must be "${keyId}"` })
      const accepted = await call('policy.set', { keyId, policy: signed })
      if (!accepted.stored) {
        // Production: the enclave reads policies itself from Secrets Manager; the importer role writes them there.
        if (!importer) throw new InvalidArgumentError({ field: 'importer', rule: 'is required to store a signing policy for an attested enclave that does not store them' })
        await importer.storeSigningPolicy(signed)
      }
      const state = await client.getSigningPolicy(keyId)
      if (state?.digest !== accepted.signingPolicy.digest) {
        throw new IntegrityError({ reason: `the enclave does not report the policy just set in force for "${keyId}" (version ${accepted.signingPolicy.version})` })
      }
      return state
    },
    async getSigningPolicy(keyId) {
      const answer = await call('policy.get', { keyId })
      if (answer.keyId !== keyId) throw new KeyNotFoundError({ keyId })
      if (!answer.policy || !answer.signingPolicy) return undefined
      const document = normalizeSigningPolicyDocument(answer.policy.document, 'policy.document')
      return { document, approvals: answer.policy.approvals as PolicyApproval[], ...(answer.signingPolicy as SigningPolicyRef) }
    },
    async close() {
      await transport.close?.()
    },
  }
  return client
}
