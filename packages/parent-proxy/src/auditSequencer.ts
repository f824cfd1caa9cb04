import { AUDIT_GENESIS, type AuditEvent, auditEventHash } from '@enclave-custody/sdk/protocol'
import { type Logger, silentLogger } from '@enclave-custody/sdk/server'

export type AuditSequencerOptions = {
  /** Where the events go: each boot's events in seq order (one call per run of consecutive events). */
  sink: (events: unknown[]) => void
  /**
   * The enclave's kept events with seq > `after`, oldest first, at most `limit` (its `audit.read`). Fills a
   * gap left by a lost answer; without it a gap is given up after `gapTimeoutMs`.
   */
  read?: (after: number, limit: number) => Promise<unknown[]>
  /** How long a gap may stay open before the missing events are read from the enclave. @default 2_000 */
  gapTimeoutMs?: number
  /**
   * Events held behind a gap: at this many the gap is filled at once; while that read runs, up to twice as
   * many are held, then the gap is given up. @default 10_000
   */
  maxHeld?: number
  /** Events per `read`. @default 1_000 */
  readLimit?: number
  /**
   * The last event the sink already holds (e.g. the audit file's last line): a restarted proxy continues its
   * chain instead of storing the enclave's kept events a second time.
   */
  resume?: unknown
  logger?: Logger
}

export type AuditSequencer = {
  /** The audit events of one enclave answer, and the response key that signed the answer (`sig.keyId`). */
  push(events: readonly unknown[], responseKeyId?: unknown): void
  /** An answer may have been lost (a request failed): read what the enclave kept after the last stored event. */
  catchUp(): void
  /** Events held behind a gap. */
  readonly held: number
  /** Fill what can be filled, write what is held (in seq order, gaps left visible), stop the timers. */
  close(): Promise<void>
}

const RETIRED_KEYS = 16
const MAX_READ_ROUNDS = 64
/** Reads in a row that leave a gap open before it is given up. */
const MAX_STALLS = 3

/**
 * Puts the enclave's audit events in order before they are stored. The enclave hands its pending events to
 * whichever answer it builds next, and answers come back over several pool connections, so batch k+1 can
 * arrive before batch k; an answer can also be lost (it timed out here, its connection dropped). Events of
 * one boot (one response key) are written in seq order: early ones wait (bounded) for the gap to fill, and
 * a gap that stays open is read from the enclave (`audit.read`), which keeps the boot event and its last
 * 10,000 events. What the enclave no longer has is given up: the held events are written with the gap,
 * which `verifyAuditLog` names. A new response key means the enclave restarted: the previous boot's held
 * events are written and its chain is closed.
 *
 * The events are the enclave's, signed and chained: nothing here can make a bad log verify, only keep a good
 * one from being stored out of order.
 */
export function createAuditSequencer({ sink, read, gapTimeoutMs = 2_000, maxHeld = 10_000, readLimit = 1_000, resume, logger = silentLogger }: AuditSequencerOptions): AuditSequencer {
  /** Response key of the chain being written; undefined before the first event. */
  let key: string | undefined
  /** Seq of the next event to write; undefined while a resumed chain's start is being worked out. */
  let next: number | undefined = 0
  /** The last event written of this chain (its hash is the next event's `prev`). */
  let last: AuditEvent | undefined
  const held = new Map<number, AuditEvent>()
  const retired: string[] = []
  let timer: NodeJS.Timeout | undefined
  let filling: Promise<void> | undefined
  let wanted = false
  let stalls = 0
  /** A read was asked for by `catchUp`. */
  let readDue = false
  let closed = false
  let resumeFrom = isEvent(resume) ? resume : undefined

  const write = (events: unknown[]) => {
    if (events.length === 0) return
    try {
      sink(events)
    } catch (e) {
      logger.error({ err: (e as Error)?.message }, 'audit sink failed')
    }
  }
  const headOf = () => (last ? auditEventHash(last) : AUDIT_GENESIS)

  /** Write held events from `next` on while they are consecutive. */
  const drain = () => {
    if (next === undefined) return
    const out: AuditEvent[] = []
    for (let e = held.get(next); e; e = held.get(next)) {
      held.delete(next)
      out.push(e)
      last = e
      next++
    }
    write(out)
    // The gap closed: no read needed, unless one was asked for (a failed request may have lost the newest events).
    if (held.size === 0 && !readDue) stopTimer()
  }

  /** Give the gap up: write what is held in seq order (the verifier names the gap), and carry on after it. */
  const giveUp = (reason: string) => {
    if (held.size === 0) return
    const events = [...held.values()].sort((a, b) => a.seq - b.seq)
    held.clear()
    stopTimer()
    logger.warn({ responseKeyId: key, missingFrom: next, missingTo: events[0]!.seq - 1, written: events.length, reason }, 'audit events missing: gap left in the stored log')
    write(events)
    last = events.at(-1)
    next = last!.seq + 1
  }

  const stopTimer = () => {
    if (timer) clearTimeout(timer)
    timer = undefined
  }
  const schedule = (ms: number) => {
    if (timer || closed) return
    timer = setTimeout(() => {
      timer = undefined
      void fill()
    }, ms)
    timer.unref?.()
  }

  /** Start writing the chain of response key `k` (the enclave restarted, or this is the first event seen). */
  const switchTo = (k: string, incoming: readonly AuditEvent[]) => {
    if (key !== undefined) {
      giveUp('the enclave restarted')
      retired.push(key)
      if (retired.length > RETIRED_KEYS) retired.shift()
    }
    const first = key === undefined
    key = k
    held.clear()
    next = 0
    last = undefined
    const r = first ? resumeFrom : undefined
    resumeFrom = undefined
    if (!r || incoming.some(isBoot)) return // fresh boot: from its boot event
    if (isBoot(r)) {
      if (r.responseKeyId === k) [next, last] = [1, r]
      return
    }
    // Does the stored tail belong to this boot? Its successor names its hash; else the enclave is asked.
    if (incoming.some((e) => e.seq === r.seq + 1 && e.prev === auditEventHash(r))) [next, last] = [r.seq + 1, r]
    else {
      next = undefined
      last = r
    }
  }

  /** Take events of the current chain: old ones are repeats, the next are written, later ones wait. */
  const accept = (events: readonly AuditEvent[]) => {
    for (const e of events) {
      if (next !== undefined && e.seq < next) continue
      if (!held.has(e.seq)) held.set(e.seq, e)
    }
    drain()
    if (held.size === 0) return
    if (held.size >= maxHeld) {
      if (!filling) void fill()
      else if (held.size >= 2 * maxHeld) giveUp(`${held.size} events held`)
    } else if (next === undefined) void fill()
    else schedule(gapTimeoutMs)
  }

  const push = (raw: readonly unknown[], responseKeyId?: unknown) => {
    const events: AuditEvent[] = []
    for (const e of raw) {
      if (isEvent(e)) events.push(e)
      else {
        logger.warn({}, 'malformed audit event from the enclave: stored as is')
        write([e])
      }
    }
    if (events.length === 0) return
    const boot = events.find(isBoot)
    const k = typeof responseKeyId === 'string' ? responseKeyId : (boot?.responseKeyId ?? key)
    if (k === undefined) {
      logger.warn({}, 'audit events of no known boot: stored as is')
      write(events)
      return
    }
    if (k !== key) {
      if (retired.includes(k)) {
        logger.warn({ responseKeyId: k, events: events.length }, 'audit events of a previous boot arrived late: stored out of place')
        write(events)
        return
      }
      switchTo(k, events)
    }
    accept(events)
  }

  /** An event read back is the one held (or written) at its seq. */
  const same = (a: AuditEvent | undefined, b: AuditEvent | undefined) => a !== undefined && b !== undefined && auditEventHash(a) === auditEventHash(b)

  /**
   * Events the enclave read back. One answer comes from one enclave process, so they are one boot's; whose:
   * a boot event names its key, otherwise they must link to this chain (the event at `next - 1` is the last
   * written, the one at `next` names its hash, or one of them is an event held here, whose answer was
   * signed by this chain's key). Events that do not link are another boot's (the enclave restarted): left.
   */
  const readBack = (raw: readonly unknown[]): 'ok' | 'foreign' => {
    const events = raw.filter(isEvent)
    const boot = events.find(isBoot)
    if (boot) {
      if (boot.responseKeyId !== key) {
        if (retired.includes(boot.responseKeyId!)) return 'foreign'
        switchTo(boot.responseKeyId!, events)
      }
      accept(events)
      return 'ok'
    }
    if (key === undefined) return 'foreign'
    if (next === undefined) {
      // A resumed chain: is the stored tail (`last`) this boot's? (When the enclave no longer keeps it, assume so.)
      const r = last!
      const there = events.find((e) => e.seq === r.seq)
      const ours = there ? same(there, r) : events.length > 0 && events[0]!.seq > r.seq
      next = ours ? r.seq + 1 : 0
      if (!ours) last = undefined
      logger.info({ responseKeyId: key, from: next }, ours ? 'audit log resumed after the stored tail' : 'audit log: the stored tail is another boot\'s')
      if (ours) accept(events)
      else drain()
      return 'ok'
    }
    const before = events.find((e) => e.seq === next! - 1)
    const at = events.find((e) => e.seq === next)
    if (events.length === 0) return 'ok'
    const links = before ? same(before, last) : at ? at.prev === headOf() : events.some((e) => same(e, held.get(e.seq)))
    if (!links) return 'foreign'
    const first = events.reduce((m, e) => Math.min(m, e.seq), Number.POSITIVE_INFINITY)
    if (first > next) {
      // The enclave no longer keeps events next..first-1 (it keeps its last 10,000): that gap stays.
      logger.warn({ responseKeyId: key, missingFrom: next, missingTo: first - 1 }, 'audit events missing: gap left in the stored log')
      for (const seq of held.keys()) if (seq < first) held.delete(seq)
      next = first
      last = undefined
    }
    accept(events)
    return 'ok'
  }

  /** Read from the enclave until the gap is filled and its end reached; then give up what is still missing. */
  const fill = (): Promise<void> => {
    if (filling) {
      wanted = true
      return filling
    }
    stopTimer()
    readDue = false
    filling = (async () => {
      for (let round = 0; read && round < MAX_READ_ROUNDS; round++) {
        const resuming = next === undefined
        const before = next
        const after = resuming ? last!.seq - 1 : next! - 1
        const limit = resuming ? 1 : readLimit
        let events: unknown
        try {
          events = await read(after, limit)
        } catch (e) {
          logger.warn({ err: (e as Error)?.message }, 'audit.read failed')
          break
        }
        if (!Array.isArray(events) || readBack(events) === 'foreign') break
        if (resuming) continue
        if (events.length < limit || next === before) break // the enclave's end, or nothing more it can give
      }
      if (next === undefined) {
        // Undecided (no answer from the enclave): most likely a proxy restarted under a running enclave.
        next = last!.seq + 1
        drain()
      }
      // Still a gap: events recorded after the read, on their way; or the enclave cannot be read. A few
      // more tries, then the gap is given up.
      if (held.size === 0) stalls = 0
      else if (!read || ++stalls >= MAX_STALLS || closed) {
        stalls = 0
        giveUp(read ? 'the enclave did not fill the gap' : 'no audit.read')
      } else schedule(gapTimeoutMs)
    })().finally(() => {
      filling = undefined
      if (wanted && !closed) {
        wanted = false
        void fill()
      }
    })
    return filling
  }

  return {
    push(events, responseKeyId) {
      push(events, responseKeyId)
    },
    catchUp() {
      if (closed || !read) return
      readDue = true
      schedule(gapTimeoutMs)
    },
    get held() {
      return held.size
    },
    async close() {
      if (closed) return
      closed = true
      const due = timer !== undefined
      stopTimer()
      // A gap still open, or a read still due (after a failed request): one last look at the enclave.
      if (due || held.size > 0 || next === undefined) await fill()
      await filling
      if (next === undefined) next = last!.seq + 1
      drain()
      giveUp('closing')
    },
  }
}

function isBoot(e: AuditEvent): boolean {
  return e.op === 'boot' && e.seq === 0 && typeof e.responseKeyId === 'string'
}

function isEvent(value: unknown): value is AuditEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const e = value as Record<string, unknown>
  return Number.isSafeInteger(e.seq) && (e.seq as number) >= 0 && typeof e.prev === 'string' && typeof e.op === 'string'
}

