import { Writable } from 'node:stream'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { REDACT_PATHS } from '@enclave-custody/sdk/server'
import { LOG_CHANNEL_FIELDS, MAX_LOG_STRING_CHARS, sanitizeLogRecord } from './sanitizeLogRecord.js'

const KEY = `0x${'4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'}`

/** The lines a real pino logger, configured as bin/enclave.ts configures it, writes. */
function pinoLines(log: (logger: pino.Logger) => void): Record<string, unknown>[] {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const logger = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[ REDACTED ]' }, base: { svc: 'enclave' } }, sink)
  log(logger)
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe('sanitizeLogRecord', () => {
  it('keeps the permitted fields, in their order, with pino’s numeric level as a name', () => {
    expect(sanitizeLogRecord({ msg: 'request served', op: 'sign.eip1559', time: 1700000000000, level: 30, ms: 3, reqId: 'r1', svc: 'enclave' })).toEqual({
      level: 'info',
      time: 1700000000000,
      svc: 'enclave',
      msg: 'request served',
      reqId: 'r1',
      op: 'sign.eip1559',
      ms: 3,
    })
    expect(Object.keys(sanitizeLogRecord({ ms: 1, level: 50, msg: 'x' })!)).toEqual(['level', 'msg', 'ms'])
  })

  it('lets no key material out: not through pino’s redaction paths, nor around them', () => {
    const [line] = pinoLines((logger) =>
      logger.error(
        {
          privateKey: KEY,
          params: { privateKey: KEY },
          key: KEY, // no redaction path names it: only the allowlist stops it
          secret: KEY,
          plaintext: Buffer.from(KEY.slice(2), 'hex'),
          record: { ciphertext: 'AQID', kmsKeyId: 'arn' },
          credentials: { accessKeyId: 'AKIA…', secretAccessKey: 'x', sessionToken: 'y' },
          err: new Error(`boom ${KEY}`),
          op: 'key.import',
        },
        'request failed',
      ),
    )
    const out = sanitizeLogRecord(line)
    expect(out).toEqual({ level: 'error', time: line!.time, svc: 'enclave', msg: 'request failed', op: 'key.import' })
    expect(JSON.stringify(out)).not.toContain(KEY.slice(2, 20))
  })

  it('keeps only strings, finite numbers and booleans; `limits` may be a flat object', () => {
    expect(
      sanitizeLogRecord({
        msg: 'x',
        ms: Number.NaN,
        port: Number.POSITIVE_INFINITY,
        op: ['sign'],
        reqId: { id: 1 },
        reseeded: true,
        code: null,
        limits: { maxConnections: 64, nested: { deep: 1 }, 'bad key': 1, note: 'n'.repeat(100) },
      }),
    ).toEqual({ msg: 'x', limits: { maxConnections: 64, note: `${'n'.repeat(64)}…` }, reseeded: true })
  })

  it('cuts long strings (msg gets twice the room)', () => {
    const out = sanitizeLogRecord({ msg: 'm'.repeat(10_000), reqId: 'r'.repeat(10_000) })!
    expect(out.reqId).toBe(`${'r'.repeat(MAX_LOG_STRING_CHARS)}…`)
    expect(out.msg).toBe(`${'m'.repeat(2 * MAX_LOG_STRING_CHARS)}…`)
  })

  it('refuses what is not an object or keeps nothing, and unknown level values', () => {
    for (const value of [null, 'text', 42, [1, 2], { privateKey: KEY }, {}]) expect(sanitizeLogRecord(value)).toBeUndefined()
    expect(sanitizeLogRecord({ level: 35, msg: 'x' })).toEqual({ msg: 'x' })
    expect(sanitizeLogRecord({ level: 'warn', msg: 'x' })).toEqual({ level: 'warn', msg: 'x' })
    expect(sanitizeLogRecord({ level: 'loud', msg: 'x' })).toEqual({ msg: 'x' })
  })

  it('reads only own fields (an inherited or __proto__ field is not a field)', () => {
    const inherited = Object.create({ msg: 'from the prototype' }) as object
    expect(sanitizeLogRecord(inherited)).toBeUndefined()
    expect(sanitizeLogRecord(JSON.parse('{"__proto__":{"msg":"x"},"op":"a"}'))).toEqual({ op: 'a' })
  })

  it('lists each permitted field once', () => {
    expect(new Set(LOG_CHANNEL_FIELDS).size).toBe(LOG_CHANNEL_FIELDS.length)
  })
})
