import { connect, type Socket } from 'node:net'
import {
  encodeFrame,
  FrameDecoder,
  MAX_FRAME_BYTES,
  parseResponse,
  type RequestMessage,
  type ResponseMessage,
  TimeoutError,
  UnavailableError,
} from '@enclave-custody/sdk/protocol'
import type { UnsealContext } from './types.js'
import { type Logger, silentLogger } from '@enclave-custody/sdk/server'

export type EnclaveConnectionOptions = {
  host: string
  port: number
  /** Per-request timeout. @default 10_000 */
  timeoutMs?: number
  /** Connect timeout. @default 2_000 */
  connectTimeoutMs?: number
  maxFrameBytes?: number
  logger?: Logger
  /** First wait after a failed connect; doubles per failure, with jitter. @default 100 */
  backoffBaseMs?: number
  /** Longest wait between connect attempts. @default 5_000 */
  backoffMaxMs?: number
  now?: () => number
  /**
   * Requests waiting for an answer on this connection; more fail fast with UNAVAILABLE instead of
   * queueing without bound. Matches the enclave's own per-connection cap. @default 256
   */
  maxPending?: number
  /**
   * An answer nobody waits for any more (its request timed out, or was never ours): it may carry the enclave's
   * audit events, which the enclave hands out only once.
   */
  onUnclaimed?: (response: ResponseMessage) => void
  /** Called when a connect succeeds (the pool tells the other connections the enclave is reachable again). */
  onConnect?: () => void
}

export type EnclaveConnection = {
  /** Send one request (with the parent's unseal context) and wait for its response. */
  request(message: RequestMessage, context?: UnsealContext): Promise<ResponseMessage>
  /** Requests waiting for an answer on this connection. */
  readonly pending: number
  /** Whether requests now fail fast: no socket, and the wait after a failed connect is not over. */
  readonly backingOff: boolean
  /** End the wait after failed connects: the next request connects at once (the enclave is known to be back). */
  resetBackoff(): void
  close(): void
}

type Pending = { resolve: (r: ResponseMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

/**
 * One multiplexed, framed connection from the parent to the enclave, reconnected on demand. Requests
 * fail fast with UNAVAILABLE when the enclave is down and with TIMEOUT when it does not answer; none
 * hangs.
 */
export function createEnclaveConnection({
  host,
  port,
  timeoutMs = 10_000,
  connectTimeoutMs = 2_000,
  maxFrameBytes = MAX_FRAME_BYTES,
  logger = silentLogger,
  backoffBaseMs = 100,
  backoffMaxMs = 5_000,
  now = Date.now,
  maxPending = 256,
  onUnclaimed,
  onConnect,
}: EnclaveConnectionOptions): EnclaveConnection {
  let socket: Socket | undefined
  let ready: Promise<Socket> | undefined
  const pending = new Map<string, Pending>()
  let closed = false
  /** Consecutive failed connects, and when the next attempt may start: requests in between fail fast. */
  let failures = 0
  let retryAt = 0

  const failAll = (error: Error) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer)
      pending.delete(id)
      p.reject(error)
    }
  }

  function open(): Promise<Socket> {
    if (ready) return ready
    if (now() < retryAt) return Promise.reject(new UnavailableError({ reason: 'enclave unreachable; reconnecting' }))
    ready = new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port })
      const decoder = new FrameDecoder(maxFrameBytes)
      const timer = setTimeout(() => s.destroy(new Error('connect timeout')), connectTimeoutMs)
      s.setNoDelay(true)
      s.once('connect', () => {
        clearTimeout(timer)
        if (failures > 0) logger.info({ after: failures }, 'enclave connection re-established')
        failures = 0
        retryAt = 0
        socket = s
        resolve(s)
        onConnect?.()
      })
      s.on('data', (chunk) => {
        try {
          for (const frame of decoder.push(chunk)) {
            if (frame.error) continue
            const response = parseResponse(frame.message)
            const p = pending.get(response.id)
            if (!p) {
              try {
                onUnclaimed?.(response)
              } catch (e) {
                logger.error({ err: (e as Error)?.message }, 'unclaimed answer handler failed')
              }
              continue
            }
            pending.delete(response.id)
            clearTimeout(p.timer)
            p.resolve(response)
          }
        } catch (e) {
          logger.warn({ err: (e as Error).message }, 'bad frame from enclave; reconnecting')
          s.destroy()
        }
      })
      s.on('error', (err) => {
        clearTimeout(timer)
        if (socket !== s) {
          // A failed connect: back off exponentially (with jitter) before the next attempt.
          failures++
          const wait = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (failures - 1))
          retryAt = now() + wait / 2 + Math.random() * (wait / 2)
        }
        logger.warn({ errCode: (err as NodeJS.ErrnoException).code ?? err.message, failures }, 'enclave connection error')
        reject(new UnavailableError({ reason: 'enclave connection failed' }))
      })
      s.on('close', () => {
        clearTimeout(timer)
        if (socket === s) socket = undefined
        ready = undefined
        failAll(new UnavailableError({ reason: 'enclave connection closed' }))
      })
    })
    ready.catch(() => {
      ready = undefined
    })
    return ready
  }

  return {
    async request(message, context) {
      if (closed) throw new UnavailableError({ reason: 'enclave connection is closed' })
      if (pending.size >= maxPending) throw new UnavailableError({ reason: 'enclave busy: too many requests waiting' })
      const s = await open()
      return new Promise<ResponseMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(message.id)
          reject(new TimeoutError({ operation: message.op, ms: timeoutMs }))
        }, timeoutMs)
        pending.set(message.id, { resolve, reject, timer })
        try {
          s.write(encodeFrame(context ? { ...message, context } : message, maxFrameBytes))
        } catch (e) {
          clearTimeout(timer)
          pending.delete(message.id)
          reject(e as Error)
        }
      })
    },
    get pending() {
      return pending.size
    },
    get backingOff() {
      return socket === undefined && now() < retryAt
    },
    resetBackoff() {
      failures = 0
      retryAt = 0
    },
    close() {
      closed = true
      socket?.destroy()
      failAll(new UnavailableError({ reason: 'enclave connection is closed' }))
    },
  }
}

export type EnclavePoolOptions = EnclaveConnectionOptions & {
  /** Connections to the enclave. @default 4 */
  size?: number
}

/**
 * A pool of multiplexed enclave connections: each request goes to the connection with the fewest
 * requests in flight, so one slow or reconnecting socket does not hold up the others.
 */
export function createEnclavePool({ size = 4, ...options }: EnclavePoolOptions): EnclaveConnection {
  if (!Number.isSafeInteger(size) || size < 1 || size > 64) throw new RangeError('enclave pool size must be 1..64')
  // A connection that reaches the enclave again ends the others' waits: they were waiting for this.
  const connections: EnclaveConnection[] = []
  const onConnect = () => {
    for (const c of connections) c.resetBackoff()
  }
  for (let i = 0; i < size; i++) connections.push(createEnclaveConnection({ ...options, onConnect }))
  let next = 0
  return {
    request(message, context) {
      // Least pending first among the connections that may connect now; ties rotate so that idle connections share
      // the load. Only when every connection waits out a back-off does a request fail fast on one of them.
      const ready = connections.filter((c) => !c.backingOff)
      const from = ready.length > 0 ? ready : connections
      let best = from[next++ % from.length]!
      for (const c of from) if (c.pending < best.pending) best = c
      return best.request(message, context)
    },
    get pending() {
      return connections.reduce((n, c) => n + c.pending, 0)
    },
    get backingOff() {
      return connections.every((c) => c.backingOff)
    },
    resetBackoff() {
      for (const c of connections) c.resetBackoff()
    },
    close() {
      for (const c of connections) c.close()
    },
  }
}
