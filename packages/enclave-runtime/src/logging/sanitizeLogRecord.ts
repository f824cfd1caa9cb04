/**
 * The fields a log line may carry out of the enclave, in the order they are written; every other field is
 * dropped. Each is a fixed label, a count, a duration or an identifier the parent already knows (request
 * ids, the key ARN, the region): never key material, credentials, records or request bodies. A field is
 * added here on purpose, with a reason, never by logging it.
 */
export const LOG_CHANNEL_FIELDS = [
  // pino's own
  'level',
  'time',
  'svc',
  'msg',
  // requests (handler, server)
  'reqId',
  'op',
  'code',
  'ms',
  'errName',
  'errCode',
  'why',
  'remote',
  'max',
  'host',
  'port',
  'limits',
  'signal',
  // boot
  'attestation',
  'devicePath',
  'region',
  'kmsKeyArn',
  'kmsTrust',
  // kernel RNG seeding (counts only)
  'bytes',
  'creditedBits',
  'calls',
  'reseeded',
  // the channel's own report of what it dropped
  'dropped',
  'rateLimited',
  'overflow',
  'invalid',
] as const

/** Fields whose value may be an object: one level of numbers, booleans or short strings (the server's limits). */
const OBJECT_FIELDS = new Set<string>(['limits'])

/** pino's numeric levels → their names; the entrypoint and the seeder write names already. */
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
const LEVEL_NAMES = new Set(Object.values(LEVELS))

/** Longest string value kept (longer ones are cut, with "…"). `msg` gets twice as much. */
export const MAX_LOG_STRING_CHARS = 256

/**
 * Reduce one log record to what may leave the enclave: only {@link LOG_CHANNEL_FIELDS}, each a string (cut
 * at {@link MAX_LOG_STRING_CHARS}), a finite number, a boolean, or for `limits` a flat object of those;
 * `level` as a name. pino has already applied the redaction paths before this sees the line.
 *
 * @param record - A parsed log line (anything).
 * @returns The record to send, fields in {@link LOG_CHANNEL_FIELDS} order, or `undefined` when `record`
 *   is not an object or keeps no field.
 * @example
 * import { sanitizeLogRecord } from './sanitizeLogRecord.js'
 * sanitizeLogRecord({ level: 30, time: 1, msg: 'request served', privateKey: '0x…', op: 'sign' })
 * // { level: 'info', time: 1, msg: 'request served', op: 'sign' }
 */
export function sanitizeLogRecord(record: unknown): Record<string, unknown> | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined
  const source = record as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const field of LOG_CHANNEL_FIELDS) {
    if (!Object.hasOwn(source, field)) continue
    const value = source[field]
    if (field === 'level') {
      const name = typeof value === 'number' ? LEVELS[value] : typeof value === 'string' && LEVEL_NAMES.has(value) ? value : undefined
      if (name !== undefined) out.level = name
      continue
    }
    const kept = OBJECT_FIELDS.has(field) ? flatObject(value) : primitive(value, field === 'msg' ? 2 * MAX_LOG_STRING_CHARS : MAX_LOG_STRING_CHARS)
    if (kept !== undefined) out[field] = kept
  }
  return Object.keys(out).length === 0 ? undefined : out
}

function primitive(value: unknown, maxChars: number): string | number | boolean | undefined {
  if (typeof value === 'string') return value.length > maxChars ? `${value.slice(0, maxChars)}…` : value
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'boolean') return value
  return undefined
}

function flatObject(value: unknown): Record<string, string | number | boolean> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const out: Record<string, string | number | boolean> = {}
  for (const [key, inner] of Object.entries(value).slice(0, 16)) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(key)) continue
    const kept = primitive(inner, 64)
    if (kept !== undefined) out[key] = kept
  }
  return out
}
