import { createHash } from 'node:crypto'
import { type AuditEvent, AUDIT_GENESIS, auditEventBytes, type Hex } from '@enclave-custody/sdk/protocol'
import type { EnclaveIdentity } from '../identity/createEnclaveIdentity.js'

/** What the handler records for one request. */
export type AuditRecord = Pick<AuditEvent, 'op' | 'outcome' | 'keyId' | 'requestDigest' | 'apiKey' | 'approvers' | 'rule' | 'policyVersion' | 'policyDigest'>

export type AuditLog = {
  /** Append an event (hash-chained, signed by the response key); returns its receipt. */
  record(entry: AuditRecord): { seq: number; head: Hex }
  /** Take the events not yet handed to the parent (oldest first). */
  drain(): AuditEvent[]
  /**
   * The kept events with seq > `after`, oldest first (at most `limit`): the boot event always, and the last
   * `keep` events. Lets the parent fill a gap (an answer lost on its way) without trusting anything new.
   */
  read(after: number, limit: number): AuditEvent[]
  /** Events dropped because the parent did not collect them (the verifier sees the gap). */
  readonly dropped: number
}

export type CreateAuditLogParameters = {
  identity: EnclaveIdentity
  /** @default () => new Date() */
  now?: () => Date
  /** Events kept until the parent collects them; beyond, the oldest are dropped. @default 10_000 */
  maxPending?: number
  /** Recent events kept for `read` (besides the boot event). @default 10_000 */
  keep?: number
}

/**
 * The enclave's audit chain for this boot: a `boot` event holding the attestation document of the response
 * key, then one event per stamped request (served or refused), each naming the hash of the one before and
 * signed by the response key. The parent stores what it collects; it can drop or reorder events but not
 * forge, edit or re-sign them, and a response's receipt (`auditSeq`, `auditHead`) exposes a truncated tail.
 */
export async function createAuditLog({ identity, now = () => new Date(), maxPending = 10_000, keep = 10_000 }: CreateAuditLogParameters): Promise<AuditLog> {
  const pending: AuditEvent[] = []
  const recent: AuditEvent[] = []
  let boot: AuditEvent | undefined
  let seq = 0
  let head: Hex = AUDIT_GENESIS
  let dropped = 0
  const append = (body: Omit<AuditEvent, 'sig' | 'seq' | 'prev' | 'time'>): { seq: number; head: Hex } => {
    const unsigned = { seq, prev: head, time: now().toISOString(), ...body }
    // One canonical encoding per event: its signature and its hash (the next `prev`) are over the same bytes.
    const bytes = auditEventBytes(unsigned)
    const event: AuditEvent = { ...unsigned, sig: identity.sign(bytes) }
    head = `0x${createHash('sha256').update(bytes).digest('hex')}`
    const receipt = { seq, head }
    seq++
    pending.push(event)
    if (boot === undefined) boot = event
    else {
      recent.push(event)
      if (recent.length > keep) recent.shift()
    }
    if (pending.length > maxPending) {
      pending.shift()
      dropped++
    }
    return receipt
  }
  const { document } = await identity.attest()
  append({ op: 'boot', outcome: 'ok', responseKeyId: identity.responseKeyId, attestation: document, trust: identity.trust, hpkePublicKey: identity.hpkePublicKey })
  return {
    // Only the fields present: an absent field is left out of the signed bytes, never written as null.
    record: (entry) => append(Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as AuditRecord),
    drain: () => pending.splice(0, pending.length),
    read: (after, limit) => [boot!, ...recent].filter((e) => e.seq > after).slice(0, limit),
    get dropped() {
      return dropped
    },
  }
}
