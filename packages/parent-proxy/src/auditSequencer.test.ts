import { AUDIT_GENESIS, type AuditEvent, auditEventHash } from '@enclave-custody/sdk/protocol'
import { describe, expect, it } from 'vitest'
import { createAuditSequencer } from './auditSequencer.js'

/** One boot's chain of `n` events (seq 0 is the boot event naming `key`), linked by hash like the enclave's. */
function chain(key: string, n: number): AuditEvent[] {
  const events: AuditEvent[] = []
  let prev = AUDIT_GENESIS
  for (let seq = 0; seq < n; seq++) {
    const body = { seq, prev, time: new Date(seq * 1000).toISOString(), op: seq === 0 ? 'boot' : 'sign.message', outcome: 'ok', ...(seq === 0 ? { responseKeyId: key } : { keyId: `k${seq}` }) }
    const event = { ...body, sig: `0x${key.slice(2, 4).repeat(64)}` } as AuditEvent
    prev = auditEventHash(event)
    events.push(event)
  }
  return events
}

/** The enclave's audit.read over a chain: the boot event and the last `keep` events with seq > after. */
const enclaveRead = (events: () => AuditEvent[], keep = 10_000) => {
  const calls: number[] = []
  const read = async (after: number, limit: number) => {
    calls.push(after)
    const all = events()
    return [all[0]!, ...all.slice(1).slice(-keep)].filter((e) => e.seq > after).slice(0, limit)
  }
  return { read, calls }
}

const K1 = `0x${'11'.repeat(32)}`
const K2 = `0x${'22'.repeat(32)}`
const seqs = (events: unknown[]) => (events as AuditEvent[]).map((e) => e.seq)
const until = async (check: () => boolean, ms = 2_000) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('createAuditSequencer', () => {
  it('writes batches that arrive out of order in seq order, and drops repeats', async () => {
    const events = chain(K1, 10)
    const stored: unknown[] = []
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), gapTimeoutMs: 60_000 })
    audit.push(events.slice(4, 7), K1)
    audit.push(events.slice(7, 10), K1)
    expect([stored.length, audit.held]).toEqual([0, 6])
    audit.push(events.slice(0, 2), K1)
    audit.push(events.slice(2, 4), K1)
    audit.push(events.slice(3, 5), K1) // repeats
    expect(seqs(stored)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(stored).toEqual(events)
    expect(audit.held).toBe(0)
    await audit.close()
  })

  it('reads a lost batch back from the enclave once the gap has stayed open', async () => {
    const events = chain(K1, 12)
    const stored: unknown[] = []
    let recorded = 9 // what the enclave has recorded so far
    const { read, calls } = enclaveRead(() => events.slice(0, recorded))
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), read, gapTimeoutMs: 30 })
    audit.push(events.slice(0, 3), K1)
    audit.push(events.slice(6, 9), K1) // 3..5 lost on the way
    expect(seqs(stored)).toEqual([0, 1, 2])
    await until(() => stored.length === 9)
    expect(calls).toEqual([2])
    recorded = 12
    audit.push(events.slice(9), K1)
    expect(stored).toEqual(events)
    await audit.close()
  })

  it('a lost first answer (the boot event): read from the start', async () => {
    const events = chain(K1, 6)
    const stored: unknown[] = []
    const { read, calls } = enclaveRead(() => events)
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), read, gapTimeoutMs: 30 })
    audit.push(events.slice(3), K1)
    await until(() => stored.length === 6)
    expect([stored, calls]).toEqual([events, [-1]])
    await audit.close()
  })

  it('after a failed request, a lost last answer is read back (catchUp), even with no later traffic', async () => {
    const events = chain(K1, 5)
    const stored: unknown[] = []
    const { read } = enclaveRead(() => events)
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), read, gapTimeoutMs: 30 })
    audit.push(events.slice(0, 3), K1)
    audit.catchUp()
    await until(() => stored.length === 5)
    expect(stored).toEqual(events)
    await audit.close()
  })

  it('a gap the enclave cannot fill (no audit.read, or evicted) is given up: held events written in order, the gap left', async () => {
    const events = chain(K1, 8)
    const stored: unknown[] = []
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), gapTimeoutMs: 20 })
    audit.push(events.slice(0, 2), K1)
    audit.push(events.slice(5, 6), K1)
    audit.push(events.slice(3, 5), K1)
    await until(() => stored.length === 5)
    expect(seqs(stored)).toEqual([0, 1, 3, 4, 5])
    audit.push(events.slice(6), K1)
    expect(seqs(stored)).toEqual([0, 1, 3, 4, 5, 6, 7])
    await audit.close()

    // The enclave keeps only its last 3 events: 2..4 are gone, 5 on is read back.
    const stored2: unknown[] = []
    const { read } = enclaveRead(() => events, 3)
    const audit2 = createAuditSequencer({ sink: (e) => stored2.push(...e), read, gapTimeoutMs: 20 })
    audit2.push(events.slice(0, 2), K1)
    audit2.push(events.slice(7), K1)
    await until(() => stored2.length === 5)
    expect(seqs(stored2)).toEqual([0, 1, 5, 6, 7])
    await audit2.close()
  })

  it('holds at most maxHeld events: at the cap the gap is filled at once (and given up past twice the cap)', async () => {
    const events = chain(K1, 30)
    const stored: unknown[] = []
    const { read, calls } = enclaveRead(() => events)
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), read, gapTimeoutMs: 60_000, maxHeld: 5 })
    audit.push(events.slice(0, 1), K1)
    for (let i = 2; i < 30; i++) {
      audit.push(events.slice(i, i + 1), K1)
      expect(audit.held).toBeLessThanOrEqual(5)
      await new Promise((r) => setImmediate(r))
    }
    await until(() => stored.length === 30)
    expect(stored).toEqual(events)
    expect(calls).toEqual([0])
    await audit.close()

    // An enclave that does not answer: the gap is given up at twice the cap, nothing held beyond it.
    const stored2: unknown[] = []
    const hung = createAuditSequencer({ sink: (e) => stored2.push(...e), read: () => new Promise(() => {}), gapTimeoutMs: 60_000, maxHeld: 5 })
    hung.push(events.slice(0, 1), K1)
    for (let i = 2; i < 30; i++) {
      hung.push(events.slice(i, i + 1), K1)
      expect(hung.held).toBeLessThan(10)
    }
    expect(seqs(stored2)).toEqual([0, ...seqs(events.slice(2))])
  })

  it('a new response key (the enclave restarted): the old boot\'s held events are written, the new chain starts at its boot', async () => {
    const one = chain(K1, 6)
    const two = chain(K2, 4)
    const stored: unknown[] = []
    const { read } = enclaveRead(() => two)
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), read, gapTimeoutMs: 30 })
    audit.push(one.slice(0, 2), K1)
    audit.push(one.slice(4), K1) // 2..3 died with the old enclave
    audit.push(two.slice(2), K2) // the new boot's first answer is late
    expect(seqs(stored)).toEqual([0, 1, 4, 5])
    audit.push(two.slice(0, 2), K2)
    expect(stored).toEqual([...one.slice(0, 2), ...one.slice(4), ...two])
    // The new enclave's events never join the old chain, even when read back.
    await audit.close()
  })

  it('events read back from a restarted enclave are not taken for the old boot\'s', async () => {
    const one = chain(K1, 8)
    const two = chain(K2, 8)
    const stored: unknown[] = []
    const { read } = enclaveRead(() => two) // the enclave restarted; the proxy has not seen its answers yet
    const audit = createAuditSequencer({ sink: (e) => stored.push(...e), read, gapTimeoutMs: 20 })
    audit.push(one.slice(0, 3), K1)
    audit.push(one.slice(5, 6), K1)
    await until(() => stored.length === 4)
    expect(stored).toEqual([...one.slice(0, 3), one[5]])
    await audit.close()
  })

  it('resumes after the stored tail (a restarted proxy), without storing the boot twice; another boot\'s tail is not resumed', async () => {
    const events = chain(K1, 10)
    const stored: unknown[] = []
    const { read } = enclaveRead(() => events)
    // The next answer links to the tail: no read.
    const a = createAuditSequencer({ sink: (e) => stored.push(...e), read: async () => Promise.reject(new Error('unexpected read')), resume: events[5] })
    a.push(events.slice(6, 8), K1)
    expect(stored).toEqual(events.slice(6, 8))
    await a.close()
    // The next answer does not link (6 was lost): the enclave is asked whether the tail is this boot's.
    stored.length = 0
    const b = createAuditSequencer({ sink: (e) => stored.push(...e), read, resume: events[5], gapTimeoutMs: 20 })
    b.push(events.slice(7, 9), K1)
    await until(() => stored.length === 4)
    expect(stored).toEqual(events.slice(6, 10))
    await b.close()
    // The tail is of an earlier boot: the new boot is stored from its boot event.
    stored.length = 0
    const other = chain(K2, 10)
    const c = createAuditSequencer({ sink: (e) => stored.push(...e), read, resume: other[5], gapTimeoutMs: 20 })
    c.push(events.slice(7, 9), K1)
    await until(() => stored.length === 10)
    expect(stored).toEqual(events)
    await c.close()
  })
})
