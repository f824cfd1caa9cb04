import { ed25519 } from '@noble/curves/ed25519.js'
import { base58, base64 } from '@scure/base'
import type { KeyInfo } from '../../client/createCustodyClient.js'
import { IntegrityError } from '../../errors/CustodyError.js'
import type { OperationParamsWire, OperationResult } from '../../protocol/messages.js'
import { assertObject, fail, typeName } from '../../utils/assert.js'
import { isCanonicalBase64 } from '../bitcoin/protocol.js'
import { readSolanaOffchainSigners, readSolanaTransaction, solanaWireTransaction } from './message.js'
import { SOLANA_MAX_OFFCHAIN_MESSAGE_BYTES, SOLANA_MAX_TRANSACTION_BYTES } from './protocol.js'

/** What `signSolanaTransaction` takes: the compiled message (what signers sign), or a whole wire transaction, as bytes or base64. */
export type SignSolanaTransactionParameters = { transaction: Uint8Array | string }

/** What `signSolanaTransaction` returns, once verified. */
export type SignSolanaTransactionReturnType = {
  /** The 64-byte ed25519 signature, base58 (a transaction's first signature is its id). */
  signature: string
  /** The key's index among the message's required signers: its signature slot. */
  signerIndex: number
  /** The key's address (base58). */
  signer: string
  /** The wire transaction with the signature in its slot (other slots as given, zero for a bare message), base64: ready to send once every signer signed. */
  transaction: string
}

/** What `signSolanaMessage` takes: an off-chain message (version 0, signing domain and preamble included), as bytes or base64. */
export type SignSolanaMessageParameters = { message: Uint8Array | string }

/** What `signSolanaMessage` returns, once verified. */
export type SignSolanaMessageReturnType = Omit<SignSolanaTransactionReturnType, 'transaction'>

type Extra = { idempotencyKey?: string }

/** One prepared Solana sign call: the request as it travels and the check of its result. */
export type PreparedSolanaSign<O extends 'sign.solanaTransaction' | 'sign.solanaMessage', R> = {
  request: { op: O; params: OperationParamsWire<O> }
  verify(result: OperationResult<O>): R
}

function bytesOf(value: unknown, field: string, max: number): Uint8Array {
  if (value === undefined) fail(field, 'is required')
  let bytes: Uint8Array
  if (value instanceof Uint8Array) bytes = Uint8Array.from(value)
  else if (typeof value === 'string') {
    if (value.length > Math.ceil(max / 3) * 4 || !isCanonicalBase64(value)) fail(field, `must be canonical padded base64 of at most ${max} bytes`)
    bytes = base64.decode(value)
  } else return fail(field, `must be bytes or a base64 string (got ${typeName(value)})`)
  if (bytes.length === 0 || bytes.length > max) fail(field, `must be 1 to ${max} bytes`)
  return bytes
}

/**
 * The key's ed25519 public key, from its key info: its base58 address decodes to it (and the reported public key,
 * when present, is the same).
 *
 * @throws IntegrityError when the key info is not an ed25519 key's.
 */
export function solanaPublicKeyOf(key: KeyInfo): Uint8Array {
  const address = String(key.address)
  let publicKey: Uint8Array | undefined
  try {
    const bytes = base58.decode(address)
    if (bytes.length === 32 && base58.encode(bytes) === address) publicKey = bytes
  } catch {
    publicKey = undefined
  }
  if (publicKey === undefined) throw new IntegrityError({ reason: `the key "${key.keyId}" has no Solana address (it is not an ed25519 key)` })
  const reported = key.publicKey as string | undefined
  if (reported !== undefined && reported.toLowerCase() !== `0x${Buffer.from(publicKey).toString('hex')}`) {
    throw new IntegrityError({ reason: `the enclave reported a public key of "${key.keyId}" that is not its address's` })
  }
  return publicKey
}

/** The answer's signature bytes, canonical base58 of 64 bytes. */
function signatureBytes(signature: string): Uint8Array {
  let bytes: Uint8Array | undefined
  try {
    bytes = base58.decode(signature)
  } catch {
    bytes = undefined
  }
  if (bytes === undefined || bytes.length !== 64 || base58.encode(bytes) !== signature) throw new IntegrityError({ reason: '"signature" is not 64 bytes of canonical base58' })
  return bytes
}

/**
 * Check a Solana answer: `signer` is the key's address, `signerIndex` the first slot of the key among `signers`,
 * and `signature` a valid ed25519 signature (RFC 8032, strict: no ZIP-215 leniency) by the key over `message`.
 */
function verifySolanaSignature(result: { signature: string; signerIndex: number; signer: string }, publicKey: Uint8Array, signers: readonly Uint8Array[], message: Uint8Array): Uint8Array {
  if (result.signer !== base58.encode(publicKey)) throw new IntegrityError({ reason: '"signer" is not the key\'s address' })
  const index = signers.findIndex((s) => s.length === 32 && s.every((b, i) => b === publicKey[i]))
  if (index < 0 || result.signerIndex !== index) throw new IntegrityError({ reason: '"signerIndex" is not the key\'s place among the message\'s signers' })
  const signature = signatureBytes(result.signature)
  let ok = false
  try {
    ok = ed25519.verify(signature, message, publicKey, { zip215: false })
  } catch {
    ok = false
  }
  if (!ok) throw new IntegrityError({ reason: 'the signature is not the key\'s ed25519 signature over the message' })
  return signature
}

/**
 * The Solana family on the client side: each sign method validates and reads the payload before anything is sent,
 * reads the key's public key (its key info, as the enclave signed it), and verifies the answer: the signer's
 * address and index, and the ed25519 signature over the exact bytes sent.
 *
 * @param deps - `keyOf(keyId)`: the key's verified info (the client's `getKey`).
 * @returns The prepared requests of the family.
 */
export function solanaSignRequests({ keyOf }: { keyOf(keyId: string): Promise<KeyInfo> }) {
  function transactionRequest(keyId: string, params: SignSolanaTransactionParameters, extra: Extra) {
    const p = assertObject(params, 'params', ['transaction'])
    const read = readSolanaTransaction(bytesOf(p.transaction, 'transaction', SOLANA_MAX_TRANSACTION_BYTES), 'transaction')
    const request = { op: 'sign.solanaTransaction' as const, params: { keyId, message: base64.encode(read.message), ...extra } }
    return { request, read }
  }
  function messageRequest(keyId: string, params: SignSolanaMessageParameters, extra: Extra) {
    const p = assertObject(params, 'params', ['message'])
    const message = bytesOf(p.message, 'message', SOLANA_MAX_OFFCHAIN_MESSAGE_BYTES)
    const signers = readSolanaOffchainSigners(message, 'message')
    const request = { op: 'sign.solanaMessage' as const, params: { keyId, message: base64.encode(message), ...extra } }
    return { request, message, signers }
  }
  return {
    signSolanaTransactionRequest: (keyId: string, params: SignSolanaTransactionParameters, extra: Extra) => transactionRequest(keyId, params, extra).request,
    signSolanaMessageRequest: (keyId: string, params: SignSolanaMessageParameters, extra: Extra) => messageRequest(keyId, params, extra).request,
    /** Prepare a transaction signature; the verified answer places the signature in its slot of the wire transaction. */
    async signSolanaTransaction(keyId: string, params: SignSolanaTransactionParameters, extra: Extra): Promise<PreparedSolanaSign<'sign.solanaTransaction', SignSolanaTransactionReturnType>> {
      const { request, read } = transactionRequest(keyId, params, extra)
      const publicKey = solanaPublicKeyOf(await keyOf(keyId))
      if (!read.signers.signers.some((s) => s.every((b, i) => b === publicKey[i]))) fail('transaction', 'does not list the key among its required signers')
      return {
        request,
        verify(result) {
          const signature = verifySolanaSignature(result, publicKey, read.signers.signers, read.message)
          const slots = read.signatures.map((s, i) => (i === result.signerIndex ? signature : s))
          return { signature: result.signature, signerIndex: result.signerIndex, signer: result.signer, transaction: base64.encode(solanaWireTransaction(slots, read.message)) }
        },
      }
    },
    /** Prepare an off-chain message signature. */
    async signSolanaMessage(keyId: string, params: SignSolanaMessageParameters, extra: Extra): Promise<PreparedSolanaSign<'sign.solanaMessage', SignSolanaMessageReturnType>> {
      const { request, message, signers } = messageRequest(keyId, params, extra)
      const publicKey = solanaPublicKeyOf(await keyOf(keyId))
      if (!signers.some((s) => s.every((b, i) => b === publicKey[i]))) fail('message', 'does not list the key among its signers')
      return {
        request,
        verify(result) {
          verifySolanaSignature(result, publicKey, signers, message)
          return { signature: result.signature, signerIndex: result.signerIndex, signer: result.signer }
        },
      }
    },
  }
}
