import { InternalError, InvalidArgumentError } from '@enclave-custody/sdk'
import { base58 } from '@scure/base'
import type { SigningKey, SigningOperations } from '../types.js'
import { solanaFacts } from './facts.js'
import { solanaPayloadBytes } from './message.js'
import { parseSolanaOffchainMessage } from './offchainMessage.js'
import { solanaMessagePolicyFacts, solanaPolicyFacts } from './policyFacts.js'
import { signSolanaOffchainMessage, signSolanaTransaction } from './sign.js'


/** Only an ed25519 key signs for Solana (the handler refuses other families' keys first; this guards the spec alone). */
function checkKey(key: SigningKey): void {
  if (key.curve !== 'ed25519') throw new InvalidArgumentError({ field: 'keyId', rule: 'names a key that is not an ed25519 key: only ed25519 keys sign for Solana' })
}

/** The signer the core reports must be the key the request named (its address is its base58 public key). */
function answer(signed: { signature: Uint8Array; signerIndex: number; signer: string }, key: SigningKey) {
  if (signed.signer !== key.address) throw new InternalError({ reason: 'the unsealed key is not the key of the record' })
  return { signature: base58.encode(signed.signature), signerIndex: signed.signerIndex, signer: signed.signer }
}

/**
 * The Solana family's signing operations: a transaction message (legacy or v0, the compiled message bytes that
 * signers sign) and an off-chain message (version 0, with its signing domain and preamble), each given as
 * base64. The key signs only when it is one of the message's (required) signers.
 *
 * Result: `{ signature, signerIndex, signer }`: the 64-byte ed25519 signature in base58 (Solana's own notation:
 * a transaction's first signature is its id), the key's position among the message's signers (its signature
 * slot in the transaction), and the key's base58 address.
 */
export const SOLANA_OPERATIONS: SigningOperations<'sign.solanaTransaction' | 'sign.solanaMessage'> = {
  'sign.solanaTransaction': {
    family: 'solana',
    facts: (params, key) => {
      checkKey(key)
      return solanaPolicyFacts(solanaFacts(solanaPayloadBytes(params.message)))
    },
    sign: ({ privateKey }, params, { key }) => {
      checkKey(key)
      return answer(signSolanaTransaction({ privateKey, message: params.message }), key)
    },
  },
  'sign.solanaMessage': {
    family: 'solana',
    facts: (params, key) => {
      checkKey(key)
      return solanaMessagePolicyFacts(parseSolanaOffchainMessage(solanaPayloadBytes(params.message)))
    },
    sign: ({ privateKey }, params, { key }) => {
      checkKey(key)
      return answer(signSolanaOffchainMessage({ privateKey, message: params.message }), key)
    },
  },
}
