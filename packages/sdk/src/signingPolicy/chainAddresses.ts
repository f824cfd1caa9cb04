/**
 * Bitcoin and Solana addresses as signing-policy values, decoded strictly with `@scure/btc-signer` (BIP-173 /
 * BIP-350 bech32 and bech32m, Base58Check) and `@scure/base` (Solana base58) — the libraries the enclave's fact
 * extractors encode them with.
 */
import { base58 } from '@scure/base'
import { Address, NETWORK, OutScript, TEST_NETWORK } from '@scure/btc-signer'
import { fail, typeName } from '../utils/assert.js'

/** Address parameters of mainnet, testnet / signet, and regtest (testnet's Base58Check versions, `bcrt` bech32). */
const BITCOIN_ADDRESS_NETWORKS = [NETWORK, TEST_NETWORK, { ...TEST_NETWORK, bech32: 'bcrt' }]
/** The address types the enclave's extractor names outputs by (others are listed as `script:<hex>`). */
const LISTED_TYPES = ['pkh', 'sh', 'wpkh', 'wsh', 'tr']

/** The type of a Bitcoin address on one of the networks, or `undefined` when none decodes it. */
function bitcoinAddressType(address: string): string | undefined {
  for (const network of BITCOIN_ADDRESS_NETWORKS) {
    try {
      return Address(network).decode(address).type
    } catch {
      // Not an address of this network: try the next.
    }
  }
  return undefined
}

/**
 * The output script an address (of any network) or `script:<hex>` entry stands for, as `script:<hex>`: what a policy
 * compares, so that an address matches its output whatever network a request declares (a plain key's PSBT does not
 * prove its network: its outputs' scripts are the same on every network).
 *
 * @param entry - A canonical entry (see `canonicalBitcoinAddress`) or a fact's address.
 * @returns `script:` and the lower-case hex of the output script, or `undefined` when `entry` is neither.
 * @example
 * bitcoinEntryScript('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4') // 'script:0014751e76e8199196d454941c45d1b3a323f1433bd6'
 */
export function bitcoinEntryScript(entry: string): string | undefined {
  if (entry.startsWith('script:')) return /^script:(?:[0-9a-f]{2})+$/.test(entry) ? entry : undefined
  for (const network of BITCOIN_ADDRESS_NETWORKS) {
    try {
      return `script:${Buffer.from(OutScript.encode(Address(network).decode(entry))).toString('hex')}`
    } catch {
      // Not an address of this network: try the next.
    }
  }
  return undefined
}

/** Output scripts that have an address (P2PKH, P2SH, P2WPKH, P2WSH, P2TR), as the enclave's extractor names them. */
const ADDRESS_SCRIPTS = [/^76a914[0-9a-f]{40}88ac$/, /^a914[0-9a-f]{40}87$/, /^0014[0-9a-f]{40}$/, /^0020[0-9a-f]{64}$/, /^5120[0-9a-f]{64}$/]
/** Largest output script a `script:` entry may name (the consensus limit on a script that is executed). */
export const MAX_POLICY_SCRIPT_BYTES = 10_000

/**
 * A Bitcoin output as a policy names it, in canonical form:
 * - an address of mainnet (`bc1…`, `1…`, `3…`), testnet / signet (`tb1…`, `m…`, `n…`, `2…`) or regtest (`bcrt1…`):
 *   P2PKH, P2SH (Base58Check, kept as written), P2WPKH, P2WSH (bech32) or P2TR (bech32m), segwit ones lower-cased;
 * - `script:<hex>`, the exact output script of an output that has no address (OP_RETURN, bare multisig, P2PK,
 *   other witness versions), hex lower-cased. A script that has an address must be written as its address (the
 *   enclave lists such an output by address, so the script form would never match).
 *
 * @param value - The written value.
 * @param field - The field an error names.
 * @returns The canonical string.
 * @throws InvalidArgumentError naming `field` for anything else.
 * @example
 * canonicalBitcoinAddress('BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4', 'to') // 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'
 */
export function canonicalBitcoinAddress(value: unknown, field: string): string {
  if (typeof value !== 'string') return fail(field, `must be a Bitcoin address or "script:<hex>" (got ${typeName(value)})`)
  if (value.startsWith('script:')) {
    const hex = value.slice('script:'.length)
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex) || hex.length > 2 * MAX_POLICY_SCRIPT_BYTES) {
      fail(field, `must be "script:" and an output script of 1 to ${MAX_POLICY_SCRIPT_BYTES} bytes, hex`)
    }
    const lower = hex.toLowerCase()
    if (ADDRESS_SCRIPTS.some((p) => p.test(lower))) fail(field, 'is the script of an output that has an address: write its address (outputs with an address are listed by address)')
    return `script:${lower}`
  }
  if (value.length < 14 || value.length > 90) return fail(field, 'must be a Bitcoin address (P2PKH, P2SH, P2WPKH, P2WSH or P2TR of mainnet, testnet, signet or regtest)')
  const type = bitcoinAddressType(value)
  if (type === undefined || !LISTED_TYPES.includes(type)) {
    fail(field, 'must be a Bitcoin address: P2PKH or P2SH (Base58Check), P2WPKH or P2WSH (bech32), P2TR (bech32m) of mainnet, testnet, signet or regtest, checksum checked, one case')
  }
  if (/^(?:bc|tb|bcrt)1/i.test(value)) return value.toLowerCase()
  return value
}

/**
 * A Solana address as a policy names it: base58 of exactly 32 bytes (an ed25519 key, a program id or a
 * program-derived address), kept as written (base58 has one spelling per key).
 *
 * @param value - The written value.
 * @param field - The field an error names.
 * @returns The address.
 * @throws InvalidArgumentError naming `field` for anything else.
 * @example
 * canonicalSolanaAddress('11111111111111111111111111111111', 'programIds') // the System Program
 */
export function canonicalSolanaAddress(value: unknown, field: string): string {
  if (typeof value !== 'string') return fail(field, `must be a base58 Solana address (got ${typeName(value)})`)
  let bytes: Uint8Array | undefined
  try {
    bytes = value.length >= 32 && value.length <= 44 ? base58.decode(value) : undefined
  } catch {
    bytes = undefined
  }
  if (bytes?.length !== 32 || base58.encode(bytes) !== value) fail(field, 'must be a base58 Solana address of exactly 32 bytes')
  return value
}
