import { type Address, type Hex, InvalidArgumentError, toChecksumAddress } from '@enclave-custody/sdk'

/** The 4-byte selectors of the ERC-20 calls the enclave decodes, lower-case 0x-hex. */
export const ERC20_SELECTORS = {
  /** `transfer(address to, uint256 amount)` */
  transfer: '0xa9059cbb',
  /** `approve(address spender, uint256 amount)` */
  approve: '0x095ea7b3',
  /** `transferFrom(address from, address to, uint256 amount)` */
  transferFrom: '0x23b872dd',
} as const satisfies Record<string, Hex>

/** An ERC-20 call whose arguments decoded strictly. Addresses are EIP-55 checksummed. */
export type Erc20Call =
  | { name: 'transfer'; recipient: Address; amount: bigint }
  | { name: 'approve'; spender: Address; amount: bigint }
  | { name: 'transferFrom'; from: Address; recipient: Address; amount: bigint }

type Erc20CallName = Erc20Call['name']
/** Selector → call name and its number of 32-byte argument words. */
const CALLS: ReadonlyMap<string, { name: Erc20CallName; words: number }> = new Map([
  [ERC20_SELECTORS.transfer, { name: 'transfer', words: 2 }],
  [ERC20_SELECTORS.approve, { name: 'approve', words: 2 }],
  [ERC20_SELECTORS.transferFrom, { name: 'transferFrom', words: 3 }],
])

const WORD_HEX = 64
const ADDRESS_PADDING = '0'.repeat(24)
const HEX_BODY = /^[0-9a-fA-F]*$/

/**
 * Decode the calldata of an ERC-20 `transfer`, `approve` or `transferFrom`, strictly: exactly 4 + 32·n bytes
 * (n = 2, 2, 3: no short word, no trailing byte) and every address word padded with 12 zero bytes. Token
 * contracts do not agree on such calldata (the ABI decoder ignores trailing bytes; older Solidity masks dirty
 * address padding where newer reverts), and a policy must never read a call differently from the contract
 * that runs it: such calldata is refused, not decoded one way nor classified as something else. This also
 * refuses an ERC-20 call with a suffix appended (some wallets append attribution tags).
 *
 * Calldata with another selector, or of fewer than 4 bytes, is not an ERC-20 call: the result is
 * `undefined`, not an error.
 *
 * @param data - Calldata, 0x-hex (as normalised by the SDK: lower-case, even length).
 * @param field - Field the error names. @default 'tx.data'
 * @returns The decoded call, or `undefined` when the selector is none of {@link ERC20_SELECTORS}.
 * @throws InvalidArgumentError naming `field` when the selector is an ERC-20 one but the arguments do not
 *   decode strictly.
 * @example
 * import { encodeFunctionData, erc20Abi } from 'viem'
 * decodeErc20Call(encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [recipient, 1n] }))
 * // { name: 'transfer', recipient, amount: 1n }
 */
export function decodeErc20Call(data: Hex, field = 'tx.data'): Erc20Call | undefined {
  if (data.length < 10) return undefined
  const call = CALLS.get(data.slice(0, 10).toLowerCase())
  if (call === undefined) return undefined
  const refuse = (what: string): never => {
    throw new InvalidArgumentError({ field, rule: `calls ERC-20 ${call.name} with ${what}: refused rather than read differently from the token` })
  }
  const body = data.slice(10)
  if (body.length !== call.words * WORD_HEX) {
    refuse(`${body.length / 2} bytes of arguments where it takes exactly ${call.words * 32} (${call.words} words)`)
  }
  if (!HEX_BODY.test(body)) refuse('arguments that are not hex')
  const word = (i: number) => body.slice(i * WORD_HEX, (i + 1) * WORD_HEX)
  const uint = (i: number) => BigInt(`0x${word(i)}`)
  const address = (i: number): Address => {
    const w = word(i)
    if (!w.startsWith(ADDRESS_PADDING)) refuse(`argument ${i} (an address) not padded with 12 zero bytes`)
    return toChecksumAddress(`0x${w.slice(24)}`)
  }
  switch (call.name) {
    case 'transfer':
      return { name: 'transfer', recipient: address(0), amount: uint(1) }
    case 'approve':
      return { name: 'approve', spender: address(0), amount: uint(1) }
    case 'transferFrom':
      return { name: 'transferFrom', from: address(0), recipient: address(1), amount: uint(2) }
  }
}
