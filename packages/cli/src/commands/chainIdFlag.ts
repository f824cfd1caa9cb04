import { getChain, isCustodyError, RETIRED_TESTNETS } from '@enclave-custody/sdk'
import { z } from 'zod'
import { integerFlag } from './cliOptions.js'

/** Largest chain id the CLI takes (EIP-2294's bound: fits a JSON number and every wallet). */
const MAX_CHAIN_ID = 4_503_599_627_370_476n

/**
 * Why `getChain` refuses a retired testnet's chain id (its rule, e.g. "5 is Goerli, a retired testnet: use sepolia
 * (11155111) or hoodi (560048)"), or `undefined` for any other id (with or without a preset: the CLI signs for any chain).
 */
export function retiredChainRule(id: bigint): string | undefined {
  if (RETIRED_TESTNETS[Number(id)] === undefined) return undefined
  try {
    getChain(id)
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT') && typeof e.details?.rule === 'string') return e.details.rule
    throw e
  }
  return undefined
}

/** `--chain-id <n>`: a decimal integer ≥ 1, not a retired testnet (refused as the SDK's `getChain` refuses it); a bigint. */
export const chainIdFlag = integerFlag({ min: 1n, max: MAX_CHAIN_ID }).transform((id, ctx): bigint => {
  const retired = retiredChainRule(id)
  if (retired === undefined) return id
  ctx.addIssue({ code: 'custom', message: retired })
  return z.NEVER
})
