import type { RequestMessage } from '../protocol/messages.js'
import type { AttestationPolicy } from '../session/attestEnclave.js'
import type { RetryPolicy } from './retry.js'

/**
 * How the client reaches an enclave. A transport carries one protocol request and returns the peer's
 * response message, unvalidated: the client validates every response itself.
 */
export interface Transport {
  /** Short name for diagnostics, e.g. `nitro-enclave` or `local-enclave`. */
  readonly name: string
  /**
   * What the enclave behind this transport must attest to (PCR0 allowlist, roots): the client verifies it
   * itself, whatever the transport does.
   */
  readonly attestation?: AttestationPolicy | (() => Promise<AttestationPolicy>)
  /**
   * How the client retries requests that failed for a passing reason (reads, and signs carrying an idempotency
   * key only; each retry is stamped anew). @default no retries
   */
  readonly retry?: RetryPolicy
  request(message: RequestMessage): Promise<unknown>
  /** Release sockets, timers or the in-process runtime. */
  close?(): Promise<void>
}
