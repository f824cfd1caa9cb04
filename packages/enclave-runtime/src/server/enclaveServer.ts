import { createServer, type Server, type Socket } from 'node:net'
import {
  encodeFrame,
  errorResponse,
  FrameDecoder,
  idOf,
  InternalError,
  InvalidFrameError,
  MAX_FRAME_BYTES,
  type ResponseMessage,
  UnavailableError,
} from '@enclave-custody/sdk/protocol'
import type { RequestHandler } from '../handler.js'
import type { UnsealContext } from '../keys/types.js'
import { type Logger, silentLogger } from '@enclave-custody/sdk/server'

/**
 * What one peer, or all of them together, may hold of the enclave. Whoever reaches the socket (the parent,
 * or any process on it that reaches the bridge) is untrusted: these bound the memory and work it can cost,
 * so that it can at worst be refused service, never stop the enclave.
 */
export type EnclaveServerLimits = {
  /** Open connections; more are dropped at accept. The parent proxy keeps a pool of 4. @default 64 */
  maxConnections?: number
  /** Requests in flight on one connection; the server stops reading from it at this count and answers frames beyond it UNAVAILABLE. @default 256 */
  maxInFlight?: number
  /** Requests in flight on all connections; frames beyond it are answered UNAVAILABLE. @default 1024 */
  maxInFlightTotal?: number
  /**
   * Bytes of the frames in flight on all connections (a parsed request holds several times its frame
   * while it waits, e.g. on KMS); frames beyond it are answered UNAVAILABLE. @default 8 MiB
   */
  maxInFlightBytes?: number
  /** Bytes of incomplete frames on all connections, each counted at its declared size; a frame that does not fit is refused and its connection closed. @default 16 MiB */
  maxPendingBytes?: number
  /** Answers queued to a peer that does not read them; beyond this the connection is closed. @default 4 MiB */
  maxWriteBufferBytes?: number
  /**
   * A frame that has started must be complete within this time, and a new connection must have sent its
   * first complete frame within it, or the connection is closed. @default 10_000
   */
  frameTimeoutMs?: number
  /** A connection with nothing in flight and no bytes for this long is closed (the proxy reconnects on demand). @default 60_000 */
  idleTimeoutMs?: number
}

export type EnclaveServerOptions = EnclaveServerLimits & {
  handler: RequestHandler
  /** TCP port (the stand-in for vsock; socat bridges vsock to it in the enclave). 0 picks a free one. */
  port: number
  /** @default '127.0.0.1' */
  host?: string
  maxFrameBytes?: number
  logger?: Logger
}

export type EnclaveServer = {
  port: number
  host: string
  /** What the server holds now (for tests and health reporting). */
  stats(): { connections: number; inFlight: number; inFlightBytes: number; pendingBytes: number }
  close(): Promise<void>
}

/** The defaults of `EnclaveServerLimits`. */
export const ENCLAVE_SERVER_LIMITS: Readonly<Required<EnclaveServerLimits>> = Object.freeze({
  maxConnections: 64,
  maxInFlight: 256,
  maxInFlightTotal: 1024,
  maxInFlightBytes: 8 * 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  maxWriteBufferBytes: 4 * 1024 * 1024,
  frameTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
})

/**
 * Serve the request handler over length-prefixed JSON frames on a stream socket. Requests on one
 * connection are handled concurrently and answered by `id`. A frame whose body is not JSON is answered
 * with INVALID_FRAME and the connection goes on; an oversized length prefix is answered and the
 * connection closed (framing cannot be recovered).
 *
 * Nothing a peer sends can stop the process: every answer is bounded (errors never echo unbounded
 * input), an answer that cannot be framed becomes a generic INTERNAL error, a handler that throws is
 * answered INTERNAL, and the resources a peer can hold are capped (`EnclaveServerLimits`).
 */
export async function startEnclaveServer({ handler, port, host = '127.0.0.1', maxFrameBytes = MAX_FRAME_BYTES, logger = silentLogger, ...overrides }: EnclaveServerOptions): Promise<EnclaveServer> {
  const limits = { ...ENCLAVE_SERVER_LIMITS, ...definedOnly(overrides) }
  const sockets = new Set<Socket>()
  let inFlightTotal = 0
  let inFlightBytes = 0
  let pendingTotal = 0

  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.setNoDelay(true)
    const decoder = new FrameDecoder(maxFrameBytes)
    /** This connection's share of `pendingTotal`: the declared size of the frame it is receiving. */
    let held = 0
    let inFlight = 0
    let frameTimer: NodeJS.Timeout | undefined

    const release = () => {
      pendingTotal -= held
      held = 0
    }
    let dropped = false
    /** Stop reading at once (nothing more is buffered), send the last answer if any, then close. */
    const drop = (why: string, answer?: ResponseMessage) => {
      if (dropped) return
      dropped = true
      logger.warn({ why, remote: socket.remotePort }, 'closing enclave connection')
      clearTimeout(frameTimer)
      socket.removeAllListeners('data')
      socket.pause()
      release()
      if (answer && !socket.destroyed) {
        socket.end(encodeFrame(answer, maxFrameBytes), () => socket.destroy())
        // A peer that does not read the answer does not keep the socket either.
        setTimeout(() => socket.destroy(), 1_000).unref()
      } else socket.destroy()
    }
    const send = (response: ResponseMessage) => {
      if (socket.destroyed || dropped) return
      let frame: Buffer
      try {
        frame = encodeFrame(response, maxFrameBytes)
      } catch {
        // An answer too large for a frame (or not serialisable): the caller learns that it failed, not why.
        logger.error({ reqId: response.id }, 'answer could not be framed')
        frame = encodeFrame(errorResponse(response.id, new InternalError()), maxFrameBytes)
      }
      socket.write(frame)
      if (socket.writableLength > limits.maxWriteBufferBytes) drop('peer does not read its answers')
    }
    const serve = async (message: unknown, bytes: number) => {
      if (inFlight >= limits.maxInFlight || inFlightTotal >= limits.maxInFlightTotal) {
        send(errorResponse(idOf(message), new UnavailableError({ reason: 'enclave busy: too many requests in flight' })))
        return
      }
      if (inFlightBytes + bytes > limits.maxInFlightBytes) {
        send(errorResponse(idOf(message), new UnavailableError({ reason: 'enclave busy: too many bytes in flight' })))
        return
      }
      inFlight++
      inFlightTotal++
      inFlightBytes += bytes
      if (inFlight >= limits.maxInFlight) socket.pause()
      let response: ResponseMessage
      try {
        const [request, context] = splitContext(message)
        response = await handler.handle(request, context)
      } catch {
        response = errorResponse(idOf(message), new InternalError())
      } finally {
        inFlight--
        inFlightTotal--
        inFlightBytes -= bytes
        if (inFlight < limits.maxInFlight && socket.isPaused() && !socket.destroyed) socket.resume()
      }
      send(response)
    }

    // The first frame is due within the frame timeout of connecting: a connection that sends nothing does
    // not hold one of the connection slots for the idle timeout.
    frameTimer = setTimeout(() => drop('no request in time'), limits.frameTimeoutMs)
    socket.setTimeout(limits.idleTimeoutMs, () => {
      if (inFlight === 0 && decoder.pending === 0) drop('idle')
    })
    socket.on('data', (chunk) => {
      let frames: ReturnType<FrameDecoder['push']>
      try {
        frames = decoder.push(chunk)
      } catch (e) {
        const error = e instanceof InvalidFrameError ? e : new InvalidFrameError({ reason: 'unreadable frame' })
        drop(`framing lost (${error.code})`, errorResponse('0', error))
        return
      }
      // A partial frame reserves its declared size from the enclave-wide budget when its header arrives
      // (the decoder never allocates more than that): a frame that does not fit is refused at once, and
      // one that fits is never cut for the budget later, so a crowd of connections cannot churn through it.
      const need = decoder.expected
      if (need !== held) {
        pendingTotal += need - held
        held = need
        if (need > 0 && pendingTotal > limits.maxPendingBytes) {
          drop('pending bytes over the enclave-wide cap', errorResponse('0', new UnavailableError({ reason: 'enclave busy: too many bytes pending' })))
          return
        }
      }
      if (decoder.pending === 0) {
        clearTimeout(frameTimer)
        frameTimer = undefined
      } else if (!frameTimer) {
        frameTimer = setTimeout(() => drop('frame not completed in time'), limits.frameTimeoutMs)
      }
      for (const frame of frames) {
        if (frame.error) send(errorResponse('0', frame.error))
        else void serve(frame.message, frame.bytes)
      }
    })
    socket.on('error', (err) => logger.debug({ errCode: (err as NodeJS.ErrnoException).code }, 'connection error'))
    socket.on('close', () => {
      clearTimeout(frameTimer)
      release()
      sockets.delete(socket)
    })
  })
  server.maxConnections = limits.maxConnections
  server.on('drop', () => logger.warn({ max: limits.maxConnections }, 'connection refused: too many connections'))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  logger.info({ host, port: bound, limits }, 'enclave server listening')
  return {
    port: bound,
    host,
    stats: () => ({ connections: sockets.size, inFlight: inFlightTotal, inFlightBytes, pendingBytes: pendingTotal }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

/**
 * The parent attaches what the enclave needs to unseal (`context`: forwarded credentials) beside the
 * protocol envelope; it is removed before the envelope is validated.
 */
function splitContext(message: unknown): [request: unknown, context: UnsealContext | undefined] {
  if (typeof message !== 'object' || message === null || Array.isArray(message) || !Object.hasOwn(message, 'context')) return [message, undefined]
  const { context, ...request } = message as Record<string, unknown>
  return [request, (context ?? undefined) as UnsealContext | undefined]
}
