import {
  type Address,
  getAddress,
  type Hex,
  hashMessage,
  hashTypedData,
  isAddress,
  isAddressEqual,
  type LocalAccount,
  type NonceManager,
  type SerializeTransactionFn,
  type SignableMessage,
  type SignedAuthorization,
  serializeSignature,
  serializeTransaction,
  type TransactionSerializable,
  type TypedDataDefinition,
} from 'viem'
import { publicKeyToAddress, toAccount } from 'viem/accounts'
import { recoverAuthorizationAddress } from 'viem/utils'
import type { KeyInfo } from '../client/createCustodyClient.js'
import { IntegrityError, InvalidArgumentError, PolicyDeniedError } from '../errors/CustodyError.js'
import { assertEvmKey } from '../keys/assertEvmKey.js'
import type { KeyPolicy } from '../keys/keyPolicy.js'
import { type TypedDataDefinition as CustodyTypedData, normalizeTypedData } from '../messages/typedData.js'
import type { TransactionRequest as CustodyTransactionRequest } from '../transactions/transaction.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { toCustodyViemTransaction, type ViemTransaction } from './toCustodyViemTransaction.js'
import type { EnclaveAccountClient } from './types.js'

/**
 * A viem local account whose key lives in the enclave: a `LocalAccount` with `publicKey`, `sign` and
 * `signAuthorization` set, as `privateKeyToAccount` returns it, and the custody key's id.
 */
export type EnclaveAccount = LocalAccount & {
  /** The custody key this account signs with. */
  keyId: string
  /** The key's uncompressed secp256k1 public key (0x04…), as `privateKeyToAccount` gives it. */
  publicKey: Hex
  /**
   * Sign a raw 32-byte digest (`sign({ hash })`, as smart-account owners such as Coinbase Smart Wallet use it):
   * only keys whose sealed policy has `allowRawDigest`; `PolicyDeniedError` otherwise.
   */
  sign: NonNullable<LocalAccount['sign']>
  signAuthorization: NonNullable<LocalAccount['signAuthorization']>
}

export type ToEnclaveAccountReturnType = EnclaveAccount

export type ToEnclaveAccountErrorType = InvalidArgumentError | IntegrityError | PolicyDeniedError

/** Options of `toEnclaveAccount` and `enclaveAccount`, as `privateKeyToAccount` takes them. */
export type ToEnclaveAccountOptions = {
  /** A viem nonce manager (`createNonceManager`), set on the account as `account.nonceManager`. @default none */
  nonceManager?: NonceManager | undefined
}

/**
 * What `enclaveAccount` needs to build an account without a round trip: the key's id, address and public key,
 * as `getKey` (or `custody address --json`) reported them.
 */
export type EnclaveAccountKey = {
  keyId: string
  /** The key's address (any case; EIP-55 checksum when mixed case). */
  address: Address | string
  /** The key's uncompressed secp256k1 public key, 0x04 and 64 bytes (`KeyInfo.publicKey`). */
  publicKey: Hex
}

/** The enclave's own refusal of a raw digest, given before the request when the key's policy already says so. */
const RAW_DIGEST_DENIED = "the key's policy does not allow raw-digest signing; import or generate it with policy.allowRawDigest"
const UNCOMPRESSED_PUBLIC_KEY = /^0x04[0-9a-fA-F]{128}$/
const DIGEST = /^0x[0-9a-fA-F]{64}$/

/** A key's identity as the attested enclave reported it, checked for consistency. */
type KeyIdentity = { address: Address; publicKey: Hex; policy: KeyPolicy }

/**
 * The identity in `info`, the answer of `getKey(keyId)`: an EVM key of this id, with a public key that is the
 * key of its address.
 */
function identityOf(info: KeyInfo, keyId: string): KeyIdentity {
  if (info.keyId !== keyId) throw new IntegrityError({ reason: 'getKey answered for another key' })
  assertEvmKey(info)
  if (info.publicKey === undefined) throw new IntegrityError({ reason: 'the enclave did not report the public key of the key' })
  if (!UNCOMPRESSED_PUBLIC_KEY.test(info.publicKey)) throw new IntegrityError({ reason: 'the reported public key is not an uncompressed secp256k1 key (0x04 and 64 bytes)' })
  const publicKey = info.publicKey.toLowerCase() as Hex
  const address = getAddress(info.address)
  if (publicKeyToAddress(publicKey) !== address) throw new IntegrityError({ reason: 'the reported public key is not the key of the reported address' })
  return { address, publicKey, policy: info.policy }
}

function assertCustody(custody: unknown): asserts custody is EnclaveAccountClient {
  if (typeof custody !== 'object' || custody === null || typeof (custody as { getKey?: unknown }).getKey !== 'function') {
    fail('custody', `must be a custody client from createCustodyClient (got ${typeName(custody)})`)
  }
}

function nonceManagerOf(options: unknown): NonceManager | undefined {
  if (options === undefined) return undefined
  const { nonceManager } = assertObject(options, 'options', ['nonceManager'])
  if (nonceManager === undefined) return undefined
  const m = nonceManager as Record<string, unknown> | null
  if (typeof m !== 'object' || m === null || !['consume', 'increment', 'get', 'reset'].every((k) => typeof m[k] === 'function')) {
    fail('options.nonceManager', `must be a viem NonceManager with consume, increment, get and reset (createNonceManager) (got ${typeName(nonceManager)})`)
  }
  return nonceManager as NonceManager
}

/**
 * A viem account (`toAccount`) whose key lives in the enclave: pass it as `account` to a wallet client
 * and `sendTransaction`, `writeContract`, `deployContract`, `signMessage`, `signTypedData` and
 * `signAuthorization` (EIP-7702) sign through the custody client with the structured payload.
 *
 * Custom serializers (`signTransaction(tx, { serializer })`, which viem passes from
 * `chain.serializers.transaction`): the enclave signs only transactions it serialises itself, so a
 * serializer is honoured when, for the transaction at hand, it produces the same payload as viem's
 * standard serializer — as the OP Stack serializer of `base` and `optimism` does for every transaction
 * but deposits — and the signed transaction it then produces must equal the enclave's. A serializer that
 * changes the payload (another type byte, extra fields) is refused with an `InvalidArgumentError` on
 * `serializer`: signing its hash would take raw-digest signing, which the adapter never uses for a
 * transaction.
 *
 * Like `privateKeyToAccount`'s account, it has `publicKey` (the key's, as the attested enclave reports it),
 * `nonceManager` (when passed) and `sign({ hash })`, which signs a raw 32-byte digest for keys whose sealed
 * policy has `allowRawDigest` and refuses with `PolicyDeniedError` otherwise, before any request. For code that
 * cannot await, {@link enclaveAccount} builds the same account synchronously from a known identity.
 *
 * @param custody the custody client (`createCustodyClient({ transport, stamper })`), used as is: its stamper
 *   authenticates every request and its attestation policy vets every answer.
 * @param keyId the key to sign with; its identity (address, public key, policy) is loaded once, here.
 * @param options `nonceManager`, as `privateKeyToAccount` takes it.
 * @returns the account, with `keyId` and `publicKey`.
 * @throws CustodyError `KEY_NOT_FOUND` when the key does not exist; InvalidArgumentError for a missing client,
 *   an empty key id or a bad option; IntegrityError when the enclave's report is inconsistent (another key, a
 *   public key that is not the address's).
 *
 * @example
 * import { apiKeyStamper, createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * import { toEnclaveAccount } from '@enclave-custody/sdk/viem'
 * import { createWalletClient, http, parseEther } from 'viem'
 * import { sepolia } from 'viem/chains'
 *
 * const custody = createCustodyClient({
 *   // The PCR0 allowlist comes from the build's pcrs.json or the stack's output, never from the proxy.
 *   transport: nitroEnclave({ url: process.env.CUSTODY_URL!, attestation: { pcr0: process.env.CUSTODY_PCR0!.split(',') } }),
 *   // Every request is stamped with the API key; every answer must be signed by the attested enclave.
 *   stamper: apiKeyStamper({ privateKey: process.env.CUSTODY_API_KEY! }),
 * })
 * const wallet = createWalletClient({
 *   account: await toEnclaveAccount(custody, process.env.CUSTODY_KEY_ID!), // was: privateKeyToAccount(pk)
 *   chain: sepolia,
 *   transport: http(process.env.CUSTODY_RPC_URL),
 * })
 * const hash = await wallet.sendTransaction({ to: '0x…', value: parseEther('0.01') })
 */
export async function toEnclaveAccount(custody: EnclaveAccountClient, keyId: string, options?: ToEnclaveAccountOptions): Promise<ToEnclaveAccountReturnType> {
  assertCustody(custody)
  if (typeof keyId !== 'string' || keyId.length === 0) fail('keyId', `must be a non-empty string (got ${typeName(keyId)})`)
  const nonceManager = nonceManagerOf(options)
  const identity = identityOf(await custody.getKey(keyId), keyId)
  const verified = Promise.resolve(identity)
  return buildAccount(custody, keyId, identity, () => verified, nonceManager)
}

/**
 * The synchronous twin of {@link toEnclaveAccount}, for code that cannot await (a module-level `account`, a
 * config object): the account is built from the identity you pass, without a round trip. On first use (any
 * sign method) it loads the key's identity from the attested enclave once and checks it against what you
 * passed: a different address or public key is an `IntegrityError`, and nothing is signed.
 *
 * @param custody the custody client (`createCustodyClient({ transport, stamper })`).
 * @param key `{ keyId, address, publicKey }` as `getKey` reported them.
 * @param options `nonceManager`, as `privateKeyToAccount` takes it.
 * @returns the account, with `keyId` and `publicKey`.
 * @throws InvalidArgumentError for a missing client, an empty key id, a malformed address or public key, or a
 *   public key that is not the address's (nothing is loaded yet, so nothing else can be checked here).
 *
 * @example
 * import { enclaveAccount } from '@enclave-custody/sdk/viem'
 *
 * // keyId, address and publicKey from `await custody.getKey(keyId)`, stored with the app's configuration.
 * export const account = enclaveAccount(custody, { keyId: 'treasury-hot', address: '0x…', publicKey: '0x04…' })
 * const wallet = createWalletClient({ account, chain: sepolia, transport: http() })
 */
export function enclaveAccount(custody: EnclaveAccountClient, key: EnclaveAccountKey, options?: ToEnclaveAccountOptions): ToEnclaveAccountReturnType {
  assertCustody(custody)
  const { keyId, address: givenAddress, publicKey: givenPublicKey } = assertObject(key, 'key', ['keyId', 'address', 'publicKey'])
  if (typeof keyId !== 'string' || keyId.length === 0) fail('keyId', `must be a non-empty string (got ${typeName(keyId)})`)
  if (typeof givenAddress !== 'string' || !isAddress(givenAddress)) fail('address', 'must be an address: 0x and 40 hex digits, with a valid EIP-55 checksum when mixed case')
  if (typeof givenPublicKey !== 'string' || !UNCOMPRESSED_PUBLIC_KEY.test(givenPublicKey)) {
    fail('publicKey', 'must be an uncompressed secp256k1 public key: 0x04 and 128 hex digits (KeyInfo.publicKey)')
  }
  const address = getAddress(givenAddress)
  const publicKey = givenPublicKey.toLowerCase() as Hex
  if (publicKeyToAddress(publicKey) !== address) fail('publicKey', `is not the public key of ${address}`)
  const nonceManager = nonceManagerOf(options)
  let verified: Promise<KeyIdentity> | undefined
  const identity = () => {
    verified ??= custody
      .getKey(keyId)
      .then((info) => {
        const reported = identityOf(info, keyId)
        if (reported.address !== address) throw new IntegrityError({ reason: `the key's address is ${reported.address}, not ${address} as the account was built with` })
        if (reported.publicKey !== publicKey) throw new IntegrityError({ reason: "the key's public key is not the one the account was built with" })
        return reported
      })
      .catch((e: unknown) => {
        verified = undefined // a failed check is made again on the next use, never taken as passed
        throw e
      })
    return verified
  }
  return buildAccount(custody, keyId, { address, publicKey }, identity, nonceManager)
}

/**
 * The account for `keyId` at `address`: each sign method first awaits `identity()` (the attested identity,
 * checked against `address` and `publicKey`), so nothing is signed for an account whose identity failed.
 */
function buildAccount(
  custody: EnclaveAccountClient,
  keyId: string,
  { address, publicKey }: { address: Address; publicKey: Hex },
  identity: () => Promise<KeyIdentity>,
  nonceManager: NonceManager | undefined,
): EnclaveAccount {
  async function signTransaction(transaction: ViemTransaction, options?: { serializer?: SerializeTransactionFn<TransactionSerializable> | undefined }): Promise<Hex> {
    if (transaction.from !== undefined && !isAddressEqual(transaction.from, address)) {
      throw new InvalidArgumentError({ field: 'tx.from', rule: `must be the account's address ${address} (got ${transaction.from})` })
    }
    const fields = toCustodyViemTransaction(transaction)
    const tx = { ...transaction, type: fields.type } as TransactionSerializable
    const serializer = options?.serializer ?? serializeTransaction
    if (serializer !== serializeTransaction) {
      let custom: Hex
      try {
        custom = await serializer(tx)
      } catch (cause) {
        throw new InvalidArgumentError({ field: 'serializer', rule: 'threw on this transaction', cause })
      }
      if (custom !== serializeTransaction(tx)) {
        fail(
          'serializer',
          `produces a payload other than the standard ${fields.type} serialization; the enclave signs only legacy, eip2930, eip1559 and eip7702 transactions that it serialises itself`,
        )
      }
    }
    await identity()
    const signed = await custody.signTransaction(keyId, fields as CustodyTransactionRequest)
    const { r, s, yParity } = signed.signature
    const expected = await serializer(tx, { r, s, yParity, v: yParity === 1 ? 28n : 27n })
    if (expected.toLowerCase() !== signed.rawTransaction.toLowerCase()) {
      throw new IntegrityError({ reason: 'the signed transaction differs from the one viem serialises for the request' })
    }
    return signed.rawTransaction
  }

  const account = toAccount({
    address,
    nonceManager,
    async sign({ hash }: { hash: Hex }): Promise<Hex> {
      if (typeof hash !== 'string' || !DIGEST.test(hash)) fail('hash', `must be a 32-byte digest: 0x and 64 hex digits (got ${typeof hash === 'string' ? `${Math.max(0, hash.length - 2)} characters` : typeName(hash)})`)
      const { policy } = await identity()
      if (!policy.allowRawDigest) throw new PolicyDeniedError({ reason: RAW_DIGEST_DENIED })
      const res = await custody.signDigest(keyId, hash)
      if (res.hash.toLowerCase() !== hash.toLowerCase()) throw new IntegrityError({ reason: 'the enclave signed another digest than the one given' })
      return serializeSignature({ r: res.r, s: res.s, yParity: res.yParity })
    },
    async signMessage({ message }: { message: SignableMessage }) {
      const payload = typeof message === 'string' ? message : typeof message.raw === 'string' ? { raw: message.raw } : message.raw.slice()
      await identity()
      const res = await custody.signMessage(keyId, { message: payload })
      if (res.hash.toLowerCase() !== hashMessage(message)) throw new IntegrityError({ reason: 'the enclave signed another digest than hashMessage(message)' })
      return serializeSignature({ r: res.r, s: res.s, yParity: res.yParity })
    },
    signTransaction: signTransaction as LocalAccount['signTransaction'],
    async signTypedData(typedData) {
      const { domain = {}, types, primaryType, message } = typedData as TypedDataDefinition
      const payload = { domain, types, primaryType, message } as CustodyTypedData
      // The checks the client and the enclave make (no unknown or missing member, …), before any request: the
      // ethers adapter refuses the same input with the same error.
      normalizeTypedData(payload, 'typedData')
      await identity()
      const res = await custody.signTypedData(keyId, payload)
      if (res.hash.toLowerCase() !== hashTypedData(typedData as TypedDataDefinition)) {
        throw new IntegrityError({ reason: 'the enclave signed another digest than hashTypedData(typedData)' })
      }
      return serializeSignature({ r: res.r, s: res.s, yParity: res.yParity })
    },
    async signAuthorization(authorization): Promise<SignedAuthorization> {
      const target = getAddress(authorization.address ?? authorization.contractAddress)
      const request = { chainId: authorization.chainId, address: target, nonce: authorization.nonce }
      await identity()
      const res = await custody.signAuthorization(keyId, request)
      // The shape privateKeyToAccount returns, `v` included.
      const signed: SignedAuthorization = {
        address: getAddress(res.address),
        chainId: Number(res.chainId),
        nonce: Number(res.nonce),
        r: res.r,
        s: res.s,
        v: res.yParity === 1 ? 28n : 27n,
        yParity: res.yParity,
      }
      if (signed.address !== target || signed.chainId !== request.chainId || signed.nonce !== request.nonce) {
        throw new IntegrityError({ reason: 'the enclave signed another authorization tuple than requested' })
      }
      const signer = await recoverAuthorizationAddress({ authorization: request, signature: { r: res.r, s: res.s, yParity: res.yParity } })
      if (!isAddressEqual(signer, address)) throw new IntegrityError({ reason: 'the authorization does not recover to the account' })
      return signed
    },
  })
  return { ...account, publicKey, keyId } as EnclaveAccount
}
