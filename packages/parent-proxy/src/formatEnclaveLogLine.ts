/** Longest string value printed; longer ones are cut with "…". */
export const MAX_ENCLAVE_LOG_STRING_CHARS = 1024

/** Most fields printed from one line (the rest are dropped). */
const MAX_FIELDS = 40

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/

/**
 * Turn one line that arrived on the enclave's log channel into one line safe to print on the parent: the
 * input is untrusted (whatever reached the parent's log port, enclave or not), so it is parsed as JSON,
 * rebuilt from at most 40 fields whose names are identifiers and whose values are strings (cut at
 * {@link MAX_ENCLAVE_LOG_STRING_CHARS}), finite numbers, booleans, null or a flat object of those, and
 * re-serialised as pure ASCII: every character outside 0x20..0x7E, including ESC and the C1 controls a
 * terminal would act on, DEL, line separators and all non-ASCII, is written as a `\u` escape. The result
 * is one line of valid JSON that starts with `"source":"enclave"` (set here; a field of that name in the
 * input is dropped) and the receive time.
 *
 * @param line - One line, without its newline.
 * @param receivedAt - When it arrived (ms since the epoch).
 * @returns The line to print (no newline), or `undefined` when it is not a JSON object.
 * @example
 * import { formatEnclaveLogLine } from './formatEnclaveLogLine.js'
 * formatEnclaveLogLine('{"level":"info","msg":"\u001b[2Jhi"}', 0)
 * // '{"source":"enclave","receivedAt":0,"level":"info","msg":"\\u001b[2Jhi"}'
 */
export function formatEnclaveLogLine(line: string, receivedAt: number): string | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const out: Record<string, unknown> = { source: 'enclave', receivedAt }
  let fields = 0
  for (const [name, value] of Object.entries(parsed)) {
    if (fields >= MAX_FIELDS) break
    if (!FIELD_NAME.test(name) || name === 'source' || name === 'receivedAt') continue
    const kept = isFlatObject(value) ? flatObject(value) : primitive(value)
    if (kept === undefined) continue
    out[name] = kept
    fields += 1
  }
  return asciiJson(out)
}

/** JSON with every character outside printable ASCII escaped (valid JSON: they occur only inside strings). */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function primitive(value: unknown): string | number | boolean | null | undefined {
  if (typeof value === 'string') return value.length > MAX_ENCLAVE_LOG_STRING_CHARS ? `${value.slice(0, MAX_ENCLAVE_LOG_STRING_CHARS)}…` : value
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'boolean' || value === null) return value
  return undefined
}

function isFlatObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function flatObject(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, inner] of Object.entries(value).slice(0, 16)) {
    if (!FIELD_NAME.test(name)) continue
    const kept = primitive(inner)
    if (kept !== undefined) out[name] = typeof kept === 'string' && kept.length > 128 ? `${kept.slice(0, 128)}…` : kept
  }
  return out
}
