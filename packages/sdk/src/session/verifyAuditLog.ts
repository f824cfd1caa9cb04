import { verifyP256 } from '../auth/p256.js'
import { verifyAttestationDocument } from '../attestation/verifyAttestationDocument.js'
import { assertObject, fail } from '../utils/assert.js'
import { bytesToHex, type Hex, hexToBytes } from '../utils/hex.js'
import { checkAttestationPolicy } from './attestEnclave.js'
import { AUDIT_GENESIS, type AuditEvent, auditEventBytes, auditEventHash } from './auditEvent.js'
import { responseKeyIdOf } from './responseSignature.js'
import { attestationUserData, parseTrustConfiguration, type TrustConfiguration } from './trust.js'

/** A response receipt as the SDK reports it (`onReceipt`): where the audit chain stood after a request. */
export type AuditLogReceipt = { responseKeyId: Hex; auditSeq: number; auditHead: Hex }

export type VerifyAuditLogParameters = {
  /** The log's events in stored order (one JSON object per line of the parent's file). */
  events: readonly unknown[]
  /** Allowed PCR0 values of the enclaves whose segments the log holds. */
  pcr0: readonly string[]
  /** Attestation roots, PEM. @default the AWS Nitro root */
  roots?: readonly string[]
  /** Accept debug-mode enclaves (PCR0 all zero). @default false */
  allowDebugEnclave?: boolean
  /** Receipts the SDK kept: each must be matched by an event in the log (a truncated tail fails here). */
  receipts?: readonly AuditLogReceipt[]
}

/** One boot of one enclave: its attested response key and the events it signed. */
export type AuditSegment = {
  responseKeyId: Hex
  pcr0: string
  moduleId: string
  trust: TrustConfiguration
  /** Line (1-based) of the boot event. */
  line: number
  events: number
  lastSeq: number
  head: Hex
}

export type VerifyAuditLogReturnType =
  | { ok: true; segments: AuditSegment[]; events: number; receipts: number }
  | {
      ok: false
      /** The first break: its line (1-based; for a receipt, the line count + 1), seq when known, and why. */
      error: { line: number; seq?: number; reason: string }
      /** Segments verified before the break. */
      segments: AuditSegment[]
    }

type Segment = AuditSegment & { publicKey: Uint8Array; seqs: Map<number, Hex> }

/**
 * Verify an enclave audit log offline: every segment starts with a `boot` event (seq 0, genesis `prev`)
 * whose attestation document verifies (roots, PCR0 allowlist, `user_data` binding its trust configuration
 * and HPKE key) and attests the key that signs the segment; every later event has the next seq, names the
 * previous event's hash and carries that key's signature. With receipts, each receipt's event must be in the
 * log with the receipt's hash, so a log cut short after a request the SDK saw is named. The first break
 * is reported, never fixed up. A response key's segment appears once: a second boot event of the same key is a
 * break (a repeated segment would inflate the counts).
 *
 * What it cannot show: events the enclave made after the last receipt and the parent dropped (keep receipts),
 * and that the log holds every boot (a segment nobody holds a receipt of can vanish whole).
 *
 * @throws InvalidArgumentError on malformed parameters (not on a malformed log: that is a break).
 * @example
 * const report = verifyAuditLog({ events: lines.map((l) => JSON.parse(l)), pcr0: [pcr0], receipts })
 * if (!report.ok) console.error(`line ${report.error.line}: ${report.error.reason}`)
 */
export function verifyAuditLog(parameters: VerifyAuditLogParameters): VerifyAuditLogReturnType {
  const p = assertObject(parameters, 'parameters', ['events', 'pcr0', 'roots', 'allowDebugEnclave', 'receipts'])
  if (!Array.isArray(p.events)) fail('events', 'must be an array')
  const policy = checkAttestationPolicy({ pcr0: p.pcr0, ...(p.roots === undefined ? {} : { roots: p.roots }), ...(p.allowDebugEnclave === undefined ? {} : { allowDebugEnclave: p.allowDebugEnclave }) }, 'parameters')
  const events = p.events as unknown[]
  const segments: Segment[] = []
  let current: Segment | undefined
  let previous: AuditEvent | undefined
  const broken = (line: number, reason: string, seq?: number): VerifyAuditLogReturnType => ({
    ok: false,
    error: { line, ...(seq === undefined ? {} : { seq }), reason },
    segments: segments.map(publicSegment),
  })

  for (let i = 0; i < events.length; i++) {
    const line = i + 1
    const event = parseEvent(events[i])
    if (typeof event === 'string') return broken(line, event)
    if (event.op === 'boot') {
      const opened = openSegment(event, line, policy)
      if (typeof opened === 'string') return broken(line, opened, event.seq)
      // A response key boots once: the same segment stored twice would count its events twice.
      const earlier = segments.find((s) => s.responseKeyId === opened.responseKeyId)
      if (earlier) return broken(line, `a second segment of response key ${opened.responseKeyId.slice(0, 18)}… (its boot is at line ${earlier.line}; repeated)`, event.seq)
      current = opened
      segments.push(current)
      previous = event
      continue
    }
    if (!current || !previous) return broken(line, 'the log does not start with a boot event', event.seq)
    if (event.seq !== previous.seq + 1) {
      return broken(line, event.seq > previous.seq + 1 ? `events ${previous.seq + 1}..${event.seq - 1} are missing (deleted or moved)` : `seq ${event.seq} follows ${previous.seq} (reordered or repeated)`, event.seq)
    }
    if (event.prev !== auditEventHash(previous)) return broken(line, 'prev is not the hash of the event before (edited, reordered or spliced)', event.seq)
    if (!verifySig(event, current.publicKey)) return broken(line, 'the signature is not the segment\'s attested response key\'s (edited or re-signed)', event.seq)
    const head = auditEventHash(event)
    current.seqs.set(event.seq, head)
    current.events++
    current.lastSeq = event.seq
    current.head = head
    previous = event
  }

  const receipts = (p.receipts as AuditLogReceipt[] | undefined) ?? []
  if (!Array.isArray(receipts)) fail('receipts', 'must be an array')
  for (const [i, r] of receipts.entries()) {
    const segment = segments.find((s) => s.responseKeyId === r?.responseKeyId)
    const where = `receipt ${i + 1} (seq ${r?.auditSeq})`
    if (!segment) return broken(events.length + 1, `${where}: no segment of response key ${String(r?.responseKeyId).slice(0, 18)}… in the log (a boot segment is missing)`)
    const head = segment.seqs.get(r.auditSeq)
    if (head === undefined) return broken(events.length + 1, `${where}: the event is not in the log (truncated after seq ${segment.lastSeq})`, r.auditSeq)
    if (head !== r.auditHead) return broken(events.length + 1, `${where}: the event in the log is not the one the enclave signed the answer with`, r.auditSeq)
  }
  return { ok: true, segments: segments.map(publicSegment), events: events.length, receipts: receipts.length }
}

function publicSegment({ publicKey: _, seqs: __, ...segment }: Segment): AuditSegment {
  return segment
}

const HEX32 = /^0x[0-9a-f]{64}$/

function parseEvent(value: unknown): AuditEvent | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an event object'
  const e = value as Record<string, unknown>
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 0) return 'seq is not a non-negative integer'
  if (typeof e.prev !== 'string' || !HEX32.test(e.prev)) return 'prev is not a 32-byte hash'
  if (typeof e.op !== 'string' || typeof e.outcome !== 'string' || typeof e.time !== 'string') return 'op, outcome or time is missing'
  if (typeof e.sig !== 'string' || !/^0x[0-9a-f]{128}$/.test(e.sig)) return 'sig is not a 64-byte signature'
  return e as unknown as AuditEvent
}

function verifySig(event: AuditEvent, publicKey: Uint8Array): boolean {
  try {
    return verifyP256(hexToBytes(event.sig), auditEventBytes(event), publicKey)
  } catch {
    return false
  }
}

function openSegment(event: AuditEvent, line: number, policy: ReturnType<typeof checkAttestationPolicy>): Segment | string {
  if (event.seq !== 0 || event.prev !== AUDIT_GENESIS) return 'a boot event must have seq 0 and the genesis prev'
  if (typeof event.attestation !== 'string' || typeof event.responseKeyId !== 'string') return 'the boot event carries no attestation'
  let trust: TrustConfiguration
  try {
    trust = parseTrustConfiguration(event.trust, 'trust')
  } catch {
    return 'the boot event\'s trust configuration is malformed'
  }
  const time = new Date(event.time)
  if (Number.isNaN(time.getTime())) return 'the boot event\'s time is malformed'
  let doc: ReturnType<typeof verifyAttestationDocument>
  try {
    // Archived documents: verified at the boot's time (their leaf certificates live for hours).
    doc = verifyAttestationDocument(new Uint8Array(Buffer.from(event.attestation, 'base64')), { ...(policy.roots ? { roots: [...policy.roots] } : {}), now: time })
  } catch (e) {
    return `the boot attestation does not verify (${(e as Error).message.slice(0, 120)})`
  }
  const pcr0 = doc.pcrs[0] ?? ''
  if (pcr0 === '0'.repeat(96) && !policy.allowDebugEnclave) return 'the boot attestation is of a debug-mode enclave'
  if (!policy.pcr0.includes(pcr0)) return `the boot attestation's PCR0 ${pcr0.slice(0, 16)}… is not allowed`
  const publicKey = doc.publicKey
  if (publicKey?.length !== 65 || responseKeyIdOf(publicKey) !== event.responseKeyId) return 'the attested public key is not the boot event\'s response key'
  if (typeof event.hpkePublicKey !== 'string' || !doc.userData || bytesToHex(doc.userData) !== bytesToHex(attestationUserData({ trust, hpkePublicKey: event.hpkePublicKey }))) {
    return 'the boot attestation\'s user_data does not bind the event\'s trust configuration and HPKE key'
  }
  if (!verifySig(event, publicKey)) return 'the boot event is not signed by its attested key'
  const head = auditEventHash(event)
  return { responseKeyId: event.responseKeyId, pcr0, moduleId: doc.moduleId, trust, line, events: 1, lastSeq: 0, head, publicKey, seqs: new Map([[0, head]]) }
}
