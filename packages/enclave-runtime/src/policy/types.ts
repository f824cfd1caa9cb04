import type { SignedSigningPolicy } from '@enclave-custody/sdk'
import type { UnsealContext } from '../keys/types.js'

/**
 * Where the enclave reads a key's current signing policy itself. The parent is not trusted for the current
 * version: the production store reads Secrets Manager (`enclave-custody/policies/<keyId>/policy`, `AWSCURRENT`) over TLS
 * that ends in the enclave, in the pinned account and region; the local store reads a file.
 */
export interface PolicyStore {
  readonly kind: 'file' | 'secrets-manager' | 'memory'
  /**
   * The stored signed policy of `keyId` (untrusted JSON: the handler verifies it against the key's owners), or
   * `undefined` when none is stored. Throws `UnavailableError` when the source cannot be read (fail closed:
   * an unreadable policy never reads as "no policy").
   */
  read(keyId: string, context?: UnsealContext): Promise<unknown>
  /** Persist a verified signed policy (local stores). Absent: `policy.set` returns it for the caller to store. */
  write?(keyId: string, signed: SignedSigningPolicy): Promise<void>
}
