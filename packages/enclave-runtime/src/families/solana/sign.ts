import { InvalidArgumentError } from '@enclave-custody/sdk'
import { ed25519 } from '@noble/curves/ed25519.js'
import { type SolanaAddress, solanaAddress } from './address.js'
import { parseSolanaMessage, type SolanaMessage, solanaPayloadBytes } from './message.js'
import { parseSolanaOffchainMessage, type SolanaOffchainMessage } from './offchainMessage.js'

export type SignSolanaTransactionParameters = {
  /** The 32-byte ed25519 seed (RFC 8032 private key), only read. */
  privateKey: Uint8Array
  /** The transaction message (what signers sign): bytes, or standard base64 with padding. */
  message: Uint8Array | string
}
export type SignSolanaTransactionReturnType = {
  /** The 64-byte ed25519 signature of the message bytes. */
  signature: Uint8Array
  /** The key's position among the message's signers: where the signature goes in the transaction. */
  signerIndex: number
  /** The key's address (base58). */
  signer: SolanaAddress
  /** The message as parsed (and checked) before signing. */
  message: SolanaMessage
}

export type SignSolanaOffchainMessageParameters = SignSolanaTransactionParameters
export type SignSolanaOffchainMessageReturnType = Omit<SignSolanaTransactionReturnType, 'message'> & { message: SolanaOffchainMessage }

function readParameters(parameters: unknown): { privateKey: Uint8Array; bytes: Uint8Array } {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const own = (key: string): unknown => (Object.hasOwn(parameters, key) ? (parameters as Record<string, unknown>)[key] : undefined)
  const privateKey = own('privateKey')
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
    throw new InvalidArgumentError({ field: 'privateKey', rule: 'must be a 32-byte ed25519 seed' })
  }
  return { privateKey, bytes: solanaPayloadBytes(own('message')) }
}

function signerIndexOf(signers: readonly Uint8Array[], publicKey: Uint8Array): number {
  return signers.findIndex((key) => key.length === publicKey.length && key.every((b, i) => b === publicKey[i]))
}

/**
 * Sign a Solana transaction message (legacy or v0) with an ed25519 key, after parsing it strictly
 * ({@link parseSolanaMessage}): the key signs only if its public key is one of the message's required
 * signers (the first `numRequiredSignatures` static keys). Request policy (the facts of
 * {@link solanaFacts}, the key's policy) is the caller's: this primitive signs exactly the bytes it is given.
 *
 * @param parameters - `privateKey` (32-byte seed) and `message` (bytes or base64); own properties only.
 * @returns The signature, the signer's index and address, and the parsed message.
 * @throws InvalidArgumentError naming `privateKey`, `message` (or one of its fields, as the parser names it),
 *   or `message.staticAccountKeys` when the key is not a required signer. Nothing is signed then.
 * @example
 * import { getCompiledTransactionMessageEncoder, compileTransactionMessage } from '@solana/kit'
 * const { signature, signerIndex } = signSolanaTransaction({
 *   privateKey: seed,
 *   message: getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(tx)),
 * })
 */
export function signSolanaTransaction(parameters: SignSolanaTransactionParameters): SignSolanaTransactionReturnType {
  const { privateKey, bytes } = readParameters(parameters)
  const message = parseSolanaMessage(bytes)
  const publicKey = ed25519.getPublicKey(privateKey)
  const signers = message.staticAccountKeys.slice(0, message.header.numRequiredSignatures)
  const signerIndex = signerIndexOf(signers, publicKey)
  if (signerIndex < 0) {
    throw new InvalidArgumentError({
      field: 'message.staticAccountKeys',
      rule: `do not list ${solanaAddress(publicKey)} among the ${signers.length} required signer(s): not a required signer`,
    })
  }
  return { signature: ed25519.sign(bytes, privateKey), signerIndex, signer: solanaAddress(publicKey), message }
}

/**
 * Sign a Solana off-chain message (version 0, see {@link parseSolanaOffchainMessage}) with an ed25519 key:
 * the signature covers the whole message, signing domain and preamble included, as @solana/kit's
 * `partiallySignOffchainMessageEnvelope` does. The key signs only if it is one of the message's signers.
 * A transaction message can never be signed here (it cannot start with the signing domain's 0xff byte),
 * nor an off-chain message by {@link signSolanaTransaction} (0xff is an unsupported version there).
 *
 * @param parameters - `privateKey` (32-byte seed) and `message` (bytes or base64); own properties only.
 * @returns The signature, the signer's index among the message's signers and address, and the parsed message.
 * @throws InvalidArgumentError naming `privateKey`, `message` or one of its fields, or `message.signers`
 *   when the key is not one of them. Nothing is signed then.
 * @example
 * import { getOffchainMessageV0Codec } from '@solana/kit'
 * signSolanaOffchainMessage({ privateKey: seed, message: getOffchainMessageV0Codec().encode(message) }).signature
 */
export function signSolanaOffchainMessage(parameters: SignSolanaOffchainMessageParameters): SignSolanaOffchainMessageReturnType {
  const { privateKey, bytes } = readParameters(parameters)
  const message = parseSolanaOffchainMessage(bytes)
  const publicKey = ed25519.getPublicKey(privateKey)
  const signerIndex = signerIndexOf(message.signers, publicKey)
  if (signerIndex < 0) {
    throw new InvalidArgumentError({ field: 'message.signers', rule: `do not list ${solanaAddress(publicKey)}: not a signer of this message` })
  }
  return { signature: ed25519.sign(bytes, privateKey), signerIndex, signer: solanaAddress(publicKey), message }
}
