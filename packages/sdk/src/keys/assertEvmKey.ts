import { InvalidArgumentError } from '../errors/CustodyError.js'

/**
 * Refuse a key that cannot sign EVM payloads (an ed25519 key, a Bitcoin or Solana account, an HD wallet): the
 * ethers and viem adapters serve secp256k1 keys and EVM accounts of HD wallets. A key info without `family`
 * (from a client that predates families) is taken as the secp256k1 key it then is.
 *
 * @param info - The key's `kind` and `family`, as `getKey` reported them.
 * @throws InvalidArgumentError naming `keyId`.
 * @example
 * assertEvmKey(await custody.getKey(keyId))
 */
export function assertEvmKey(info: { kind?: string; family?: string }): void {
  if (info.family !== undefined && info.family !== 'evm') {
    throw new InvalidArgumentError({ field: 'keyId', rule: `must name an EVM key (a secp256k1 key or an EVM account), not a ${info.family} ${info.kind ?? 'key'}` })
  }
  if (info.kind === 'hd-wallet') throw new InvalidArgumentError({ field: 'keyId', rule: 'names an HD wallet: sign with one of its accounts (createAccount)' })
}
