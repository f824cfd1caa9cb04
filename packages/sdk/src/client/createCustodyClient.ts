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
import type { Transport } from '../transports/types.js'
import { assertObject } from '../utils/assert.js'
import type { Address } from '../utils/address.js'
import type { Hex } from '../utils/hex.js'
import { assertPrivateKeyHex } from '../utils/privateKey.js'

/** Public description of a custody key. */
export type KeyInfo = { keyId: string; address: Address; curve: 'secp256k1'; createdAt: Date }

export type ImportKeyParameters =
  | { privateKey: string; keyId?: string; generate?: undefined }
  | { generate: true; keyId?: string; privateKey?: undefined }

export type SignedTransaction = {
  rawTransaction: Hex
  hash: Hex
  from: Address
  signature: { r: Hex; s: Hex; yParity: 0 | 1 }
}

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
  close(): Promise<void>
}

/**
 * Create a custody client over a transport.
 *
 * @example
 * import { createCustodyClient, nitroEnclave, parseEther } from '@enclave-custody/sdk'
 * const custody = createCustodyClient({ transport: nitroEnclave({ url: 'http://127.0.0.1:8443' }) })
 * const { keyId } = await custody.importKey({ generate: true })
 * const signed = await custody.signEip1559(keyId, { chainId: 1n, nonce: 0n, to: '0x…', value: parseEther('0.01'),
 *   gas: 21000n, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n })
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
    return { keyId: k.keyId, address: k.address as Address, curve: k.curve, createdAt: new Date(k.createdAt) }
  }

  async function addressOf(keyId: string): Promise<Address> {
    return addresses.get(keyId) ?? (await client.getKey(keyId)).address
  }

  const client: CustodyClient = {
    async importKey(params) {
      const p = assertObject(params, 'params', ['privateKey', 'keyId', 'generate'])
      const keyId = p.keyId === undefined ? {} : { keyId: p.keyId as string }
      if (p.generate !== undefined) {
        if (p.generate !== true) throw new InvalidArgumentError({ field: 'generate', rule: 'must be true when present' })
        if (p.privateKey !== undefined) throw new InvalidArgumentError({ field: 'privateKey', rule: 'must be absent when generate is true' })
        const { record, ...info } = await call('key.generate', keyId)
        if (record) {
          // The enclave sealed the new key (KMS GenerateDataKey) but does not persist records.
          if (record.keyId !== info.keyId || record.address !== info.address) throw new IntegrityError({ reason: 'generated record does not match the key' })
          if (!importer) throw new InvalidArgumentError({ field: 'importer', rule: 'is required to store keys generated by an attested enclave' })
          await importer.storeRecord(record)
        }
        return toKeyInfo(info)
      }
      const privateKey = assertPrivateKeyHex(p.privateKey, 'privateKey')
      if (importer) return toKeyInfo(await importer.importPrivateKey({ privateKey, ...keyId }))
      return toKeyInfo(await call('key.import', { privateKey, ...keyId }))
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
    async close() {
      await transport.close?.()
    },
  }
  return client
}
