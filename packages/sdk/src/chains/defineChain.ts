import { InvalidArgumentError } from '../errors/CustodyError.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import type { BlockExplorer, Chain, NativeCurrency } from './types.js'

export type DefineChainParameters = {
  /** EIP-155 chain id: a positive safe integer. */
  id: number | bigint
  /** Display name, 1 to 64 characters. */
  name: string
  /** @default { name: 'Ether', symbol: 'ETH', decimals: 18 } */
  nativeCurrency?: { name: string; symbol: string; decimals?: number } | undefined
  /** An explorer with Etherscan-style paths. @default undefined (no explorer links) */
  explorer?: { name: string; url: string } | undefined
  /** @default false */
  testnet?: boolean | undefined
}

export type DefineChainReturnType = Chain

export type DefineChainErrorType = InvalidArgumentError

const ETHER: NativeCurrency = Object.freeze({ name: 'Ether', symbol: 'ETH', decimals: 18 })

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') fail(field, `must be a string (got ${typeName(value)})`)
  if (value.trim().length === 0) fail(field, 'must not be empty')
  if (value.length > max) fail(field, `must be at most ${max} characters`)
  return value
}

/** Validate an EIP-155 chain id: a positive safe integer (as a number or bigint). */
function assertChainId(value: unknown, field: string): number {
  if (typeof value === 'bigint') {
    if (value <= 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) fail(field, 'must be a positive integer up to 2^53-1')
    return Number(value)
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(field, `must be a positive safe integer (got ${typeof value === 'number' ? String(value) : typeName(value)})`)
  }
  return value
}

function explorerOf(value: unknown): BlockExplorer {
  const e = assertObject(value, 'chain.explorer', ['name', 'url'])
  const raw = text(e.url, 'chain.explorer.url', 200)
  let url: URL
  try {
    url = new URL(raw)
  } catch (cause) {
    throw new InvalidArgumentError({ field: 'chain.explorer.url', rule: 'must be an absolute URL', cause })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('chain.explorer.url', 'must be an http(s) URL')
  if (url.search || url.hash) fail('chain.explorer.url', 'must not have a query or fragment')
  return Object.freeze({ name: text(e.name, 'chain.explorer.name', 64), url: raw.replace(/\/+$/, '') })
}

/**
 * Describe a chain the presets do not cover (an L2, a private network, a local anvil). The result is
 * frozen and accepted wherever a preset is.
 *
 * @param chain the chain's id, name and, optionally, currency, explorer and testnet flag.
 * @returns the validated, frozen chain.
 * @throws InvalidArgumentError naming the field that breaks a rule (id not a positive safe integer, empty
 *   name, explorer URL not absolute http(s), unknown field).
 *
 * @example
 * import { defineChain, explorerTxUrl } from '@enclave-custody/sdk'
 * const gnosis = defineChain({ id: 100, name: 'Gnosis', nativeCurrency: { name: 'xDAI', symbol: 'XDAI' },
 *   explorer: { name: 'Gnosisscan', url: 'https://gnosisscan.io' } })
 * explorerTxUrl(gnosis, '0x…')   // 'https://gnosisscan.io/tx/0x…'
 */
export function defineChain(chain: DefineChainParameters): DefineChainReturnType {
  const c = assertObject(chain, 'chain', ['id', 'name', 'nativeCurrency', 'explorer', 'testnet'])
  const id = assertChainId(c.id, 'chain.id')
  const name = text(c.name, 'chain.name', 64)
  let nativeCurrency = ETHER
  if (c.nativeCurrency !== undefined) {
    const n = assertObject(c.nativeCurrency, 'chain.nativeCurrency', ['name', 'symbol', 'decimals'])
    const decimals = n.decimals ?? 18
    if (typeof decimals !== 'number' || !Number.isInteger(decimals) || decimals < 0 || decimals > 36) {
      fail('chain.nativeCurrency.decimals', 'must be an integer from 0 to 36')
    }
    nativeCurrency = Object.freeze({ name: text(n.name, 'chain.nativeCurrency.name', 64), symbol: text(n.symbol, 'chain.nativeCurrency.symbol', 16), decimals })
  }
  if (c.testnet !== undefined && typeof c.testnet !== 'boolean') fail('chain.testnet', `must be a boolean (got ${typeName(c.testnet)})`)
  const explorer = c.explorer === undefined ? undefined : explorerOf(c.explorer)
  return Object.freeze({ id, name, nativeCurrency, ...(explorer ? { explorer } : {}), testnet: c.testnet === true })
}
