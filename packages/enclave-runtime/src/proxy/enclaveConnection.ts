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
import type { UnsealContext } from '../keys/types.js'
import { type Logger, silentLogger } from '../logger.js'

export type EnclaveConnectionOptions = {
  host: string
  port: number
  /** Per-request timeout. @default 10_000 */
  timeoutMs?: number
  /** Connect timeout. @default 2_000 */
  connectTimeoutMs?: number
  maxFrameBytes?: number
  logger?: Logger
}

export type EnclaveConnection = {
  /** Send one request (with the parent's unseal context) and wait for its response. */
  request(message: RequestMessage, context?: UnsealContext): Promise<ResponseMessage>
  close(): void
}

type Pending = { resolve: (r: ResponseMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

/**
 * One multiplexed, framed connection from the parent to the enclave, reconnected on demand. Requests
 * fail fast with UNAVAILABLE when the enclave is down and with TIMEOUT when it does not answer; none
 * hangs.
 */
export function createEnclaveConnection({ host, port, timeoutMs = 10_000, connectTimeoutMs = 2_000, maxFrameBytes = MAX_FRAME_BYTES, logger = silentLogger }: EnclaveConnectionOptions): EnclaveConnection {
  let socket: Socket | undefined
  let ready: Promise<Socket> | undefined
  const pending = new Map<string, Pending>()
  let closed = false

  const failAll = (error: Error) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer)
      pending.delete(id)
      p.reject(error)
    }
  }

  function open(): Promise<Socket> {
    if (ready) return ready
    ready = new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port })
      const decoder = new FrameDecoder(maxFrameBytes)
      const timer = setTimeout(() => s.destroy(new Error('connect timeout')), connectTimeoutMs)
      s.setNoDelay(true)
      s.once('connect', () => {
        clearTimeout(timer)
        socket = s
        resolve(s)
      })
      s.on('data', (chunk) => {
        try {
          for (const frame of decoder.push(chunk)) {
            if (frame.error) continue
            const response = parseResponse(frame.message)
            const p = pending.get(response.id)
            if (!p) continue
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
        logger.warn({ errCode: (err as NodeJS.ErrnoException).code ?? err.message }, 'enclave connection error')
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
    close() {
      closed = true
      socket?.destroy()
      failAll(new UnavailableError({ reason: 'enclave connection is closed' }))
    },
  }
}
