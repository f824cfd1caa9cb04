import { randomBytes } from 'node:crypto'
import { errorFromWire, InvalidArgumentError, KeyNotFoundError } from '../errors/CustodyError.js'
import {
  type KeyInfoWire,
  type Operation,
  type OperationParamsWire,
  type OperationResult,
  PROTOCOL_VERSION,
  parseResponse,
  parseResult,
  type RequestMessage,
} from '../protocol/messages.js'
import { IntegrityError } from '../errors/CustodyError.js'
import {
  DEFAULT_MAX_GAS,
  type Eip1559TransactionRequest,
  eip1559ToWire,
  normalizeEip1559Transaction,
} from '../transactions/eip1559.js'
import { verifySignedEip1559 } from '../transactions/verifySignedEip1559.js'
import type { KmsImporter } from '../importer/createKmsImporter.js'
import { encryptionContextsEqual, isDefaultKeyPolicy, keyEncryptionContext, type KeyPolicy, type KeyPolicyInput, normalizeKeyPolicy } from '../keys/keyPolicy.js'
import { keyPolicyOfRecord } from '../keys/sealedKeyRecord.js'
import { hashPersonalMessage, normalizePersonalMessage, type SignableMessage } from '../messages/personalSign.js'
import { hashTypedData, normalizeTypedData, type TypedDataDefinition } from '../messages/typedData.js'
import { type MessageSignature, verifyMessageSignature } from '../messages/verifyMessageSignature.js'
import { type AuthorizationRequest, authorizationToWire, normalizeAuthorizationRequest, type SignedAuthorization } from '../transactions/authorization.js'
import { normalizeTransactionRequest, type TransactionRequest, type TransactionType, transactionToWire } from '../transactions/transaction.js'
import { verifySignedAuthorization } from '../transactions/verifySignedAuthorization.js'
import { verifySignedTransaction } from '../transactions/verifySignedTransaction.js'
import type { Transport } from '../transports/types.js'
import { assertObject, fail } from '../utils/assert.js'
import type { Address } from '../utils/address.js'
import { assertHex, bytesToHex, type Hex } from '../utils/hex.js'
import { assertPrivateKeyHex } from '../utils/privateKey.js'

/** Public description of a custody key. */
export type KeyInfo = {
  keyId: string
  address: Address
  curve: 'secp256k1'
  createdAt: Date
  /** What the key may sign beyond structured payloads, as sealed with it. */
  policy: KeyPolicy
}

/**
 * `importKey` parameters: an existing private key, or `generate: true`. `policy` widens what the key may
 * sign (raw digests, replayable legacy transactions); it is fixed for the key's life and bound to its
 * sealing. @default policy: nothing beyond structured signing
 */
export type ImportKeyParameters =
  | { privateKey: string; keyId?: string; generate?: undefined; policy?: KeyPolicyInput }
  | { generate: true; keyId?: string; privateKey?: undefined; policy?: KeyPolicyInput }

export type SignedTransaction = {
  rawTransaction: Hex
  hash: Hex
  from: Address
  signature: { r: Hex; s: Hex; yParity: 0 | 1 }
}

/** What `signTransaction` returns: `v` is present for legacy transactions (27/28, or EIP-155). */
export type SignTransactionReturnType = {
  rawTransaction: Hex
  hash: Hex
  from: Address
  type: TransactionType
  signature: { r: Hex; s: Hex; yParity: 0 | 1; v?: bigint }
}

/** What `signMessage` takes: `message` as text (UTF-8, even if it looks like hex), bytes, or `{ raw }` bytes. */
export type SignMessageParameters = { message: SignableMessage }

/** What `signMessage`, `signTypedData` and `signDigest` return. */
export type SignMessageReturnType = MessageSignature

export type CreateCustodyClientParameters = {
  transport: Transport
  /**
   * Seals imported keys with KMS Encrypt and stores key records in Secrets Manager (importer role).
   * Required for `importKey` against an attested enclave, which never receives plaintext keys and does
   * not store records itself.
   */
  importer?: KmsImporter
  /** Refuse transactions whose gas exceeds this. @default 30_000_000n */
  maxGas?: bigint
}

export type CustodyClient = {
  /** Import an existing private key, or `{ generate: true }` to have the enclave create one. */
  importKey(params: ImportKeyParameters): Promise<KeyInfo>
  getKey(keyId: string): Promise<KeyInfo>
  listKeys(): Promise<KeyInfo[]>
  /** Sign an EIP-1559 (type 2) transaction; the result is verified before it is returned. */
  signEip1559(keyId: string, tx: Eip1559TransactionRequest): Promise<SignedTransaction>
  /**
   * Sign a transaction of type 0 (legacy, EIP-155), 1 (EIP-2930), 2 (EIP-1559) or 4 (EIP-7702). `tx.type` is
   * 0, 1, 2, 4 or 'legacy', 'eip2930', 'eip1559', 'eip7702', inferred from the fields when absent. A legacy
   * transaction without chainId needs `allowReplayable: true` and a key whose policy has
   * `allowReplayableLegacy`. The result is verified before it is returned.
   */
  signTransaction(keyId: string, tx: TransactionRequest): Promise<SignTransactionReturnType>
  /**
   * Sign an EIP-7702 authorization (delegate the key's account to `address`). chainId 0 (every chain)
   * needs `allowAnyChain: true` and a key whose sealed policy has `allowAnyChainAuthorization`
   * (`POLICY_DENIED` otherwise). Returns viem's signed-authorization shape with bigint quantities.
   */
  signAuthorization(keyId: string, authorization: AuthorizationRequest): Promise<SignedAuthorization>
  /** Sign an EIP-191 `personal_sign` message. */
  signMessage(keyId: string, params: SignMessageParameters): Promise<SignMessageReturnType>
  /** Sign EIP-712 typed data; the enclave receives, validates and hashes the whole payload. */
  signTypedData(keyId: string, typedData: TypedDataDefinition): Promise<SignMessageReturnType>
  /** Sign a raw 32-byte digest: only keys imported or generated with `policy: { allowRawDigest: true }`. */
  signDigest(keyId: string, digest: Hex | Uint8Array): Promise<SignMessageReturnType>
  close(): Promise<void>
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
export function createCustodyClient({ transport, importer, maxGas = DEFAULT_MAX_GAS }: CreateCustodyClientParameters): CustodyClient {
  if (!transport || typeof transport.request !== 'function') throw new TypeError('createCustodyClient: a transport is required')
  /** keyId → address: a key's address never changes, so one lookup serves every later signature. */
  const addresses = new Map<string, Address>()

  async function call<O extends Operation>(op: O, params: OperationParamsWire<O>): Promise<OperationResult<O>> {
    const message: RequestMessage<O> = { v: PROTOCOL_VERSION, id: randomBytes(12).toString('base64url'), op, params }
    const response = parseResponse(await transport.request(message))
    if (response.id !== message.id) throw new IntegrityError({ reason: 'response id does not match the request' })
    if (!response.ok) throw errorFromWire(response.error)
    return parseResult(op, response.result)
  }

  const toKeyInfo = (k: KeyInfoWire): KeyInfo => {
    addresses.set(k.keyId, k.address as Address)
    return { keyId: k.keyId, address: k.address as Address, curve: k.curve, createdAt: new Date(k.createdAt), policy: normalizeKeyPolicy(k.policy ?? {}) }
  }

  async function addressOf(keyId: string): Promise<Address> {
    return addresses.get(keyId) ?? (await client.getKey(keyId)).address
  }

  const client: CustodyClient = {
    async importKey(params) {
      const p = assertObject(params, 'params', ['privateKey', 'keyId', 'generate', 'policy'])
      const keyId = p.keyId === undefined ? {} : { keyId: p.keyId as string }
      const policy = normalizeKeyPolicy(p.policy, 'policy')
      // Only a widened policy travels: default-policy requests stay what they always were.
      const policyParam = isDefaultKeyPolicy(policy) ? {} : { policy }
      if (p.generate !== undefined) {
        if (p.generate !== true) throw new InvalidArgumentError({ field: 'generate', rule: 'must be true when present' })
        if (p.privateKey !== undefined) throw new InvalidArgumentError({ field: 'privateKey', rule: 'must be absent when generate is true' })
        const { record, ...info } = await call('key.generate', { ...keyId, ...policyParam })
        if (record) {
          // The enclave sealed the new key (KMS GenerateDataKey) but does not persist records.
          if (record.keyId !== info.keyId || record.address !== info.address) throw new IntegrityError({ reason: 'generated record does not match the key' })
          const recordPolicy = keyPolicyOfRecord(record)
          if (JSON.stringify(recordPolicy) !== JSON.stringify(policy) || !encryptionContextsEqual(record.encryptionContext, keyEncryptionContext(record.keyId, policy))) {
            throw new IntegrityError({ reason: 'generated record does not bind the requested policy' })
          }
          if (!importer) throw new InvalidArgumentError({ field: 'importer', rule: 'is required to store keys generated by an attested enclave' })
          await importer.storeRecord(record)
        }
        return toKeyInfo(info)
      }
      const privateKey = assertPrivateKeyHex(p.privateKey, 'privateKey')
      if (importer) return toKeyInfo(await importer.importPrivateKey({ privateKey, ...keyId, ...policyParam }))
      return toKeyInfo(await call('key.import', { privateKey, ...keyId, ...policyParam }))
    },
    async getKey(keyId) {
      const info = toKeyInfo(await call('key.get', { keyId }))
      if (info.keyId !== keyId) throw new KeyNotFoundError({ keyId })
      return info
    },
    async listKeys() {
      return (await call('key.list', {})).keys.map(toKeyInfo)
    },
    async signEip1559(keyId, tx) {
      const normalized = normalizeEip1559Transaction(tx, 'tx', { maxGas })
      const expected = await addressOf(keyId)
      const signed = await call('sign.eip1559', { keyId, tx: eip1559ToWire(normalized) })
      verifySignedEip1559(normalized, signed, expected)
      return {
        rawTransaction: signed.rawTransaction as Hex,
        hash: signed.hash as Hex,
        from: expected,
        signature: { r: signed.signature.r as Hex, s: signed.signature.s as Hex, yParity: signed.signature.yParity },
      }
    },
    async signTransaction(keyId, tx) {
      const { transaction, allowReplayable } = normalizeTransactionRequest(tx, 'tx', { maxGas })
      const expected = await addressOf(keyId)
      const signed = await call('sign.transaction', { keyId, tx: transactionToWire(transaction, allowReplayable) })
      const { signature } = verifySignedTransaction(transaction, signed, expected)
      return {
        rawTransaction: signed.rawTransaction as Hex,
        hash: signed.hash as Hex,
        from: expected,
        type: transaction.type,
        signature: { r: signature.r, s: signature.s, yParity: signature.yParity, ...(signature.v === undefined ? {} : { v: signature.v }) },
      }
    },
    async signAuthorization(keyId, authorization) {
      const { authorization: tuple, allowAnyChain } = normalizeAuthorizationRequest(authorization, 'authorization')
      const expected = await addressOf(keyId)
      const signed = await call('sign.authorization', { keyId, authorization: { ...authorizationToWire(tuple), ...(allowAnyChain ? { allowAnyChain } : {}) } })
      return verifySignedAuthorization(tuple, signed, expected)
    },
    async signMessage(keyId, params) {
      const p = assertObject(params, 'params', ['message'])
      if (p.message === undefined) fail('message', 'is required')
      const message = normalizePersonalMessage(p.message, 'message')
      const expected = await addressOf(keyId)
      const signed = await call('sign.message', { keyId, message })
      return verifyMessageSignature(hashPersonalMessage(message), signed, expected)
    },
    async signTypedData(keyId, typedData) {
      const normalized = normalizeTypedData(typedData, 'typedData')
      const expected = await addressOf(keyId)
      const signed = await call('sign.typedData', { keyId, typedData: normalized })
      return verifyMessageSignature(hashTypedData(normalized), signed, expected)
    },
    async signDigest(keyId, digest) {
      const d = digest instanceof Uint8Array ? assertHex(bytesToHex(digest), 'digest', 32) : assertHex(digest, 'digest', 32)
      const expected = await addressOf(keyId)
      const signed = await call('sign.digest', { keyId, digest: d })
      return verifyMessageSignature(d, signed, expected)
    },
    async close() {
      await transport.close?.()
    },
  }
  return client
}
