import type {
  Address,
  MessagePartialSignerConfig,
  SignableMessage,
  SignatureBytes,
  SignatureDictionary,
  Transaction,
  TransactionPartialSignerConfig,
  TransactionWithinSizeLimit,
  TransactionWithLifetime,
} from '@solana/kit'
import { base58 } from '@scure/base'
import { type CustodyError, IntegrityError, InvalidArgumentError } from '../errors/CustodyError.js'
import { solanaPublicKeyOf } from '../families/solana/client.js'
import { fail, typeName } from '../utils/assert.js'
import { assertSolanaKey } from './assertSolanaKey.js'
import type { EnclaveSolanaSignerClient } from './types.js'

/** What a @solana/kit transaction signer receives: a compiled transaction within the size limit, with a lifetime. */
export type EnclaveSolanaTransaction = Transaction & TransactionWithinSizeLimit & TransactionWithLifetime

/**
 * A Solana signer whose key lives in the enclave: at once a @solana/kit `TransactionPartialSigner` and
 * `MessagePartialSigner`, and a `@solana/keychain-core` `SolanaSigner` (`isAvailable`).
 */
export type EnclaveSolanaSigner<TAddress extends string = string> = Readonly<{
  /** The key's address (base58 of its ed25519 public key). */
  address: Address<TAddress>
  /** The custody key this signer signs with. */
  keyId: string
  /**
   * Sign each transaction's message with the key: one `SignatureDictionary` (`{ [address]: signature }`) per
   * transaction, in order. Every transaction must list the key among its required signers.
   */
  signTransactions(transactions: readonly EnclaveSolanaTransaction[], config?: TransactionPartialSignerConfig): Promise<readonly SignatureDictionary[]>
  /**
   * Sign each message's `content`, which must be a Solana off-chain message (version 0, starting with the signing
   * domain `"\xffsolana offchain"`, naming the key among its signers), as kit's `signOffchainMessageWithSigners`
   * compiles it. Other bytes are refused: the enclave never signs arbitrary bytes with a Solana key.
   */
  signMessages(messages: readonly SignableMessage[], config?: MessagePartialSignerConfig): Promise<readonly SignatureDictionary[]>
  /** Whether the custody service answers for the key (with the same address): `false` instead of throwing. */
  isAvailable(): Promise<boolean>
}>

export type CreateEnclaveSolanaSignerReturnType = EnclaveSolanaSigner

export type CreateEnclaveSolanaSignerErrorType = InvalidArgumentError | IntegrityError | CustodyError

const SIGNING_DOMAIN = new Uint8Array([0xff, ...new TextEncoder().encode('solana offchain')])

/** The 64 bytes of a base58 signature the custody client verified. */
function signatureBytes(signature: string): SignatureBytes {
  const bytes = base58.decode(signature)
  if (bytes.length !== 64) throw new IntegrityError({ reason: 'the enclave answered a signature that is not 64 bytes' })
  return bytes as SignatureBytes
}

/** Kit's transactions carry their message as bytes; the signature map names the required signers. */
function transactionParts(transaction: unknown, field: string): { messageBytes: Uint8Array; signers: string[] } {
  if (typeof transaction !== 'object' || transaction === null) fail(field, `must be a compiled transaction (got ${typeName(transaction)})`)
  const { messageBytes, signatures } = transaction as { messageBytes?: unknown; signatures?: unknown }
  if (!(messageBytes instanceof Uint8Array)) fail(`${field}.messageBytes`, `must be bytes (got ${typeName(messageBytes)})`)
  if (typeof signatures !== 'object' || signatures === null) fail(`${field}.signatures`, `must be the map of its signers (got ${typeName(signatures)})`)
  return { messageBytes, signers: Object.keys(signatures) }
}

/**
 * A @solana/kit signer (`TransactionPartialSigner` and `MessagePartialSigner`, and `@solana/keychain-core`'s
 * `SolanaSigner`) whose ed25519 key lives in the enclave: use it wherever kit takes a signer — as the fee payer
 * (`setTransactionMessageFeePayerSigner`), in an instruction's accounts, with `signTransactionMessageWithSigners`
 * and `partiallySignTransactionMessageWithSigners`, or in an off-chain message's `requiredSignatories` with
 * `signOffchainMessageWithSigners`.
 *
 * Transactions: the compiled message is sent to the enclave (which parses it and applies the key's signing
 * policy); the custody client verifies the answer (signer, slot, and the ed25519 signature over the exact
 * message) before the signature is returned.
 *
 * Messages: kit's `SignableMessage.content` is signed only when it is a Solana off-chain message (version 0,
 * signing domain `"\xffsolana offchain"`, the key among its signers) — what `signOffchainMessageWithSigners`
 * hands its signers. Any other content (raw text, arbitrary bytes, which could be a transaction message) is
 * refused with an `InvalidArgumentError` on `messages[i].content`: the enclave signs only payloads it can parse.
 *
 * @param custody the custody client (`createCustodyClient({ transport, stamper })`), used as is.
 * @param keyId an ed25519 key (`importKey({ generate: true, kind: 'ed25519' })`) or a Solana HD account
 *   (`createAccount(walletId, { family: 'solana' })`); its address is read once, here.
 * @returns the signer, with `keyId`.
 * @throws InvalidArgumentError on `keyId` when the key is not a Solana key (a secp256k1 key, an HD wallet, an EVM or Bitcoin account).
 * @throws CustodyError `KEY_NOT_FOUND` when the key does not exist.
 * @throws IntegrityError when the key info does not hold a Solana address.
 *
 * @example
 * import { apiKeyStamper, createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * import { createEnclaveSolanaSigner } from '@enclave-custody/sdk/solana'
 * import { appendTransactionMessageInstructions, createTransactionMessage, pipe, setTransactionMessageFeePayerSigner,
 *   setTransactionMessageLifetimeUsingBlockhash, signTransactionMessageWithSigners } from '@solana/kit'
 *
 * const custody = createCustodyClient({
 *   transport: nitroEnclave({ url: process.env.CUSTODY_URL!, attestation: { pcr0: process.env.CUSTODY_PCR0!.split(',') } }),
 *   stamper: apiKeyStamper({ privateKey: process.env.CUSTODY_API_KEY! }),
 * })
 * const signer = await createEnclaveSolanaSigner(custody, process.env.CUSTODY_KEY_ID!) // was: await generateKeyPairSigner()
 * const message = pipe(
 *   createTransactionMessage({ version: 0 }),
 *   (m) => setTransactionMessageFeePayerSigner(signer, m),
 *   (m) => setTransactionMessageLifetimeUsingBlockhash(latestBlockhash, m),
 *   (m) => appendTransactionMessageInstructions([transferInstruction], m),
 * )
 * const signed = await signTransactionMessageWithSigners(message)
 */
export async function createEnclaveSolanaSigner(custody: EnclaveSolanaSignerClient, keyId: string): Promise<CreateEnclaveSolanaSignerReturnType> {
  if (typeof custody !== 'object' || custody === null || typeof custody.getKey !== 'function' || typeof custody.signSolanaTransaction !== 'function') {
    fail('custody', `must be a custody client from createCustodyClient (got ${typeName(custody)})`)
  }
  if (typeof keyId !== 'string' || keyId.length === 0) fail('keyId', `must be a non-empty string (got ${typeName(keyId)})`)
  const info = await custody.getKey(keyId)
  if (info.keyId !== keyId) throw new IntegrityError({ reason: 'getKey answered for another key' })
  assertSolanaKey(info)
  solanaPublicKeyOf(info)
  const address = String(info.address) as Address

  async function signTransactions(transactions: readonly EnclaveSolanaTransaction[], config?: TransactionPartialSignerConfig): Promise<readonly SignatureDictionary[]> {
    if (!Array.isArray(transactions)) fail('transactions', `must be an array (got ${typeName(transactions)})`)
    const out: SignatureDictionary[] = []
    for (const [i, transaction] of transactions.entries()) {
      config?.abortSignal?.throwIfAborted()
      const { messageBytes, signers } = transactionParts(transaction, `transactions[${i}]`)
      if (!signers.includes(address)) fail(`transactions[${i}]`, `does not list the signer ${address} among its required signers`)
      const signed = await custody.signSolanaTransaction(keyId, { transaction: messageBytes })
      if (signed.signer !== address) throw new IntegrityError({ reason: 'the enclave signed with another key than the signer\'s' })
      out.push(Object.freeze({ [address]: signatureBytes(signed.signature) }) as SignatureDictionary)
    }
    return Object.freeze(out)
  }

  async function signMessages(messages: readonly SignableMessage[], config?: MessagePartialSignerConfig): Promise<readonly SignatureDictionary[]> {
    if (!Array.isArray(messages)) fail('messages', `must be an array (got ${typeName(messages)})`)
    const out: SignatureDictionary[] = []
    for (const [i, message] of messages.entries()) {
      config?.abortSignal?.throwIfAborted()
      const content = (message as { content?: unknown } | null)?.content
      if (!(content instanceof Uint8Array)) fail(`messages[${i}].content`, `must be bytes (got ${typeName(content)})`)
      if (content.length < SIGNING_DOMAIN.length || SIGNING_DOMAIN.some((b, j) => content[j] !== b)) {
        fail(
          `messages[${i}].content`,
          'must be a Solana off-chain message (starting with the signing domain "\\xffsolana offchain", as signOffchainMessageWithSigners compiles it): the enclave does not sign arbitrary bytes with a Solana key',
        )
      }
      let signed: Awaited<ReturnType<EnclaveSolanaSignerClient['signSolanaMessage']>>
      try {
        signed = await custody.signSolanaMessage(keyId, { message: content })
      } catch (e) {
        // The client's checks name `message`; name the message in the batch instead.
        if (e instanceof InvalidArgumentError && e.details?.field === 'message') {
          throw new InvalidArgumentError({ field: `messages[${i}].content`, rule: String(e.details.rule), cause: e })
        }
        throw e
      }
      if (signed.signer !== address) throw new IntegrityError({ reason: 'the enclave signed with another key than the signer\'s' })
      out.push(Object.freeze({ [address]: signatureBytes(signed.signature) }) as SignatureDictionary)
    }
    return Object.freeze(out)
  }

  async function isAvailable(): Promise<boolean> {
    try {
      const current = await custody.getKey(keyId)
      return current.keyId === keyId && String(current.address) === address
    } catch {
      return false
    }
  }

  return Object.freeze({ address, keyId, signTransactions, signMessages, isAvailable })
}
