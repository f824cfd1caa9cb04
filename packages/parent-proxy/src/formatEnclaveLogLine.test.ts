import { describe, expect, it } from 'vitest'
import { formatEnclaveLogLine, MAX_ENCLAVE_LOG_STRING_CHARS } from './formatEnclaveLogLine.js'

const printable = /^[\x20-\x7e]*$/

describe('formatEnclaveLogLine (every line from the enclave port is untrusted)', () => {
  it('re-serialises a log line, marked as from the enclave, with the receive time', () => {
    expect(formatEnclaveLogLine('{"level":"info","time":1,"svc":"enclave","msg":"request served","op":"key.list","ms":2}', 99)).toBe(
      '{"source":"enclave","receivedAt":99,"level":"info","time":1,"svc":"enclave","msg":"request served","op":"key.list","ms":2}',
    )
  })

  it('prints no terminal escape, control character, line break or non-ASCII byte: all become \\u escapes', () => {
    const hostile = JSON.stringify({
      msg: '\u001b[2J\u001b]0;pwned\u0007 clear screen',
      op: 'a\rb\nc\u2028d\u0085e\u009bf\u007fg',
      reqId: 'ключ🔑',
    })
    const out = formatEnclaveLogLine(hostile, 0)!
    expect(out).toMatch(printable)
    expect(out).not.toContain('\n')
    expect(out).toContain('"msg":"\\u001b[2J\\u001b]0;pwned\\u0007 clear screen"')
    expect(out).toContain('"op":"a\\rb\\nc\\u2028d\\u0085e\\u009bf\\u007fg"')
    // Still the same data, as JSON.
    expect(JSON.parse(out)).toEqual({ source: 'enclave', receivedAt: 0, ...JSON.parse(hostile) })
  })

  it('refuses what is not a JSON object (the receiver reports those by count, never echoes them)', () => {
    for (const line of ['', 'plain text \u001b[31m', '[1,2]', '"s"', '42', 'null', '{"msg":', '{"a":1}{"b":2}']) expect(formatEnclaveLogLine(line, 0)).toBeUndefined()
  })

  it('drops fields with names that are not identifiers, non-primitive values, and its own field names', () => {
    const out = formatEnclaveLogLine(
      JSON.stringify({ source: 'parent', receivedAt: 5, 'x y': 1, '': 2, __proto__x: 3, _private: 4, list: [1], fn: { deep: { er: 1 } }, ok: null }),
      7,
    )
    expect(JSON.parse(out!)).toEqual({ source: 'enclave', receivedAt: 7, ok: null, fn: {} })
    expect(JSON.parse(formatEnclaveLogLine('{"__proto__":{"polluted":true},"msg":"m"}', 0)!)).toEqual({ source: 'enclave', receivedAt: 0, msg: 'm' })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('bounds what one line can print: 40 fields, long strings cut', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, i]))
    expect(Object.keys(JSON.parse(formatEnclaveLogLine(JSON.stringify(many), 0)!))).toHaveLength(42)
    const long = JSON.parse(formatEnclaveLogLine(JSON.stringify({ msg: 'x'.repeat(100_000) }), 0)!)
    expect(long.msg).toBe(`${'x'.repeat(MAX_ENCLAVE_LOG_STRING_CHARS)}…`)
  })
})
