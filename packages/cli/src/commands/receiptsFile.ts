import { writeSync } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { AuditLogReceipt, AuditReceipt } from '@enclave-custody/sdk'
import type { CliIo } from './cliIo.js'
import { UsageError } from './cliOptions.js'

/** File name of the receipts `custody dev`'s dev.env points the commands to (`CUSTODY_RECEIPTS_FILE`). */
export const DEV_RECEIPTS_FILE = 'receipts.jsonl'

/** An open receipts file: `append` is the client's `onReceipt`. */
export type ReceiptsFile = { append(receipt: AuditReceipt): void; close(): Promise<void> }

/**
 * Open `--receipts <file>` for appending (created with mode 0600): each verified answer's audit receipt
 * becomes one JSON line `{ responseKeyId, auditSeq, auditHead, op, requestDigest }`, written at once, so the
 * receipts of a command that fails halfway are kept. A write that fails warns once on stderr (the answer
 * itself is not lost).
 *
 * @param file - the path as given (relative to `io.cwd`)
 * @throws UsageError naming the flag when the file cannot be opened
 */
export async function openReceiptsFile(file: string, io: CliIo): Promise<ReceiptsFile> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(resolve(io.cwd, file), 'a', 0o600)
  } catch (e) {
    throw new UsageError(`--receipts: cannot open ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let warned = false
  return {
    append({ responseKeyId, auditSeq, auditHead, op, requestDigest }) {
      try {
        writeSync(handle.fd, `${JSON.stringify({ responseKeyId, auditSeq, auditHead, op, requestDigest })}\n`)
      } catch (e) {
        if (!warned) io.stderr(`warning: cannot write the receipt to ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})\n`)
        warned = true
      }
    },
    close: () => handle.close(),
  }
}

const HEX32 = /^0x[0-9a-f]{64}$/

/**
 * Read a receipts file (`--receipts` of the key commands): one JSON receipt a line, blank lines skipped.
 *
 * @param file - the path as given (relative to `io.cwd`)
 * @param missingOk - a file that does not exist is no receipts (the default file of `--dev`, before any command wrote one)
 * @throws UsageError naming the flag and the line for an unreadable file or a line that is not a receipt
 */
export async function readReceiptsFile(file: string, io: CliIo, { missingOk = false }: { missingOk?: boolean } = {}): Promise<AuditLogReceipt[]> {
  let text: string
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && missingOk) return []
    throw new UsageError(`--receipts: cannot read ${file} (${code ?? 'error'})`)
  }
  const receipts: AuditLogReceipt[] = []
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      value = undefined
    }
    const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
    if (typeof r.responseKeyId !== 'string' || !HEX32.test(r.responseKeyId) || typeof r.auditSeq !== 'number' || !Number.isSafeInteger(r.auditSeq) || r.auditSeq < 0 || typeof r.auditHead !== 'string' || !HEX32.test(r.auditHead)) {
      throw new UsageError(`--receipts: line ${i + 1} of ${file} is not a receipt ({ responseKeyId, auditSeq, auditHead })`)
    }
    receipts.push({ responseKeyId: r.responseKeyId as AuditLogReceipt['responseKeyId'], auditSeq: r.auditSeq, auditHead: r.auditHead as AuditLogReceipt['auditHead'] })
  }
  return receipts
}
