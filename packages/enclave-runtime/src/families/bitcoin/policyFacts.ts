import type { PolicyFacts } from '@enclave-custody/sdk'
import type { BitcoinFacts } from './facts.js'

/**
 * The signing-policy facts of a PSBT, from the facts its extractor (`inspectBitcoinPsbt`) computed: family
 * `bitcoin`, kind `psbt`, `network`, `fee` and `spendAmount` (satoshis), `feeRate` (sat/vB), `amountsProven`, and
 * `outputAddresses`: every output that is not change, by its address on the PSBT's network, or as
 * `script:<hex>` (its output script, lower-case) when it has none (OP_RETURN, bare multisig, P2PK, P2A, future
 * witness versions) — so that an allowlist of addresses (`allIn`) never passes such an output unless the policy
 * lists that exact script. Change outputs (the key's own, as the extractor proved them) are not listed.
 *
 * @param facts - The PSBT's facts.
 * @returns The policy facts (no EVM fact, no `signer`: the handler adds it).
 * @example
 * import { bitcoinPolicyFacts } from './policyFacts.js'
 * import { inspectBitcoinPsbt } from './psbt.js'
 * const facts = bitcoinPolicyFacts(inspectBitcoinPsbt({ psbt, network: 'mainnet', keys }).facts)
 * // { family: 'bitcoin', kind: 'psbt', network: 'mainnet', fee: 1410n, feeRate: 10n, spendAmount: 50000n, outputAddresses: ['bc1q…'], amountsProven: true }
 */
export function bitcoinPolicyFacts(facts: BitcoinFacts): PolicyFacts {
  return {
    family: 'bitcoin',
    kind: 'psbt',
    network: facts.network,
    fee: facts.fee,
    feeRate: facts.feeRate,
    spendAmount: facts.spendAmount,
    outputAddresses: facts.outputs.filter((o) => !o.isChange).map((o) => o.address ?? `script:${o.script.toLowerCase()}`),
    amountsProven: facts.amountsProven,
  }
}
