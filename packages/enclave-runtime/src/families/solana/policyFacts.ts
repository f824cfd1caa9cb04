import type { PolicyFacts } from '@enclave-custody/sdk'
import type { SolanaAccountFact, SolanaFacts } from './facts.js'
import type { SolanaOffchainMessage } from './offchainMessage.js'

/**
 * An account as a policy list holds it: a static key by its address; an account loaded through a v0 lookup table
 * as `lookup:<table>:<index>` (its address is decided on-chain by the table, so no allowlist can contain it).
 */
const entry = (account: SolanaAccountFact): string => (account.known ? account.address : `lookup:${account.lookupTable}:${account.lookupIndex}`)

/**
 * The signing-policy facts of a Solana transaction message, from `solanaFacts`: family `solana`, kind
 * `solanaTransaction`, and
 * - `programIds`: every top-level program, `feePayer`, `usesLookupAccounts`;
 * - `lamports`: the sum of System Program transfers; `solRecipients`: their recipients;
 * - `tokenMints` (of transfers and approvals; `unchecked:<instruction index>` for `transfer` / `approve`, which
 *   name no mint), `tokenDestinations` (transfers), `tokenDelegates` (approvals), `tokenAmount` (the sum of their
 *   amounts in base units, whatever the mint);
 * - `undecodedInstructions`: how many instructions are neither a System transfer nor a token transfer/approval.
 *
 * An account loaded through a lookup table is listed as `lookup:<table>:<index>`: `allIn` an allowlist fails,
 * `anyIn` a denylist does not match it (deny `usesLookupAccounts` to close that). Lists keep instruction order,
 * with repeats.
 *
 * @param facts - The message's facts.
 * @returns The policy facts (no EVM or Bitcoin fact, no `signer`: the handler adds it).
 * @example
 * import { solanaFacts } from './facts.js'
 * import { solanaPolicyFacts } from './policyFacts.js'
 * solanaPolicyFacts(solanaFacts(messageBytes))
 * // { family: 'solana', kind: 'solanaTransaction', programIds: ['11111111111111111111111111111111'], lamports: 1000n, solRecipients: ['7xK…'], … }
 */
export function solanaPolicyFacts(facts: SolanaFacts): PolicyFacts {
  const solRecipients: string[] = []
  const tokenMints: string[] = []
  const tokenDestinations: string[] = []
  const tokenDelegates: string[] = []
  let tokenAmount = 0n
  let undecoded = 0n
  for (const ix of facts.instructions) {
    switch (ix.type) {
      case 'systemTransfer':
        solRecipients.push(entry(ix.to))
        break
      case 'tokenTransfer':
      case 'tokenApprove':
        tokenMints.push(ix.mint ? entry(ix.mint) : `unchecked:${ix.index}`)
        if (ix.type === 'tokenTransfer') tokenDestinations.push(entry(ix.destination))
        else tokenDelegates.push(entry(ix.delegate))
        tokenAmount += ix.amount
        break
      default:
        undecoded++
    }
  }
  return {
    family: 'solana',
    kind: 'solanaTransaction',
    programIds: [...facts.programIds],
    lamports: facts.systemTransferLamports,
    solRecipients,
    tokenMints,
    tokenDestinations,
    tokenDelegates,
    tokenAmount,
    feePayer: facts.feePayer,
    usesLookupAccounts: facts.usesLookupAccounts,
    undecodedInstructions: undecoded,
  }
}

/**
 * The signing-policy facts of a Solana off-chain message: family `solana`, kind `solanaMessage`, nothing else
 * (it moves nothing; a policy tells it apart by `kind`).
 *
 * @param _message - The parsed message (unused: accepted so that callers may pass what they have).
 * @returns `{ family: 'solana', kind: 'solanaMessage' }`.
 * @example
 * solanaMessagePolicyFacts() // { family: 'solana', kind: 'solanaMessage' }
 */
export function solanaMessagePolicyFacts(_message?: SolanaOffchainMessage): PolicyFacts {
  return { family: 'solana', kind: 'solanaMessage' }
}
