import { connect, type Socket } from 'node:net'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { type LogReceiver, type LogReceiverOutput, startLogReceiver } from './startLogReceiver.js'

/** Collects what the receiver prints; `writableLength` can be set to play a backed-up journald. */
function capture(): LogReceiverOutput & { lines: () => Record<string, unknown>[]; raw: () => string; writableLength: number } {
  let text = ''
  return {
    writableLength: 0,
    write(s: string) {
      text += s
      return true
    },
    raw: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}

async function client(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

const running: LogReceiver[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const r of running.splice(0)) await r.close()
})
async function start(parameters: Partial<Parameters<typeof startLogReceiver>[0]> = {}) {
  const out = capture()
  const receiver = await startLogReceiver({ port: 0, output: out, now: () => 1000, ...parameters })
  running.push(receiver)
  return { receiver, out, connect: async () => sockets[sockets.push(await client(receiver.port)) - 1]! }
}

describe('startLogReceiver', () => {
  it('prints each line, whatever the chunking, as sanitised JSON from the enclave', async () => {
    const { receiver, out, connect } = await start()
    const s = await connect()
    const text = '{"level":"info","msg":"one"}\n{"level":"warn","msg":"two \\u001b[31mred"}\n'
    for (const byte of Buffer.from(text)) s.write(Buffer.of(byte))
    await until(() => receiver.stats().printed === 2)
    expect(out.raw()).toBe(
      '{"source":"enclave","receivedAt":1000,"level":"info","msg":"one"}\n{"source":"enclave","receivedAt":1000,"level":"warn","msg":"two \\u001b[31mred"}\n',
    )
  })

  it('never echoes an unparseable line, and reports it (and every other drop) by count before the next line', async () => {
    // The report comes either from the 20 ms timer or just before the next line, whichever is first on a
    // loaded machine; both must print it once, before that line.
    const { receiver, out, connect } = await start({ now: () => 5, reportEveryMs: 20 })
    const s = await connect()
    s.write('\u001b]0;owned\u0007 not json\n')
    await until(() => receiver.stats().unparseable === 1)
    s.write('{"msg":"ok"}\n')
    await until(() => receiver.stats().printed === 1)
    expect(out.raw()).not.toContain('owned')
    expect(out.lines()).toEqual([
      { source: 'log-receiver', receivedAt: 5, level: 'warn', msg: 'dropped 1 lines from the enclave log channel', dropped: 1, tooLong: 0, unparseable: 1, rateLimited: 0, overflow: 0 },
      { source: 'enclave', receivedAt: 5, msg: 'ok' },
    ])
    // Without further lines, the periodic report says the same.
    s.write('still not json\n')
    await until(() => out.lines().length === 3)
    expect(out.lines()[2]).toMatchObject({ source: 'log-receiver', dropped: 1, unparseable: 1 })
  })

  it('discards a line longer than maxLineBytes up to its newline, and goes on with the next', async () => {
    const { receiver, out, connect } = await start({ maxLineBytes: 100 })
    const s = await connect()
    s.write(`{"msg":"${'x'.repeat(60)}`)
    s.write(`${'y'.repeat(60)}"}\n{"msg":"next"}\n`)
    await until(() => receiver.stats().printed === 1)
    expect(receiver.stats().tooLong).toBe(1)
    expect(out.lines().filter((l) => l.source === 'enclave').map((l) => l.msg)).toEqual(['next'])
    // A line that never ends costs nothing beyond the cap.
    s.write('z'.repeat(1_000_000))
    await new Promise((r) => setTimeout(r, 50))
    expect(receiver.stats().tooLong).toBe(2)
  })

  it('rate-limits printing over all connections', async () => {
    const { receiver, connect } = await start({ burst: 3, linesPerSecond: 1 })
    const a = await connect()
    const b = await connect()
    a.write('{"msg":"a1"}\n{"msg":"a2"}\n')
    b.write('{"msg":"b1"}\n{"msg":"b2"}\n{"msg":"b3"}\n')
    await until(() => receiver.stats().printed + receiver.stats().rateLimited === 5)
    expect(receiver.stats()).toMatchObject({ printed: 3, rateLimited: 2 })
  })

  it('drops lines while its output is backed up (a stalled journald cannot make it grow)', async () => {
    const { receiver, out, connect } = await start()
    out.writableLength = 2 * 1024 * 1024
    const s = await connect()
    s.write('{"msg":"a"}\n{"msg":"b"}\n')
    await until(() => receiver.stats().overflow === 2)
    expect(out.raw()).toBe('')
  })

  it('caps connections', async () => {
    const { receiver, connect } = await start({ maxConnections: 2 })
    await connect()
    await connect()
    const third = await connect()
    await new Promise<void>((r) => third.once('close', () => r()))
    expect(receiver.stats()).toMatchObject({ refusedConnections: 1, connections: 2 })
  })

  it('checks its options', async () => {
    for (const bad of [null, {}, { port: -1 }, { port: 0, maxLineBytes: 0 }, { port: 0, burst: Number.NaN }]) {
      await expect(startLogReceiver(bad as Parameters<typeof startLogReceiver>[0])).rejects.toBeInstanceOf(InvalidArgumentError)
    }
  })
})
