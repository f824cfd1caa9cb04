import type { InvalidArgumentError } from '../errors/CustodyError.js'
import { fail, typeName } from '../utils/assert.js'
import { arbitrum } from './definitions/arbitrum.js'
import { base } from './definitions/base.js'
import { holesky } from './definitions/holesky.js'
import { hoodi } from './definitions/hoodi.js'
import { mainnet } from './definitions/mainnet.js'
import { optimism } from './definitions/optimism.js'
import { polygon } from './definitions/polygon.js'
import { sepolia } from './definitions/sepolia.js'
import type { Chain } from './types.js'

/** Every preset, in the order the docs list them. */
export const chains: readonly Chain[] = Object.freeze([mainnet, sepolia, holesky, hoodi, base, optimism, arbitrum, polygon])

/**
 * Ethereum testnets that no longer run. A chain id of one of them is almost always a stale config, so
 * `getChain` says so instead of "unknown".
 */
export const RETIRED_TESTNETS: Readonly<Record<number, string>> = Object.freeze({
  3: 'Ropsten',
  4: 'Rinkeby',
  5: 'Goerli',
  42: 'Kovan',
})

export type GetChainErrorType = InvalidArgumentError

/**
 * The preset for a chain id.
 *
 * @param id an EIP-155 chain id, as a number or a bigint (ethers' `network.chainId`).
 * @returns the preset (`mainnet`, `sepolia`, `holesky`, `hoodi`, `base`, `optimism`, `arbitrum`, `polygon`).
 * @throws InvalidArgumentError for a retired testnet (Rinkeby, Goerli, …: use Sepolia or Hoodi) and for any
 *   other chain id without a preset (describe it with `defineChain`).
 *
 * @example
 * import { explorerTxUrl, getChain } from '@enclave-custody/sdk'
 * const chain = getChain((await provider.getNetwork()).chainId)
 * console.log(explorerTxUrl(chain, hash))
 */
export function getChain(id: number | bigint): Chain {
  if (typeof id !== 'number' && typeof id !== 'bigint') fail('chainId', `must be a number or a bigint (got ${typeName(id)})`)
  const chain = chains.find((c) => BigInt(c.id) === BigInt(id))
  if (chain) return chain
  const retired = typeof id === 'bigint' || Number.isSafeInteger(id) ? RETIRED_TESTNETS[Number(id)] : undefined
  if (retired) {
    fail('chainId', `${id} is ${retired}, a retired testnet: use sepolia (11155111) or hoodi (560048)`)
  }
  fail('chainId', `${id} has no preset: describe the chain with defineChain({ id, name, explorer })`)
}
