import { fail, typeName } from './assert.js'

/** Wei per ether. No ethers import here: the SDK's main entry must load without the optional ethers peer. */
const WEI_PER_ETHER = 10n ** 18n

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
  const [whole = '0', fraction = ''] = ether.split('.')
  return BigInt(whole) * WEI_PER_ETHER + BigInt(fraction.padEnd(18, '0'))
}

/**
 * Format wei as a decimal ether string, as ethers' `formatEther` does: `formatEther(10n ** 16n) === '0.01'`,
 * `formatEther(10n ** 18n) === '1.0'`.
 */
export function formatEther(wei: bigint): string {
  if (typeof wei !== 'bigint') fail('wei', `must be a bigint (got ${typeName(wei)})`)
  const sign = wei < 0n ? '-' : ''
  const abs = wei < 0n ? -wei : wei
  const fraction = (abs % WEI_PER_ETHER).toString().padStart(18, '0').replace(/0+$/, '')
  return `${sign}${abs / WEI_PER_ETHER}.${fraction === '' ? '0' : fraction}`
}
