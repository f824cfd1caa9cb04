import { closeSync, createWriteStream, fstatSync, openSync, readSync, type WriteStream } from 'node:fs'
import { type Logger, silentLogger } from '@enclave-custody/sdk/server'

export type AuditFileSink = {
  /** Append events, one JSON line each (as the enclave signed them). */
  write(events: unknown[]): void
  /**
   * The file's last event when it was opened (undefined for a new or empty file, or an unreadable last line):
   * pass it to `startParentProxy({ auditResume })` so that a restarted proxy continues the chain.
   */
  readonly last: unknown
  /** Flush and close the file. */
  close(): Promise<void>
}

/** Longest last line looked for (a boot event with its attestation document is a few KiB). */
const MAX_TAIL_BYTES = 256 * 1024

/**
 * An append-only JSON-lines file of the enclave's audit events: the dev stack's audit log, and in
 * production the file the CloudWatch agent ships. The parent only stores: the events are hash-chained
 * and signed by the enclave, so `custody audit verify` names any deletion, reordering or edit.
 */
export function createAuditFileSink(path: string, { logger = silentLogger }: { logger?: Logger } = {}): AuditFileSink {
  const last = readLastLine(path)
  const stream: WriteStream = createWriteStream(path, { flags: 'a', mode: 0o600 })
  stream.on('error', (e) => logger.error({ err: e.message }, 'audit log write failed'))
  return {
    write(events) {
      for (const event of events) stream.write(`${JSON.stringify(event)}\n`)
    },
    last,
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
  }
}

function readLastLine(path: string): unknown {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return undefined
  }
  try {
    const size = fstatSync(fd).size
    const length = Math.min(size, MAX_TAIL_BYTES)
    const buffer = Buffer.alloc(length)
    readSync(fd, buffer, 0, length, size - length)
    const lines = buffer.toString('utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    // A line cut by a crash mid-write does not parse: no resume point then (the enclave is asked instead).
    if (lines.length < (length < size ? 2 : 1)) return undefined
    return JSON.parse(lines.at(-1)!)
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}
