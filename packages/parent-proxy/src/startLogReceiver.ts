import { createServer, type Server, type Socket } from 'node:net'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { formatEnclaveLogLine } from './formatEnclaveLogLine.js'

/** Where the receiver prints: `process.stdout` by default (journald or a file, per the systemd unit). */
export type LogReceiverOutput = { write(text: string): unknown; readonly writableLength?: number }

/** Options of {@link startLogReceiver}. */
export type StartLogReceiverParameters = {
  /** Loopback TCP port (the parent's socat bridges the enclave's vsock log port here). 0 picks one. */
  port: number
  /** @default '127.0.0.1' */
  host?: string
  /** @default process.stdout */
  output?: LogReceiverOutput
  /** A line longer than this is discarded up to its newline (and counted). @default 16 KiB */
  maxLineBytes?: number
  /** Connections at once; more are closed at accept. @default 8 */
  maxConnections?: number
  /** Lines printed per second on average, over all connections (token bucket). @default 500 */
  linesPerSecond?: number
  /** @default 2000 */
  burst?: number
  /** When the output holds more than this unwritten, lines are dropped (and counted). @default 1 MiB */
  maxOutputBufferBytes?: number
  /** How often drops are reported on the output. @default 10_000 */
  reportEveryMs?: number
  /** @internal @default Date.now */
  now?: () => number
}

/** What the receiver has done. */
export type LogReceiverStats = { printed: number; tooLong: number; unparseable: number; rateLimited: number; overflow: number; refusedConnections: number; connections: number }

/** A running receiver. */
export type LogReceiver = {
  port: number
  host: string
  stats(): LogReceiverStats
  close(): Promise<void>
}

/** What {@link startLogReceiver} resolves to. */
export type StartLogReceiverReturnType = LogReceiver

/**
 * The parent's end of the enclave's log channel: accepts connections on loopback (from the parent's socat
 * vsock bridge), splits each into lines and prints each line through {@link formatEnclaveLogLine} — parsed
 * as JSON, rebuilt from bounded fields, re-serialised as ASCII, marked `"source":"enclave"` — one per
 * output line. Everything that arrives is untrusted: lines are capped (`maxLineBytes`), connections capped
 * (`maxConnections`), printing rate-limited (`linesPerSecond`/`burst`) and bounded by the output's backlog
 * (`maxOutputBufferBytes`); an unparseable line is reported by its length only, never echoed. Drops are
 * counted and reported as a `dropped N lines` line of the receiver's own (`"source":"log-receiver"`).
 *
 * @param parameters - Port, output and limits.
 * @returns The receiver, listening.
 * @throws InvalidArgumentError on a bad port or limit.
 * @example
 * import { startLogReceiver } from './startLogReceiver.js'
 * const receiver = await startLogReceiver({ port: 5011 }) // socat VSOCK-LISTEN:5010,fork TCP:127.0.0.1:5011
 */
export async function startLogReceiver(parameters: StartLogReceiverParameters): Promise<StartLogReceiverReturnType> {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const {
    port,
    host = '127.0.0.1',
    output = process.stdout,
    maxLineBytes = 16 * 1024,
    maxConnections = 8,
    linesPerSecond = 500,
    burst = 2000,
    maxOutputBufferBytes = 1024 * 1024,
    reportEveryMs = 10_000,
    now = Date.now,
  } = parameters
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError({ field: 'port', rule: 'must be an integer 0..65535' })
  for (const [field, value] of Object.entries({ maxLineBytes, maxConnections, linesPerSecond, burst, maxOutputBufferBytes, reportEveryMs })) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new InvalidArgumentError({ field, rule: 'must be a positive number' })
  }

  const counts = { printed: 0, tooLong: 0, unparseable: 0, rateLimited: 0, overflow: 0, refusedConnections: 0 }
  const reported = { tooLong: 0, unparseable: 0, rateLimited: 0, overflow: 0 }
  const sockets = new Set<Socket>()
  let tokens = burst
  let refilledAt = now()

  const backlogged = () => (output.writableLength ?? 0) > maxOutputBufferBytes
  const print = (text: string): boolean => {
    if (backlogged()) {
      counts.overflow += 1
      return false
    }
    output.write(`${text}\n`)
    return true
  }
  const takeToken = () => {
    const t = now()
    tokens = Math.min(burst, tokens + ((t - refilledAt) / 1000) * linesPerSecond)
    refilledAt = t
    if (tokens < 1) return false
    tokens -= 1
    return true
  }
  const own = (msg: string, fields: Record<string, number>) => JSON.stringify({ source: 'log-receiver', receivedAt: now(), level: 'warn', msg, ...fields })
  const reportDrops = () => {
    const delta = {
      tooLong: counts.tooLong - reported.tooLong,
      unparseable: counts.unparseable - reported.unparseable,
      rateLimited: counts.rateLimited - reported.rateLimited,
      overflow: counts.overflow - reported.overflow,
    }
    const n = delta.tooLong + delta.unparseable + delta.rateLimited + delta.overflow
    if (n === 0 || backlogged()) return
    output.write(`${own(`dropped ${n} lines from the enclave log channel`, { dropped: n, ...delta })}\n`)
    Object.assign(reported, { tooLong: counts.tooLong, unparseable: counts.unparseable, rateLimited: counts.rateLimited, overflow: counts.overflow })
  }

  const onLine = (line: Buffer) => {
    if (!takeToken()) {
      counts.rateLimited += 1
      return
    }
    reportDrops()
    const formatted = formatEnclaveLogLine(line.toString('utf8'), now())
    if (formatted === undefined) {
      counts.unparseable += 1
      return
    }
    if (print(formatted)) counts.printed += 1
  }

  const server: Server = createServer((socket) => {
    if (sockets.size >= maxConnections) {
      counts.refusedConnections += 1
      socket.destroy()
      return
    }
    sockets.add(socket)
    // Chunks of the line being read; `length` their total; `discarding` while skipping an overlong line.
    let parts: Buffer[] = []
    let length = 0
    let discarding = false
    socket.on('data', (chunk: Buffer) => {
      let start = 0
      for (;;) {
        const newline = chunk.indexOf(0x0a, start)
        const end = newline === -1 ? chunk.length : newline
        if (!discarding) {
          if (length + (end - start) > maxLineBytes) {
            discarding = true
            counts.tooLong += 1
            parts = []
            length = 0
          } else if (end > start) {
            parts.push(chunk.subarray(start, end))
            length += end - start
          }
        }
        if (newline === -1) break
        if (!discarding && length > 0) onLine(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length))
        parts = []
        length = 0
        discarding = false
        start = newline + 1
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  const reporter = setInterval(reportDrops, reportEveryMs)
  reporter.unref()

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const bound = typeof address === 'object' && address ? address.port : port

  return {
    port: bound,
    host,
    stats: () => ({ ...counts, connections: sockets.size }),
    async close() {
      clearInterval(reporter)
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
