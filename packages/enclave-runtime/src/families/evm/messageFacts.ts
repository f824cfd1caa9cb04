import type { PersonalMessage, PolicyFacts } from '@enclave-custody/sdk'

/**
 * The policy facts of an EIP-191 `personal_sign` message (`sign.message`): `family` 'evm' and `kind`
 * 'message'. The text is not parsed: a message has no chain, destination or amount a policy could trust.
 *
 * @param _message - From `normalizePersonalMessage` (unread: every message has the same facts).
 * @returns The message's facts.
 * @example
 * messageFacts('hello world') // { family: 'evm', kind: 'message' }
 */
export function messageFacts(_message: PersonalMessage): PolicyFacts {
  return { family: 'evm', kind: 'message' }
}
