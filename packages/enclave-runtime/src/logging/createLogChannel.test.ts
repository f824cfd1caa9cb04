import { createServer, type Server, type Socket } from 'node:net'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogChannel, type LogChannel } from './createLogChannel.js'

/** A stand-in for the log bridge: collects the lines it receives. */
async function receiver(port = 0): Promise<{ server: Server; port: number; lines: () => Record<string, unknown>[]; sockets: Socket[]; close(): Promise<void> }> {
  let text = ''
  const sockets: Socket[] = []
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => {
      text += d
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  return {
    server,
    port: (server.address() as { port: number }).port,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const r = await receiver()
  await r.close()
  return r.port
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

const line = (fields: Record<string, unknown>) => `${JSON.stringify({ level: 30, time: 1, svc: 'enclave', ...fields })}\n`

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
})
function channel(parameters: Parameters<typeof createLogChannel>[0]): LogChannel {
  const c = createLogChannel(parameters)
  open.push(c)
  return c
}

describe('createLogChannel', () => {
  it('sends each line sanitised, one JSON object per line', async () => {
    const r = await receiver()
    open.push(r)
    const c = channel({ port: r.port })
    await until(() => c.stats().connected)
    c.write(line({ msg: 'request served', op: 'key.list', ms: 2, privateKey: '0x11' }))
    c.write(line({ msg: 'attested runtime ready', region: 'us-east-1', credentials: { secretAccessKey: 'x' } }))
    await until(() => r.lines().length === 2)
    expect(r.lines()).toEqual([
      { level: 'info', time: 1, svc: 'enclave', msg: 'request served', op: 'key.list', ms: 2 },
      { level: 'info', time: 1, svc: 'enclave', msg: 'attested runtime ready', region: 'us-east-1' },
    ])
    expect(c.stats()).toMatchObject({ sent: 2, rateLimited: 0, overflow: 0, invalid: 0, connects: 1 })
  })

  it('rate-limits with a token bucket and reports the drops as "dropped N lines" when tokens return', async () => {
    const r = await receiver()
    open.push(r)
    let clock = 0
    const c = channel({ port: r.port, burst: 5, ratePerSecond: 1, now: () => clock })
    await until(() => c.stats().connected)
    for (let i = 0; i < 12; i++) c.write(line({ msg: `m${i}` }))
    expect(c.stats()).toMatchObject({ sent: 5, rateLimited: 7, unreported: 7 })
    clock += 1_000 // one token
    c.write(line({ msg: 'after the burst' }))
    await until(() => r.lines().length === 7)
    expect(r.lines().map((l) => l.msg)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'dropped 7 lines', 'after the burst'])
    expect(r.lines()[5]).toEqual({ level: 'warn', time: 1000, svc: 'log-channel', msg: 'dropped 7 lines', dropped: 7, rateLimited: 7, overflow: 0, invalid: 0 })
    expect(c.stats().unreported).toBe(0)
  })

  it('counts what it cannot send as invalid: not JSON, not an object, no permitted field, oversized, not a string', async () => {
    const c = channel({ port: await deadPort(), reconnectMinMs: 60_000 })
    for (const bad of ['not json\n', '[1,2]\n', '"text"\n', `${JSON.stringify({ privateKey: '0x11' })}\n`, `{"msg":"${'x'.repeat(70_000)}"}\n`]) c.write(bad)
    expect(c.write(undefined as unknown as string)).toBe(true)
    expect(c.write({ toString: () => 'x' } as unknown as string)).toBe(true)
    expect(c.stats()).toMatchObject({ sent: 0, invalid: 7 })
  })

  it('while the parent is absent, queues up to its byte budget and counts the rest as overflow', async () => {
    const port = await deadPort()
    const c = channel({ port, maxBufferedBytes: 10_000, ratePerSecond: 1e9, burst: 1e9, reconnectMinMs: 20, reconnectMaxMs: 50 })
    for (let i = 0; i < 1_000; i++) c.write(line({ msg: `line ${i}`, reqId: 'r'.repeat(50) }))
    const stats = c.stats()
    expect(stats.connected).toBe(false)
    expect(stats.bufferedBytes).toBeLessThanOrEqual(10_000)
    expect(stats.sent + stats.overflow).toBe(1_000)
    expect(stats.overflow).toBeGreaterThan(900)

    // The parent comes back on the same port: the queue goes out, then the report of what was dropped.
    const r = await receiver(port)
    open.push(r)
    await until(() => r.lines().some((l) => l.svc === 'log-channel'))
    const lines = r.lines()
    expect(lines.slice(0, stats.sent).map((l) => l.msg)).toEqual(Array.from({ length: stats.sent }, (_, i) => `line ${i}`))
    expect(lines.at(-1)).toMatchObject({ msg: `dropped ${stats.overflow} lines`, overflow: stats.overflow })
  })

  it('reconnects after the receiver closes the connection, with backoff', async () => {
    const r = await receiver()
    open.push(r)
    const c = channel({ port: r.port, reconnectMinMs: 10, reconnectMaxMs: 40 })
    await until(() => c.stats().connected)
    for (const s of r.sockets) s.destroy()
    await until(() => c.stats().connects === 2)
    c.write(line({ msg: 'after the reconnect' }))
    await until(() => r.lines().length === 1)
    expect(r.lines()[0]!.msg).toBe('after the reconnect')
  })

  it('a bridge that accepts and closes at once (socat, parent absent): nothing queued is spent on it, the backoff grows', async () => {
    let attempts = 0
    const server = createServer((socket) => {
      attempts += 1
      socket.destroy()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    open.push({ close: () => new Promise<void>((r) => server.close(() => r())) })
    const c = channel({ port: (server.address() as { port: number }).port, reconnectMinMs: 10, reconnectMaxMs: 1_000, settleMs: 50 })
    for (let i = 0; i < 10; i++) c.write(line({ msg: `kept ${i}` }))
    const queued = c.stats().bufferedBytes
    await new Promise((r) => setTimeout(r, 1_000))
    // Without backoff growth that would be ~80 attempts (every 10 ms + settle); doubling from 10 ms gives < 10.
    expect(attempts).toBeGreaterThanOrEqual(3)
    expect(attempts).toBeLessThan(12)
    expect(c.stats()).toMatchObject({ connects: 0, connected: false, bufferedBytes: queued, sent: 10 })
  })

  it('close stops it: no reconnect, later writes ignored', async () => {
    const port = await deadPort()
    const c = channel({ port, reconnectMinMs: 10 })
    c.close()
    c.close()
    c.write(line({ msg: 'late' }))
    const r = await receiver(port)
    open.push(r)
    await new Promise((done) => setTimeout(done, 100))
    expect(r.sockets).toHaveLength(0)
    expect(c.stats().sent).toBe(0)
  })

  it('checks its options', () => {
    for (const bad of [null, {}, { port: 0 }, { port: 70_000 }, { port: 1.5 }, { port: 5002, burst: 0 }, { port: 5002, ratePerSecond: Number.NaN }, { port: 5002, maxBufferedBytes: -1 }]) {
      expect(() => createLogChannel(bad as Parameters<typeof createLogChannel>[0])).toThrow(InvalidArgumentError)
    }
  })
})
