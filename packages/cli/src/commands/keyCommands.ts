import type { KeyInfo, KeyPolicyInput } from '@enclave-custody/sdk'
import { z } from 'zod'
import type { CliIo } from './cliIo.js'
import type { OptionSpec } from './cliOptions.js'

/** A key's public description as JSON: id, kind, address, curve, and the HD fields it has. */
export function keyJson(key: KeyInfo): Record<string, unknown> {
  return {
    keyId: key.keyId,
    kind: key.kind,
    address: key.address,
    curve: key.curve,
    ...(key.family === undefined ? {} : { family: key.family }),
    ...(key.walletId === undefined ? {} : { walletId: key.walletId }),
    ...(key.path === undefined ? {} : { path: key.path }),
    ...(key.network === undefined ? {} : { network: key.network }),
    ...(key.format === undefined ? {} : { format: key.format }),
    ...(key.fingerprint === undefined ? {} : { fingerprint: key.fingerprint }),
    ...(key.publicKey === undefined ? {} : { publicKey: key.publicKey }),
    createdAt: key.createdAt.toISOString(),
    policy: key.policy,
  }
}

/** `keyId` and `address` (and the key's kind and HD fields, when not a plain secp256k1 key) as aligned lines, or one JSON object. */
export function printKey(io: CliIo, key: KeyInfo, json: boolean): void {
  if (json) {
    io.stdout(`${JSON.stringify(keyJson(key))}\n`)
    return
  }
  const rows: [string, string | undefined][] = [
    ['keyId', key.keyId],
    ['kind', key.kind === 'secp256k1' ? undefined : key.kind],
    ['family', key.kind === 'secp256k1' ? undefined : key.family],
    ['wallet', key.walletId],
    ['path', key.path],
    ['network', key.network],
    ['format', key.format],
    ['address', String(key.address) === '' ? undefined : key.address],
  ]
  io.stdout(rows.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n') + '\n')
}

/**
 * `--allow-raw-digest`, `--allow-replayable-legacy` and `--allow-any-chain-authorization`: the key policy chosen at creation, sealed with the
 * key (it cannot be widened later without re-importing).
 */
export const keyPolicyOptions = {
  allowRawDigest: { flag: 'allow-raw-digest', boolean: true, help: 'let this key sign raw 32-byte digests (a blank cheque; off by default)', schema: z.boolean().default(false) },
  allowReplayableLegacy: {
    flag: 'allow-replayable-legacy',
    boolean: true,
    help: 'let this key sign legacy transactions without a chainId (replayable on every chain)',
    schema: z.boolean().default(false),
  },
  allowAnyChainAuthorization: {
    flag: 'allow-any-chain-authorization',
    boolean: true,
    help: 'let this key sign EIP-7702 authorizations with chainId 0 (a delegation valid on every chain)',
    schema: z.boolean().default(false),
  },
  allowUnprovenBitcoinAmounts: {
    flag: 'allow-unproven-bitcoin-amounts',
    boolean: true,
    help: 'let this key sign segwit v0 PSBT inputs whose amount only a witnessUtxo states (sign-psbt --allow-unproven-amounts)',
    schema: z.boolean().default(false),
  },
  allowBitcoinSighashTypes: {
    flag: 'allow-bitcoin-sighash-types',
    boolean: true,
    help: 'let this key sign PSBT inputs with sighash types other than ALL',
    schema: z.boolean().default(false),
  },
} satisfies Record<string, OptionSpec>

/** The policy flags chosen on the command line (each absent flag is false). */
export type KeyPolicyFlags = {
  allowRawDigest?: boolean | undefined
  allowReplayableLegacy?: boolean | undefined
  allowAnyChainAuthorization?: boolean | undefined
  allowUnprovenBitcoinAmounts?: boolean | undefined
  allowBitcoinSighashTypes?: boolean | undefined
}

/** The policy flags as an `importKey` `policy` member (absent when nothing is widened). */
export function policyOf(o: KeyPolicyFlags): { policy?: KeyPolicyInput } {
  const policy = {
    allowRawDigest: o.allowRawDigest === true,
    allowReplayableLegacy: o.allowReplayableLegacy === true,
    allowAnyChainAuthorization: o.allowAnyChainAuthorization === true,
    ...(o.allowUnprovenBitcoinAmounts ? { allowUnprovenBitcoinAmounts: true } : {}),
    ...(o.allowBitcoinSighashTypes ? { allowBitcoinSighashTypes: true } : {}),
  }
  return Object.values(policy).some(Boolean) ? { policy } : {}
}
