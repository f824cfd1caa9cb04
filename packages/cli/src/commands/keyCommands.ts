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
 * `--allow-raw-digest` and `--allow-replayable-legacy`: the key policy chosen at creation, sealed with the
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
} satisfies Record<string, OptionSpec>

/** The policy flags as an `importKey` `policy` member (absent when nothing is widened). */
export function policyOf(o: { allowRawDigest: boolean; allowReplayableLegacy: boolean }): { policy?: KeyPolicyInput } {
  return o.allowRawDigest || o.allowReplayableLegacy ? { policy: { allowRawDigest: o.allowRawDigest, allowReplayableLegacy: o.allowReplayableLegacy } } : {}
}
