import type { Authorization, PolicyFacts } from '@enclave-custody/sdk'

/**
 * The policy facts of an EIP-7702 authorization (`sign.authorization`): `family` 'evm', `kind`
 * 'authorization', `chainId` (0n: valid on every chain) and `delegate`, the contract whose code the signing
 * account delegates to. The nonce is not a fact.
 *
 * @param authorization - From `normalizeAuthorizationRequest(...).authorization`.
 * @returns The authorization's facts.
 * @example
 * authorizationFacts({ chainId: 0n, address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2', nonce: 0n })
 * // { family: 'evm', kind: 'authorization', chainId: 0n, delegate: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2' }
 */
export function authorizationFacts(authorization: Authorization): PolicyFacts {
  return { family: 'evm', kind: 'authorization', chainId: authorization.chainId, delegate: authorization.address }
}
