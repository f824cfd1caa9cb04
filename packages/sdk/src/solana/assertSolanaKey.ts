import type { KeyInfo } from '../client/createCustodyClient.js'
import { InvalidArgumentError } from '../errors/CustodyError.js'

/**
 * Refuse a key that cannot sign Solana payloads: the Solana adapter serves ed25519 keys
 * (`importKey({ kind: 'ed25519' })`) and Solana accounts of HD wallets (`createAccount(walletId, { family: 'solana' })`).
 *
 * @param info - The key's `kind`, `family` and `curve`, as `getKey` reported them.
 * @throws InvalidArgumentError naming `keyId`.
 * @example
 * assertSolanaKey(await custody.getKey(keyId))
 */
export function assertSolanaKey(info: Pick<KeyInfo, 'kind' | 'family' | 'curve'>): void {
  if (info.kind === 'hd-wallet') throw new InvalidArgumentError({ field: 'keyId', rule: "names an HD wallet: sign with one of its Solana accounts (createAccount(walletId, { family: 'solana' }))" })
  if (info.family !== 'solana' || info.curve !== 'ed25519') {
    throw new InvalidArgumentError({ field: 'keyId', rule: `must name a Solana key (an ed25519 key or a Solana account), not a ${info.family ?? info.curve} ${info.kind}` })
  }
}
