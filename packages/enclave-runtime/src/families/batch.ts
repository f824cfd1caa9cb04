import type { CustodyError, WireError } from '@enclave-custody/sdk/protocol'
import type { AuditRecord } from '../audit/createAuditLog.js'

/** What one item's audit event reports besides its operation and outcome (the rule and policy that decided it). */
export type BatchItemAudit = Partial<AuditRecord>

/** One item's outcome in a `sign.batch` answer. */
export type BatchItemOutcome = { ok: true; result: unknown } | { ok: false; error: WireError }

/**
 * Run the items of a batch in order, each through `sign` (the single operation's checks, policy and signer), and
 * collect their outcomes in item order: an item that throws gets its public error in its slot and the next item
 * still runs. `audit` is called once per item, after it, with its outcome (`ok` or the error code) and the fields
 * `sign` reported. Synchronous: no other request interleaves between two items (rolling limits are charged item
 * by item, each seeing the ones before it).
 *
 * @param items - The batch's items, already validated as a list (1 to `MAX_BATCH_ITEMS`).
 * @param hooks - `sign` one item (fill `audit` with what its event reports); `audit` record an item's outcome;
 *   `publicError` map anything thrown to the error the caller may see (our own errors unchanged, others INTERNAL).
 * @returns The outcomes, one per item, in order.
 * @example
 * const results = signItems(params.items, { sign: (item, audit) => signOne(item, audit), audit: record, publicError })
 */
export function signItems<I>(
  items: readonly I[],
  hooks: {
    sign(item: I, audit: BatchItemAudit): unknown
    audit(item: I, outcome: string, fields: BatchItemAudit): void
    publicError(e: unknown): CustodyError
  },
): BatchItemOutcome[] {
  return items.map((item) => {
    const fields: BatchItemAudit = {}
    let outcome: BatchItemOutcome
    try {
      outcome = { ok: true, result: hooks.sign(item, fields) }
    } catch (e) {
      const error = hooks.publicError(e)
      outcome = { ok: false, error: error.toJSON() }
    }
    hooks.audit(item, outcome.ok ? 'ok' : outcome.error.code, fields)
    return outcome
  })
}
