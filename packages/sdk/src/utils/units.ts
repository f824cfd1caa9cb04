import { formatEther as ethersFormatEther, parseUnits } from 'ethers'
import { fail, typeName } from './assert.js'

/**
 * Parse a decimal ether amount into wei, exactly. Only strings: a JS number would already have
 * lost precision.
 *
 * @example
 * parseEther('0.01') // 10000000000000000n
 * @throws InvalidArgumentError for numbers, signs, exponents or more than 18 decimals.
 */
export function parseEther(ether: string, field = 'ether'): bigint {
  if (typeof ether !== 'string') fail(field, `must be a decimal string such as "0.01" (got ${typeName(ether)}); numbers lose precision`)
  if (!/^(?:0|[1-9][0-9]*)(?:\.[0-9]{1,18})?$/.test(ether)) {
    fail(field, 'must be a non-negative decimal string with at most 18 decimals, such as "0.01"')
  }
  return parseUnits(ether, 18)
}

/** Format wei as a decimal ether string, e.g. `formatEther(10n ** 16n) === '0.01'`. */
export function formatEther(wei: bigint): string {
  if (typeof wei !== 'bigint') fail('wei', `must be a bigint (got ${typeName(wei)})`)
  return ethersFormatEther(wei)
}
