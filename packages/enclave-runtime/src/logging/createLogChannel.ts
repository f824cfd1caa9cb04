import { connect, type Socket } from 'node:net'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { sanitizeLogRecord } from './sanitizeLogRecord.js'

/** Options of {@link createLogChannel}. */
export type CreateLogChannelParameters = {
  /** Loopback TCP port of the log bridge (the entrypoint's socat → vsock to the parent). */
  port: number
  /** @default '127.0.0.1' */
  host?: string
  /** Lines per second let through on average (token bucket refill). @default 100 */
  ratePerSecond?: number
  /** Lines let through in a burst (token bucket size). @default 1000 */
  burst?: number
  /**
   * Bytes the channel may hold: lines queued while disconnected plus what the socket has not yet handed
   * to the kernel. A line that does not fit is dropped (and counted). @default 1 MiB
   */
  maxBufferedBytes?: number
  /** First reconnection delay after the bridge closes or refuses; doubles up to `reconnectMaxMs`. @default 500 */
  reconnectMinMs?: number
  /** @default 30_000 */
  reconnectMaxMs?: number
  /** How often dropped lines are reported when nothing else is logged. @default 10_000 */
  reportEveryMs?: number
  /**
   * How long a new connection must stay open before queued lines are sent on it. Inside the enclave socat
   * accepts the TCP connection at once and closes it when the parent's vsock port does not answer, so a
   * connection that does not survive this long is a failed attempt (backoff grows, nothing is lost on it).
   * @default 250
   */
  settleMs?: number
  /** @internal The clock, in milliseconds. @default Date.now */
  now?: () => number
}

/** What the channel has done, for tests and health reporting. */
export type LogChannelStats = {
  sent: number
  /** Lines refused by the rate limit. */
  rateLimited: number
  /** Lines refused because the buffer was full (the parent absent or not reading). */
  overflow: number
  /** Writes that were not a JSON object with a permitted field. */
  invalid: number
  /** Dropped lines not yet reported on the channel. */
  unreported: number
  bufferedBytes: number
  connected: boolean
  connects: number
}

/** A pino destination (`write(line)`) that ships sanitised lines to the parent. */
export type LogChannel = {
  /** Take one log line (pino's JSON). Never throws, never blocks; returns true like a stream's write. */
  write(line: string): boolean
  stats(): LogChannelStats
  /** Stop: no more reconnects, the socket closed after what it holds is written (or at once). Idempotent. */
  close(): void
}

/** What {@link createLogChannel} returns. */
export type CreateLogChannelReturnType = LogChannel

/** Longest input line parsed; longer writes are counted invalid without being parsed. */
const MAX_INPUT_CHARS = 64 * 1024

/**
 * The enclave's structured log channel to the parent: each pino line is parsed, reduced to the permitted
 * fields ({@link sanitizeLogRecord}, after pino's own redaction), re-serialised and sent as one JSON line
 * over a loopback TCP connection that the entrypoint's socat bridges to vsock (the parent's receiver prints
 * it for journald). It is built never to hold the runtime up:
 *
 * - a token bucket (`ratePerSecond`, `burst`) bounds the lines per second; excess lines are dropped;
 * - a byte budget (`maxBufferedBytes`) bounds what is queued while disconnected plus what the socket has
 *   not flushed; a parent that is absent, slow or never reads costs at most that much memory;
 * - drops are counted and reported on the channel as a `dropped N lines` warning when room returns (and
 *   every `reportEveryMs`), so that gaps are visible rather than silent;
 * - a closed or refused connection is retried with exponential backoff; a connection is used only once it
 *   has stayed open `settleMs` (socat accepts at once and closes when the parent does not answer); every
 *   socket error is swallowed; the socket and timers are unref'd (they never keep the process alive).
 *
 * Best effort by design: lines in flight when the bridge drops a connection are lost (they are not
 * counted, the channel cannot know how many the parent got). Not verified over a real vsock here; the tests
 * use the same loopback TCP the runtime uses inside the enclave.
 *
 * @param parameters - The bridge's port and the limits.
 * @returns The channel, already connecting.
 * @throws InvalidArgumentError on a bad port or limit.
 * @example
 * import pino from 'pino'
 * import { createLogChannel } from './createLogChannel.js'
 * const channel = createLogChannel({ port: 5002 })
 * const logger = pino({}, pino.multistream([{ stream: process.stdout }, { stream: channel }]))
 */
export function createLogChannel(parameters: CreateLogChannelParameters): CreateLogChannelReturnType {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const {
    port,
    host = '127.0.0.1',
    ratePerSecond = 100,
    burst = 1000,
    maxBufferedBytes = 1024 * 1024,
    reconnectMinMs = 500,
    reconnectMaxMs = 30_000,
    reportEveryMs = 10_000,
    settleMs = 250,
    now = Date.now,
  } = parameters
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new InvalidArgumentError({ field: 'port', rule: 'must be an integer 1..65535' })
  for (const [field, value] of Object.entries({ ratePerSecond, burst, maxBufferedBytes, reconnectMinMs, reconnectMaxMs, reportEveryMs, settleMs })) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new InvalidArgumentError({ field, rule: 'must be a positive number' })
  }

  const counts = { sent: 0, rateLimited: 0, overflow: 0, invalid: 0, connects: 0 }
  const reported = { rateLimited: 0, overflow: 0, invalid: 0 }
  let queue: string[] = []
  let queuedBytes = 0
  let socket: Socket | undefined
  let connected = false
  let connectedAt = 0
  let settleTimer: NodeJS.Timeout | undefined
  let closed = false
  let delay = reconnectMinMs
  let reconnectTimer: NodeJS.Timeout | undefined
  let tokens = burst
  let refilledAt = now()

  const unreported = () => counts.rateLimited - reported.rateLimited + (counts.overflow - reported.overflow) + (counts.invalid - reported.invalid)
  const buffered = () => queuedBytes + (connected && socket ? socket.writableLength : 0)

  const takeToken = (): boolean => {
    const t = now()
    tokens = Math.min(burst, tokens + ((t - refilledAt) / 1000) * ratePerSecond)
    refilledAt = t
    if (tokens < 1) return false
    tokens -= 1
    return true
  }

  /** Queue (or send) one serialised line if it fits the byte budget. */
  const push = (text: string): boolean => {
    const bytes = Buffer.byteLength(text)
    if (buffered() + bytes > maxBufferedBytes) return false
    if (connected && socket) {
      socket.write(text)
    } else {
      queue.push(text)
      queuedBytes += bytes
    }
    counts.sent += 1
    return true
  }

  /** Put a "dropped N lines" warning on the channel for the drops not yet reported, if it fits. */
  const reportDrops = () => {
    const n = unreported()
    if (n === 0) return
    const line = JSON.stringify({
      level: 'warn',
      time: now(),
      svc: 'log-channel',
      msg: `dropped ${n} lines`,
      dropped: n,
      rateLimited: counts.rateLimited - reported.rateLimited,
      overflow: counts.overflow - reported.overflow,
      invalid: counts.invalid - reported.invalid,
    })
    if (push(`${line}\n`)) {
      reported.rateLimited = counts.rateLimited
      reported.overflow = counts.overflow
      reported.invalid = counts.invalid
    }
  }

  const flushQueue = () => {
    if (!connected || !socket) return
    const lines = queue
    queue = []
    queuedBytes = 0
    for (const line of lines) socket.write(line)
  }

  const scheduleReconnect = () => {
    if (closed || reconnectTimer) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      open()
    }, delay)
    reconnectTimer.unref()
    delay = Math.min(delay * 2, reconnectMaxMs)
  }

  const open = () => {
    if (closed) return
    const s = connect({ host, port })
    socket = s
    s.unref()
    s.setNoDelay(true)
    s.on('connect', () => {
      if (socket !== s) return
      settleTimer = setTimeout(() => {
        settleTimer = undefined
        if (socket !== s || s.destroyed) return
        connected = true
        connectedAt = now()
        counts.connects += 1
        flushQueue()
        reportDrops()
      }, settleMs)
      settleTimer.unref()
    })
    // The bridge never sends anything; whatever arrives is discarded.
    s.on('data', () => {})
    s.on('error', () => {})
    s.on('close', () => {
      if (socket !== s) return
      socket = undefined
      if (settleTimer) clearTimeout(settleTimer)
      settleTimer = undefined
      // A connection that stayed up a while resets the backoff; one that closed at once (socat with no parent) does not.
      if (connected && now() - connectedAt >= 5_000) delay = reconnectMinMs
      connected = false
      scheduleReconnect()
    })
  }

  const reporter = setInterval(reportDrops, reportEveryMs)
  reporter.unref()
  open()

  return {
    write(line) {
      try {
        if (closed) return true
        if (!takeToken()) {
          counts.rateLimited += 1
          return true
        }
        const text = typeof line === 'string' ? line : String(line)
        let record: Record<string, unknown> | undefined
        if (text.length <= MAX_INPUT_CHARS) {
          try {
            record = sanitizeLogRecord(JSON.parse(text))
          } catch {
            record = undefined
          }
        }
        if (record === undefined) {
          counts.invalid += 1
          return true
        }
        reportDrops()
        if (!push(`${JSON.stringify(record)}\n`)) counts.overflow += 1
      } catch {
        // A log call must never fail the caller.
        counts.invalid += 1
      }
      return true
    },
    stats() {
      return { ...counts, unreported: unreported(), bufferedBytes: buffered(), connected }
    },
    close() {
      if (closed) return
      closed = true
      clearInterval(reporter)
      if (settleTimer) clearTimeout(settleTimer)
      if (reconnectTimer) clearTimeout(reconnectTimer)
      reconnectTimer = undefined
      queue = []
      queuedBytes = 0
      // Unref'd: a parent that never reads cannot keep the process from exiting.
      socket?.end()
    },
  }
}
