import type { KeyInfo } from '@enclave-custody/sdk'
import type { CliIo } from './cliIo.js'

/** `keyId` and `address` as aligned lines, or one JSON object. */
export function printKey(io: CliIo, key: KeyInfo, json: boolean): void {
  if (json) io.stdout(`${JSON.stringify({ keyId: key.keyId, address: key.address, curve: key.curve, createdAt: key.createdAt.toISOString() })}\n`)
  else io.stdout(`keyId    ${key.keyId}\naddress  ${key.address}\n`)
}
