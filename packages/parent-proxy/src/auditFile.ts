import { createWriteStream, type WriteStream } from 'node:fs'
import { type Logger, silentLogger } from './logger.js'

export type AuditFileSink = {
  /** Append events, one JSON line each (as the enclave signed them). */
  write(events: unknown[]): void
  /** Flush and close the file. */
  close(): Promise<void>
}

/**
 * An append-only JSON-lines file of the enclave's audit events: the dev stack's audit log, and in
 * production the file the CloudWatch agent ships. The parent only stores: the events are hash-chained
 * and signed by the enclave, so `custody audit verify` names any deletion, reordering or edit.
 */
export function createAuditFileSink(path: string, { logger = silentLogger }: { logger?: Logger } = {}): AuditFileSink {
  const stream: WriteStream = createWriteStream(path, { flags: 'a', mode: 0o600 })
  stream.on('error', (e) => logger.error({ err: e.message }, 'audit log write failed'))
  return {
    write(events) {
      for (const event of events) stream.write(`${JSON.stringify(event)}\n`)
    },
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
  }
}
