import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { type AuditLogReceipt, type AuditSegment, verifyAuditLog, type VerifyAuditLogReturnType } from '@enclave-custody/sdk'
import { z } from 'zod'
import { CommandFailure, type OptionSpec, UsageError } from './cliOptions.js'
import { DEBUG_PCR0, devOption, pcr0List, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { readAttestationRoots } from './readAttestationRoots.js'
import { readReceiptsFile } from './receiptsFile.js'

export type VerifyAuditLogTextParameters = {
  /** The log as stored: one JSON event a line (the parent proxy's `--audit-log` file). */
  text: string
  /** Allowed PCR0 values of the enclaves whose boots the log holds. */
  pcr0: readonly string[]
  /** Attestation roots, PEM. @default the AWS Nitro root */
  roots?: readonly string[] | undefined
  /** Accept debug-mode enclaves (PCR0 all zero). @default false */
  allowDebugEnclave?: boolean | undefined
  /** Receipts kept by the clients (`--receipts`): each must be matched by an event in the log. */
  receipts?: readonly AuditLogReceipt[] | undefined
}

/**
 * Verify an audit log given as JSON-lines text with `verifyAuditLog`, so that each break names its line of
 * the text: a line that is not JSON is a break at that line (unless an earlier line already broke the chain);
 * a receipt the log does not hold is a break at the line after the last.
 *
 * @example
 * const report = verifyAuditLogText({ text: await readFile('audit.jsonl', 'utf8'), pcr0: [pcr0], roots, receipts })
 * if (!report.ok) console.error(`line ${report.error.line}: ${report.error.reason}`)
 */
export function verifyAuditLogText({ text, pcr0, roots, allowDebugEnclave, receipts }: VerifyAuditLogTextParameters): VerifyAuditLogReturnType {
  const policy = { pcr0, ...(roots === undefined ? {} : { roots }), ...(allowDebugEnclave === undefined ? {} : { allowDebugEnclave }) }
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const events: unknown[] = []
  for (const [i, raw] of lines.entries()) {
    try {
      events.push(JSON.parse(raw.endsWith('\r') ? raw.slice(0, -1) : raw))
    } catch {
      // The first break wins: the lines before this one are verified first.
      const before = verifyAuditLog({ events, ...policy })
      if (!before.ok) return before
      return { ok: false, error: { line: i + 1, reason: 'the line is not JSON (edited, or cut by a partial write)' }, segments: before.segments }
    }
  }
  return verifyAuditLog({ events, ...policy, ...(receipts === undefined ? {} : { receipts }) })
}

/** `audit log broken at line L (seq S): reason`. */
export function describeAuditBreak({ line, seq, reason }: { line: number; seq?: number; reason: string }): string {
  return `audit log broken at line ${line}${seq === undefined ? '' : ` (seq ${seq})`}: ${reason}`
}

/** `1 event`, `2 events`. */
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`

/** One line per boot segment: its response key and PCR0 (prefixes), its events and last seq. */
function formatSegment(segment: AuditSegment, index: number): string {
  return `boot ${index + 1} (line ${segment.line})  response key ${segment.responseKeyId.slice(0, 18)}…  PCR0 ${segment.pcr0.slice(0, 16)}…  ${count(segment.events, 'event')}, last seq ${segment.lastSeq}`
}

const auditOptions = {
  pcr0: {
    flag: 'pcr0',
    env: 'CUSTODY_PCR0',
    value: 'hex[,hex…]',
    help: 'allowed PCR0 of the enclaves whose boots the log holds, comma-separated',
    multiple: true,
    schema: pcr0List,
    required: true,
  },
  attestationRoot: { ...proxyOptions.attestationRoot, help: 'PEM root(s) the boot attestations must chain to (default: the AWS Nitro root)' },
  receipts: {
    flag: 'receipts',
    env: 'CUSTODY_RECEIPTS_FILE',
    value: 'file',
    help: 'receipts kept by the key commands (their --receipts): each must be in the log',
    schema: z.string().min(1).optional(),
  },
  allowDebugEnclave: { flag: 'allow-debug-enclave', boolean: true, help: 'accept boots of debug-mode enclaves (all-zero PCR0, attests any code)', schema: z.boolean().default(false) },
  json: { flag: 'json', boolean: true, help: 'print the report as JSON', schema: z.boolean().default(false) },
  dev: { ...devOption, help: 'verify the log of `custody dev --data-dir <dir>` (its PCR0, root, audit.jsonl and receipts.jsonl)' },
} satisfies Record<string, OptionSpec>

export const auditCommand = defineCommand({
  name: 'audit',
  summary: "verify the enclave's signed audit log",
  usage: 'custody audit verify [<file>] --pcr0 <hex>[,<hex>…] [--attestation-root <pem-file>] [--receipts <file>]\n       [--allow-debug-enclave] [--json] [--dev <dir>]',
  description:
    "Verifies a JSON-lines audit log (the parent proxy's --audit-log file) offline: each boot's attestation (PCR0 in\n--pcr0, chain to --attestation-root or the AWS Nitro root) and the hash chain and signatures of its events;\nwith --receipts, that the log holds every receipted event. Prints one line per boot and a total, exit 0; on\nthe first break prints `audit log broken at line L (seq S): <reason>`, exit 1. --dev <dir> takes the log,\nreceipts, PCR0 and root of a running `custody dev`.",
  positionals: [
    { name: 'action', help: '"verify" (the only action)', schema: z.enum(['verify'], { error: 'must be "verify"' }) },
    { name: 'file', help: 'the audit log, one JSON event a line (default with --dev: <dir>/audit.jsonl)', schema: z.string().min(1), optional: true },
  ],
  options: auditOptions,
  async run({ options: o, positionals: [, fileArgument], io, devEnv }) {
    const file = (fileArgument as string | undefined) ?? devEnv?.CUSTODY_AUDIT_LOG
    if (file === undefined) throw new UsageError('<file> is required (or --dev <dir> of a running `custody dev`)')
    if (o.pcr0.includes(DEBUG_PCR0) && !o.allowDebugEnclave) throw new UsageError('--pcr0 holds the all-zero PCR0 of a debug-mode enclave; add --allow-debug-enclave to accept it')
    const roots = o.attestationRoot === undefined ? undefined : await readAttestationRoots(o.attestationRoot, io)
    // The default receipts file of --dev exists only once a command wrote a receipt.
    const receipts = o.receipts === undefined ? undefined : await readReceiptsFile(o.receipts, io, { missingOk: o.receipts === devEnv?.CUSTODY_RECEIPTS_FILE })
    let text: string
    try {
      text = await readFile(resolve(io.cwd, file), 'utf8')
    } catch (e) {
      throw new UsageError(`<file>: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    const report = verifyAuditLogText({ text, pcr0: o.pcr0, roots, allowDebugEnclave: o.allowDebugEnclave, receipts })
    if (o.json) io.stdout(`${JSON.stringify(report)}\n`)
    if (!report.ok) throw new CommandFailure(describeAuditBreak(report.error))
    if (!o.json) {
      const lines = report.segments.map(formatSegment)
      lines.push(`verified ${count(report.events, 'event')}, ${count(report.receipts, 'receipt')}`)
      io.stdout(`${lines.join('\n')}\n`)
    }
    return 0
  },
})
