import { hashPersonalMessage, type PersonalMessage } from '@enclave-custody/sdk'
import type { MessageSignatureWire } from '@enclave-custody/sdk/protocol'
import { signHash } from './hash.js'

/**
 * Sign an EIP-191 `personal_sign` message (text as UTF-8, or raw bytes).
 *
 * @param privateKey - 32 bytes, only read.
 * @param message - From `normalizePersonalMessage`.
 * @example
 * signMessage(privateKey, 'hello world').signature // 0x… (65 bytes, v 27/28)
 */
export function signMessage(privateKey: Uint8Array, message: PersonalMessage): MessageSignatureWire {
  return signHash(privateKey, hashPersonalMessage(message))
}
