import {
  AbstractSigner,
  type Authorization,
  type AuthorizationRequest,
  copyRequest,
  getAddress,
  getBigInt,
  hashMessage,
  hexlify,
  isAddress,
  type Provider,
  resolveAddress,
  Signature,
  type TransactionRequest,
  TypedDataEncoder,
  type TypedDataDomain,
  type TypedDataField,
  verifyAuthorization,
} from 'ethers'
import { CustodyError, ErrorCode, IntegrityError, InvalidArgumentError } from '../errors/CustodyError.js'
import type { TypedDataDomainInput } from '../messages/typedData.js'
import type { TransactionRequest as CustodyTransactionRequest } from '../transactions/transaction.js'
import { fail, typeName } from '../utils/assert.js'
import { assertEvmKey } from '../keys/assertEvmKey.js'
import { assertSignedMatches } from './assertSignedMatches.js'
import { assertTypedDataMembers } from './assertTypedDataMembers.js'
import { type CopiedRequest, toCustodyTransaction } from './toCustodyTransaction.js'
import type { EnclaveSignerClient } from './types.js'

/**
 * A key reference: its id, or its id and its address when already known (then `signer.address` is set at once,
 * like `Wallet.address`; the address is checked against the enclave's report before the first signature).
 */
export type EnclaveSignerKey = string | { keyId: string; address: string }

/** The serialised ethers signature (65 bytes, v = 27 or 28) of an enclave signature. */
const serialize = (sig: { r: string; s: string; yParity: 0 | 1 }) => Signature.from({ r: sig.r, s: sig.s, yParity: sig.yParity }).serialized

/**
 * An ethers v6 `Signer` whose key lives in the enclave: drop it in wherever an app used
 * `new Wallet(privateKey, provider)`. `sendTransaction`, `populateTransaction`, `estimateGas`, contracts and
 * `ContractFactory` work unchanged (inherited from `AbstractSigner`); each signature is one call to the
 * custody client with the structured payload (transaction fields, message, EIP-712 object), never a digest.
 *
 * @example
 * import { apiKeyStamper, createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * import { EnclaveSigner } from '@enclave-custody/sdk/ethers'
 * import { JsonRpcProvider, parseEther } from 'ethers'
 *
 * const provider = new JsonRpcProvider(process.env.CUSTODY_RPC_URL)
 * const custody = createCustodyClient({
 *   // The PCR0 allowlist comes from the build's pcrs.json or the stack's output, never from the proxy.
 *   transport: nitroEnclave({ url: process.env.CUSTODY_URL!, attestation: { pcr0: process.env.CUSTODY_PCR0!.split(',') } }),
 *   // Every request is stamped with the API key; every answer must be signed by the attested enclave.
 *   stamper: apiKeyStamper({ privateKey: process.env.CUSTODY_API_KEY! }),
 * })
 * // was: const signer = new Wallet(process.env.PRIVATE_KEY!, provider)
 * const signer = await EnclaveSigner.create(custody, process.env.CUSTODY_KEY_ID!, provider)
 * const tx = await signer.sendTransaction({ to: '0x…', value: parseEther('0.01') })
 */
export class EnclaveSigner extends AbstractSigner {
  /** The custody key this signer signs with. */
  readonly keyId: string
  readonly #custody: EnclaveSignerClient
  /** The address: as given to the constructor (checked on first use), or as loaded. */
  #address: string | undefined
  /** The address as the attested enclave reported it, checked against `#address` (once; again after a failure). */
  #verified: Promise<string> | undefined
  /** Whether `#address` is the enclave's report (a check passed, here or in the signer this one was connected from). */
  #checked = false

  /**
   * @param custody the custody client (`createCustodyClient({ transport, stamper })`): the signer uses it as
   *   is, so the client's stamper authenticates every request and its attestation policy vets every answer.
   * @param key the key id, or `{ keyId, address }` when the address is known: then `signer.address` is set at
   *   once, with no round trip (this is the synchronous constructor, like `new Wallet(key, provider)`), and
   *   the first signature (of any kind) is preceded by a check of the address against the key's as the attested
   *   enclave reports it: a mismatch is an `IntegrityError` and nothing is signed. With a key id alone, the
   *   first `getAddress()` or signature loads the address. `EnclaveSigner.create` loads it up front.
   * @param provider connect to a provider (needed for `sendTransaction`, ENS names, `authorize`).
   * @throws InvalidArgumentError for a missing client, an empty key id or a malformed address.
   *
   * @example
   * // The address from `await custody.getKey(keyId)` (or `custody address --json`), stored with the config.
   * const signer = new EnclaveSigner(custody, { keyId: 'treasury-hot', address: '0x…' }, provider)
   * signer.address // at once
   */
  constructor(custody: EnclaveSignerClient, key: EnclaveSignerKey, provider?: null | Provider) {
    super(provider ?? null)
    if (typeof custody !== 'object' || custody === null || typeof custody.getKey !== 'function') {
      fail('custody', `must be a custody client from createCustodyClient (got ${typeName(custody)})`)
    }
    const keyId = typeof key === 'object' && key !== null ? key.keyId : key
    if (typeof keyId !== 'string' || keyId.length === 0) fail('keyId', `must be a non-empty string (got ${typeName(keyId)})`)
    this.keyId = keyId
    this.#custody = custody
    if (typeof key === 'object' && key !== null) {
      const { address } = key as { address?: unknown }
      if (typeof address !== 'string' || !isAddress(address)) fail('address', 'must be an address: 0x and 40 hex digits, with a valid EIP-55 checksum when mixed case')
      this.#address = getAddress(address)
    }
  }

  /**
   * Load the key's address from the custody client and return a signer that knows it.
   *
   * @param custody the custody client.
   * @param keyId the key to sign with.
   * @param provider optional provider to connect to.
   * @returns the signer, with `signer.address` set (and checked: the first signature needs no round trip).
   * @throws CustodyError `KEY_NOT_FOUND` when the key does not exist; whatever `getKey` throws otherwise.
   *
   * @example
   * const signer = await EnclaveSigner.create(custody, 'treasury-hot', provider)
   * console.log(signer.address)
   */
  static async create(custody: EnclaveSignerClient, keyId: string, provider?: null | Provider): Promise<EnclaveSigner> {
    const signer = new EnclaveSigner(custody, keyId, provider)
    await signer.getAddress()
    return signer
  }

  /**
   * The key's checksummed address, like `Wallet.address`: set right after `create`, and at once when the
   * constructor was given `{ keyId, address }`.
   * @throws CustodyError when the address has not been loaded yet (construct with `create` or with the address,
   *   or await `getAddress()` first).
   */
  get address(): string {
    if (this.#address === undefined) {
      throw new CustodyError(ErrorCode.INVALID_ARGUMENT, {
        shortMessage: 'EnclaveSigner: the address is not loaded yet; build the signer with EnclaveSigner.create() or await signer.getAddress() first',
      })
    }
    return this.#address
  }

  /**
   * The key's checksummed address: the one the constructor was given, or loaded once from the custody client
   * (then cached).
   */
  async getAddress(): Promise<string> {
    if (this.#address !== undefined) return this.#address
    return this.#identity()
  }

  /**
   * The key's address as the attested enclave reports it (`getKey`), once: an EVM key of this id, at the address
   * the signer was built with if it was. Every sign method awaits it first, so nothing is signed for a key whose
   * identity does not match.
   */
  #identity(): Promise<string> {
    if (this.#checked && this.#address !== undefined) return Promise.resolve(this.#address)
    this.#verified ??= this.#custody
      .getKey(this.keyId)
      .then((info) => {
        if (info.keyId !== this.keyId) throw new IntegrityError({ reason: 'getKey answered for another key' })
        assertEvmKey(info)
        const reported = getAddress(info.address)
        if (this.#address !== undefined && reported !== this.#address) {
          throw new IntegrityError({ reason: `the key's address is ${reported}, not ${this.#address} as the signer was built with` })
        }
        this.#address = reported
        this.#checked = true
        return reported
      })
      .catch((e: unknown) => {
        this.#verified = undefined // a failed check is made again on the next use, never taken as passed
        throw e
      })
    return this.#verified
  }

  /** The same key, connected to `provider` (its identity, once checked, is not checked again). */
  connect(provider: null | Provider): EnclaveSigner {
    const signer = new EnclaveSigner(this.#custody, this.#address === undefined ? this.keyId : { keyId: this.keyId, address: this.#address }, provider)
    // Only a passed check carries over: one in flight may still fail, and then the new signer checks for itself.
    if (this.#checked) signer.#checked = true
    return signer
  }

  /**
   * Sign a transaction (types 0, 1, 2 and 4; the type is inferred from the fee fields when absent) and
   * return the serialised signed transaction. Like `Wallet.signTransaction`, it signs what it is given:
   * `populateTransaction` (or `sendTransaction`) fills nonce, gas and fees from the provider.
   *
   * @param tx an ethers `TransactionRequest` or `Transaction`; `to` and `from` may be ENS names or
   *   Addressables.
   * @returns the signed transaction, ready for `eth_sendRawTransaction`.
   * @throws InvalidArgumentError when `tx.from` is another address, the chain id is missing (replayable
   *   transaction), or the type is 3 (blob); CustodyError from the client (policy, validation); an
   *   IntegrityError when the enclave's transaction differs from the request as ethers serialises it.
   */
  async signTransaction(tx: TransactionRequest): Promise<string> {
    const req = copyRequest(tx) as CopiedRequest & { to?: unknown; from?: unknown }
    const [address, to, from] = await Promise.all([
      this.#identity(),
      req.to == null ? undefined : resolveAddress(req.to as string, this),
      req.from == null ? undefined : resolveAddress(req.from as string, this),
    ])
    if (from !== undefined && from.toLowerCase() !== address.toLowerCase()) {
      throw new InvalidArgumentError({ field: 'tx.from', rule: `must be the signer's address ${address} (got ${getAddress(from)})` })
    }
    const fields = toCustodyTransaction({ ...req, to: to ?? null })
    const { rawTransaction } = await this.#custody.signTransaction(this.keyId, fields as CustodyTransactionRequest)
    assertSignedMatches(fields, rawTransaction)
    return rawTransaction
  }

  /**
   * EIP-191 `personal_sign`: a string is signed as its UTF-8 bytes, a `Uint8Array` as is.
   * @returns the 65-byte signature (v = 27 or 28), as `Wallet.signMessage` returns it.
   * @throws IntegrityError when the enclave signed another digest than ethers' `hashMessage`.
   */
  async signMessage(message: string | Uint8Array): Promise<string> {
    if (typeof message !== 'string' && !(message instanceof Uint8Array)) fail('message', `must be a string or a Uint8Array (got ${typeName(message)})`)
    await this.#identity()
    const res = await this.#custody.signMessage(this.keyId, { message: typeof message === 'string' ? message : message.slice() })
    if (res.hash.toLowerCase() !== hashMessage(message)) throw new IntegrityError({ reason: 'the enclave signed another digest than hashMessage(message)' })
    return serialize(res)
  }

  /**
   * EIP-712 typed data, with ethers' argument order and semantics: ENS names among the domain's
   * `verifyingContract` and `address` values are resolved through the provider first, quantities may be
   * any BigNumberish, bytes any BytesLike. The enclave receives the whole typed-data object.
   *
   * Stricter than `Wallet.signTypedData`, as strict as the viem adapter: a value with a member its type does
   * not declare (which ethers drops silently) or without one it declares is refused, with the error the viem
   * adapter gives for the same input (`"typedData.message" has unknown field "memo"`).
   *
   * @returns the 65-byte signature (v = 27 or 28).
   * @throws InvalidArgumentError for an unknown or missing member; IntegrityError when the enclave signed
   *   another digest than `TypedDataEncoder.hash`.
   */
  async signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    const encoder = TypedDataEncoder.from(types)
    assertTypedDataMembers(types, encoder.primaryType, value)
    await this.#identity()
    const populated = await TypedDataEncoder.resolveNames(domain, types, value, async (name) => {
      const provider = this.provider
      if (!provider) fail('domain/value', `contains the ENS name ${JSON.stringify(name)}, which needs a provider to resolve`)
      const resolved = await provider.resolveName(name)
      if (!resolved) fail('domain/value', `contains the ENS name ${JSON.stringify(name)}, which does not resolve`)
      return resolved
    })
    // Canonical values: bigint quantities, lower-case hex bytes, checksummed addresses.
    const message = encoder.visit(populated.value, (type, v) => {
      if (/^u?int\d*$/.test(type)) return getBigInt(v)
      if (/^bytes\d*$/.test(type)) return hexlify(v)
      if (type === 'address') return getAddress(v)
      if (type === 'bool') return Boolean(v)
      return v
    }) as Record<string, unknown>
    const d = populated.domain
    const typedDomain: TypedDataDomainInput = {}
    if (d.name != null) typedDomain.name = d.name
    if (d.version != null) typedDomain.version = d.version
    if (d.chainId != null) typedDomain.chainId = getBigInt(d.chainId)
    if (d.verifyingContract != null) typedDomain.verifyingContract = getAddress(d.verifyingContract)
    if (d.salt != null) typedDomain.salt = hexlify(d.salt)
    const plainTypes = Object.fromEntries(Object.entries(types).map(([name, fields]) => [name, fields.map((f) => ({ name: f.name, type: f.type }))]))
    const res = await this.#custody.signTypedData(this.keyId, { domain: typedDomain, types: plainTypes, primaryType: encoder.primaryType, message })
    if (res.hash.toLowerCase() !== TypedDataEncoder.hash(populated.domain, types, populated.value)) {
      throw new IntegrityError({ reason: 'the enclave signed another digest than TypedDataEncoder.hash(domain, types, value)' })
    }
    return serialize(res)
  }

  /**
   * Sign an EIP-7702 authorization (delegate this account's code to `address`). The chain id and nonce
   * default as in ethers (`populateAuthorization`: the provider's chain and the account's current nonce;
   * for a type-4 transaction the account sends itself, pass `nonce: current + 1`).
   *
   * @returns an ethers `Authorization`, ready for a transaction's `authorizationList`.
   * @throws IntegrityError when the signature does not recover to this signer for the requested tuple.
   */
  override async authorize(authorization: AuthorizationRequest): Promise<Authorization> {
    await this.#identity()
    const address = await resolveAddress(authorization.address, this)
    const populated = await this.populateAuthorization({ ...authorization, address })
    const request = { chainId: getBigInt(populated.chainId ?? 0n), address: getAddress(address), nonce: getBigInt(populated.nonce ?? 0n) }
    const res = await this.#custody.signAuthorization(this.keyId, request)
    const signature = Signature.from({ r: res.r, s: res.s, yParity: res.yParity })
    const signed = { address: getAddress(res.address), chainId: BigInt(res.chainId), nonce: BigInt(res.nonce), signature }
    if (signed.address !== request.address || signed.chainId !== request.chainId || signed.nonce !== request.nonce) {
      throw new IntegrityError({ reason: 'the enclave signed another authorization tuple than requested' })
    }
    if (verifyAuthorization(request, signature) !== (await this.#identity())) throw new IntegrityError({ reason: 'the authorization does not recover to the signer' })
    return signed
  }
}
