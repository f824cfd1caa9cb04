import type { InvalidArgumentError } from '../errors/CustodyError.js'
import { fail } from '../utils/assert.js'
import { assertHex } from '../utils/hex.js'
import type { Chain } from './types.js'

export type ExplorerTxUrlErrorType = InvalidArgumentError

/**
 * The block explorer page of a transaction.
 *
 * @param chain a preset or a `defineChain` result.
 * @param hash the transaction hash (32 bytes, 0x-prefixed).
 * @returns `<explorer url>/tx/<hash>`.
 * @throws InvalidArgumentError when the chain has no explorer or the hash is not 32 bytes of hex.
 *
 * @example
 * import { explorerTxUrl, sepolia } from '@enclave-custody/sdk'
 * explorerTxUrl(sepolia, signed.hash)   // 'https://sepolia.etherscan.io/tx/0x…'
 */
export function explorerTxUrl(chain: Chain, hash: string): string {
  const h = assertHex(hash, 'hash', 32)
  if (!chain?.explorer) fail('chain.explorer', `is not set for chain ${chain?.id}: give it one with defineChain({ …, explorer: { name, url } })`)
  return `${chain.explorer.url}/tx/${h}`
}
