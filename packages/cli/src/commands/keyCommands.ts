import type { KeyInfo, KeyPolicyInput } from '@enclave-custody/sdk'
import { z } from 'zod'
import type { CliIo } from './cliIo.js'
import type { OptionSpec } from './cliOptions.js'

/** `keyId` and `address` as aligned lines, or one JSON object. */
export function printKey(io: CliIo, key: KeyInfo, json: boolean): void {
  if (json) io.stdout(`${JSON.stringify({ keyId: key.keyId, address: key.address, curve: key.curve, createdAt: key.createdAt.toISOString(), policy: key.policy })}\n`)
  else io.stdout(`keyId    ${key.keyId}\naddress  ${key.address}\n`)
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
} satisfies Record<string, OptionSpec>

/** The policy flags chosen on the command line (each absent flag is false). */
export type KeyPolicyFlags = { allowRawDigest?: boolean | undefined; allowReplayableLegacy?: boolean | undefined; allowAnyChainAuthorization?: boolean | undefined }

/** The policy flags as an `importKey` `policy` member (absent when nothing is widened). */
export function policyOf(o: KeyPolicyFlags): { policy?: KeyPolicyInput } {
  const policy = { allowRawDigest: o.allowRawDigest === true, allowReplayableLegacy: o.allowReplayableLegacy === true, allowAnyChainAuthorization: o.allowAnyChainAuthorization === true }
  return policy.allowRawDigest || policy.allowReplayableLegacy || policy.allowAnyChainAuthorization ? { policy } : {}
}
