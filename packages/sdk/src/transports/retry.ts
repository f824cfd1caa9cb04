import { isCustodyError } from '../errors/CustodyError.js'
import type { Operation } from '../protocol/messages.js'
import { assertObject, fail } from '../utils/assert.js'

/**
 * Retries of requests that failed for a reason that may pass (the enclave restarting, the proxy reconnecting,
 * KMS throttling). Opt-in: `attempts` counts the first try.
 */
export type RetryOptions = {
  /** Tries in all, the first included (1 = no retry). 1..10 */
  attempts: number
  /** First wait; doubles per retry, with full jitter. @default 100 */
  baseDelayMs?: number
  /** Longest wait between two tries. @default 2_000 */
  maxDelayMs?: number
}

export type RetryPolicy = Required<RetryOptions>

/** No retries: what a transport without a `retry` option does. */
export const NO_RETRY: RetryPolicy = Object.freeze({ attempts: 1, baseDelayMs: 0, maxDelayMs: 0 })

const MAX_ATTEMPTS = 10
const MAX_DELAY_MS = 60_000

/** Check retry options (`field` names them in errors) and fill in the defaults. */
export function normalizeRetry(options: unknown, field: string): RetryPolicy {
  if (options === undefined) return NO_RETRY
  const o = assertObject(options, field, ['attempts', 'baseDelayMs', 'maxDelayMs'])
  const int = (value: unknown, name: string, min: number, max: number, fallback: number) => {
    if (value === undefined) return fallback
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) fail(`${field}.${name}`, `must be an integer from ${min} to ${max}`)
    return value as number
  }
  const attempts = int(o.attempts, 'attempts', 1, MAX_ATTEMPTS, Number.NaN)
  if (Number.isNaN(attempts)) fail(`${field}.attempts`, 'is required')
  const baseDelayMs = int(o.baseDelayMs, 'baseDelayMs', 0, MAX_DELAY_MS, 100)
  const maxDelayMs = int(o.maxDelayMs, 'maxDelayMs', 0, MAX_DELAY_MS, 2_000)
  if (maxDelayMs < baseDelayMs) fail(`${field}.maxDelayMs`, 'must be at least baseDelayMs')
  return Object.freeze({ attempts, baseDelayMs, maxDelayMs })
}

/** Operations that change nothing: repeating them is always safe. */
const READ_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>(['key.get', 'key.list', 'policy.get', 'system.health', 'system.attestation', 'audit.read'])

/**
 * Whether a request may be sent again after a failure that leaves its fate unknown: reads always, anything else
 * only with an idempotency key (the enclave answers a repeat with the first answer, and a restarted enclave
 * signs the same payload to the same bytes: signing is deterministic). A sign without one is never repeated —
 * it may have been signed already, and a second signature of a transaction the app rebuilds could be broadcast.
 */
export function isRepeatable(op: Operation, params: unknown): boolean {
  if (READ_OPERATIONS.has(op)) return true
  const key = (params as { idempotencyKey?: unknown } | null)?.idempotencyKey
  return typeof key === 'string' && key.length > 0
}

/**
 * Whether an error may pass on its own: the transport could not reach the enclave or got no answer in time
 * (TIMEOUT, UNAVAILABLE — which is also what an unsigned error answer becomes), or the enclave said so in a
 * signed answer (`retryable`). An integrity or attestation failure is never retried: it is evidence, not bad luck.
 */
export function isRetryableFailure(error: unknown): boolean {
  if (isCustodyError(error, 'TIMEOUT') || isCustodyError(error, 'UNAVAILABLE')) return true
  if (isCustodyError(error, 'INTEGRITY_ERROR') || isCustodyError(error, 'ATTESTATION_FAILED')) return false
  return isCustodyError(error) && error.retryable
}

/** The wait before retry `retry` (1-based): exponential with full jitter, capped. */
export function retryDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1))
  return Math.floor(random() * ceiling)
}
