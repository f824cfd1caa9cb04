import {
  getAddress,
  type Hex,
  hashMessage,
  hashTypedData,
  isAddressEqual,
  type LocalAccount,
  type SerializeTransactionFn,
  type SignableMessage,
  type SignedAuthorization,
  serializeSignature,
  serializeTransaction,
  type TransactionSerializable,
  type TypedDataDefinition,
} from 'viem'
import { toAccount } from 'viem/accounts'
import { recoverAuthorizationAddress } from 'viem/utils'
import { IntegrityError, InvalidArgumentError } from '../errors/CustodyError.js'
import type { TypedDataDefinition as CustodyTypedData } from '../messages/typedData.js'
import type { TransactionRequest as CustodyTransactionRequest } from '../transactions/transaction.js'
import { fail, typeName } from '../utils/assert.js'
import { assertEvmKey } from '../keys/assertEvmKey.js'
import { toCustodyViemTransaction, type ViemTransaction } from './toCustodyViemTransaction.js'
import type { EnclaveAccountClient } from './types.js'

/** A viem local account whose key lives in the enclave. */
export type EnclaveAccount = LocalAccount & {
  /** The custody key this account signs with. */
  keyId: string
}

export type ToEnclaveAccountReturnType = EnclaveAccount

export type ToEnclaveAccountErrorType = InvalidArgumentError | IntegrityError

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
 * `serializer`: signing its hash would take raw-digest signing, which is a per-key permission the
 * adapter deliberately does not use.
 *
 * @param custody the custody client (`createCustodyClient({ transport, stamper })`), used as is: its stamper
 *   authenticates every request and its attestation policy vets every answer.
 * @param keyId the key to sign with; its address is loaded once, here.
 * @returns the account, with `keyId`.
 * @throws CustodyError `KEY_NOT_FOUND` when the key does not exist.
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
 *   transport: http(process.env.RPC_URL),
 * })
 * const hash = await wallet.sendTransaction({ to: '0x…', value: parseEther('0.01') })
 */
export async function toEnclaveAccount(custody: EnclaveAccountClient, keyId: string): Promise<ToEnclaveAccountReturnType> {
  if (typeof custody !== 'object' || custody === null || typeof custody.getKey !== 'function') {
    fail('custody', `must be a custody client from createCustodyClient (got ${typeName(custody)})`)
  }
  if (typeof keyId !== 'string' || keyId.length === 0) fail('keyId', `must be a non-empty string (got ${typeName(keyId)})`)
  const info = await custody.getKey(keyId)
  if (info.keyId !== keyId) throw new IntegrityError({ reason: 'getKey answered for another key' })
  assertEvmKey(info)
  const address = getAddress(info.address)

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
    async signMessage({ message }: { message: SignableMessage }) {
      const payload = typeof message === 'string' ? message : typeof message.raw === 'string' ? { raw: message.raw } : message.raw.slice()
      const res = await custody.signMessage(keyId, { message: payload })
      if (res.hash.toLowerCase() !== hashMessage(message)) throw new IntegrityError({ reason: 'the enclave signed another digest than hashMessage(message)' })
      return serializeSignature({ r: res.r, s: res.s, yParity: res.yParity })
    },
    signTransaction: signTransaction as LocalAccount['signTransaction'],
    async signTypedData(typedData) {
      const { domain = {}, types, primaryType, message } = typedData as TypedDataDefinition
      const res = await custody.signTypedData(keyId, { domain, types, primaryType, message } as CustodyTypedData)
      if (res.hash.toLowerCase() !== hashTypedData(typedData as TypedDataDefinition)) {
        throw new IntegrityError({ reason: 'the enclave signed another digest than hashTypedData(typedData)' })
      }
      return serializeSignature({ r: res.r, s: res.s, yParity: res.yParity })
    },
    async signAuthorization(authorization): Promise<SignedAuthorization> {
      const target = getAddress(authorization.address ?? authorization.contractAddress)
      const request = { chainId: authorization.chainId, address: target, nonce: authorization.nonce }
      const res = await custody.signAuthorization(keyId, request)
      const signed: SignedAuthorization = { address: getAddress(res.address), chainId: Number(res.chainId), nonce: Number(res.nonce), r: res.r, s: res.s, yParity: res.yParity }
      if (signed.address !== target || signed.chainId !== request.chainId || signed.nonce !== request.nonce) {
        throw new IntegrityError({ reason: 'the enclave signed another authorization tuple than requested' })
      }
      const signer = await recoverAuthorizationAddress({ authorization: request, signature: { r: res.r, s: res.s, yParity: res.yParity } })
      if (!isAddressEqual(signer, address)) throw new IntegrityError({ reason: 'the authorization does not recover to the account' })
      return signed
    },
  })
  return { ...account, keyId }
}
