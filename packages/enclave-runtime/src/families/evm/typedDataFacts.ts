import type { Address, NormalizedTypedData, PolicyFacts, TypedDataField } from '@enclave-custody/sdk'

/**
 * The EIP-2612 `Permit` struct, member for member and in order (its type hash is what a token checks):
 * `Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)`.
 */
const EIP2612_PERMIT: readonly TypedDataField[] = [
  { name: 'owner', type: 'address' },
  { name: 'spender', type: 'address' },
  { name: 'value', type: 'uint256' },
  { name: 'nonce', type: 'uint256' },
  { name: 'deadline', type: 'uint256' },
]

function isEip2612Permit(td: NormalizedTypedData): boolean {
  if (td.primaryType !== 'Permit') return false
  const fields = Object.hasOwn(td.types, 'Permit') ? td.types.Permit : undefined
  return (
    fields !== undefined &&
    fields.length === EIP2612_PERMIT.length &&
    fields.every((f, i) => f.name === EIP2612_PERMIT[i]!.name && f.type === EIP2612_PERMIT[i]!.type)
  )
}

/**
 * The policy facts of EIP-712 typed data (`sign.typedData`): `family` 'evm', `kind` 'typedData', the domain's
 * `domainName`, `domainVersion`, `chainId` and `verifyingContract` (each only when the domain has it) and
 * `primaryType`.
 *
 * An EIP-2612 permit (primaryType `Permit` whose struct is exactly EIP-2612's: owner, spender, value, nonce,
 * deadline, in that order) also yields `spender`, `amount` (= value) and `token` (= verifyingContract, when
 * the domain has one). Other structs named or acting like a permit get NO token facts, although they grant
 * allowances too: DAI's `Permit(holder, spender, nonce, expiry, bool allowed)` (an unlimited allowance, no
 * amount), Uniswap Permit2's `PermitSingle` / `PermitBatch` / `PermitTransferFrom` (the token and amount sit
 * in nested structs and the verifying contract is Permit2, not the token), or any `Permit` with other
 * members. A policy that must constrain those matches them by `primaryType` and `verifyingContract` (e.g.
 * deny `primaryType` in ['PermitSingle', 'PermitBatch'] unless `verifyingContract` is trusted).
 *
 * @param typedData - From `normalizeTypedData` (addresses checksummed, integers decimal strings).
 * @returns The typed data's facts.
 * @example
 * typedDataFacts(normalizeTypedData(permit))
 * // { family: 'evm', kind: 'typedData', domainName: 'USD Coin', domainVersion: '2', chainId: 1n,
 * //   verifyingContract: '0xA0b8…', primaryType: 'Permit', token: '0xA0b8…', spender: '0x…', amount: 1000000n }
 */
export function typedDataFacts(typedData: NormalizedTypedData): PolicyFacts {
  const { domain, primaryType, message } = typedData
  const facts: PolicyFacts = { family: 'evm', kind: 'typedData' }
  if (domain.name !== undefined) facts.domainName = domain.name
  if (domain.version !== undefined) facts.domainVersion = domain.version
  if (domain.chainId !== undefined) facts.chainId = BigInt(domain.chainId)
  if (domain.verifyingContract !== undefined) facts.verifyingContract = domain.verifyingContract
  facts.primaryType = primaryType
  if (isEip2612Permit(typedData)) {
    if (domain.verifyingContract !== undefined) facts.token = domain.verifyingContract
    facts.spender = message.spender as Address
    facts.amount = BigInt(message.value as string)
  }
  return facts
}
