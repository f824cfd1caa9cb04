import { createServer, type Server, type Socket } from 'node:net'
import { encodeFrame, errorResponse, FrameDecoder, InvalidFrameError, MAX_FRAME_BYTES } from '@enclave-custody/sdk/protocol'
import type { RequestHandler } from '../handler.js'
import type { UnsealContext } from '../keys/types.js'
import { type Logger, silentLogger } from '../logger.js'

export type EnclaveServerOptions = {
  handler: RequestHandler
  /** TCP port (the stand-in for vsock; socat bridges vsock to it in the enclave). 0 picks a free one. */
  port: number
  /** @default '127.0.0.1' */
  host?: string
  maxFrameBytes?: number
  /** Requests in flight per connection before the server stops reading from it. @default 256 */
  maxInFlight?: number
  logger?: Logger
}

export type EnclaveServer = { port: number; host: string; close(): Promise<void> }

/**
 * Serve the request handler over length-prefixed JSON frames on a stream socket. Requests on one
 * connection are handled concurrently and answered by `id`. A frame whose body is not JSON is answered
 * with INVALID_FRAME and the connection goes on; an oversized length prefix is answered and the
 * connection closed (framing cannot be recovered).
 */
export async function startEnclaveServer({ handler, port, host = '127.0.0.1', maxFrameBytes = MAX_FRAME_BYTES, maxInFlight = 256, logger = silentLogger }: EnclaveServerOptions): Promise<EnclaveServer> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.setNoDelay(true)
    const decoder = new FrameDecoder(maxFrameBytes)
    let inFlight = 0
    const send = (message: unknown) => {
      if (!socket.destroyed) socket.write(encodeFrame(message, maxFrameBytes))
    }
    const serve = async (message: unknown) => {
      inFlight++
      if (inFlight >= maxInFlight) socket.pause()
      try {
        const [request, context] = splitContext(message)
        send(await handler.handle(request, context))
      } finally {
        inFlight--
        if (inFlight < maxInFlight && socket.isPaused()) socket.resume()
      }
    }
    socket.on('data', (chunk) => {
      let frames: ReturnType<FrameDecoder['push']>
      try {
        frames = decoder.push(chunk)
      } catch (e) {
        const error = e instanceof InvalidFrameError ? e : new InvalidFrameError({ reason: 'unreadable frame' })
        logger.warn({ code: error.code, remote: socket.remotePort }, 'closing connection: framing lost')
        socket.end(encodeFrame(errorResponse('0', error)))
        return
      }
      for (const frame of frames) {
        if (frame.error) send(errorResponse('0', frame.error))
        else void serve(frame.message)
      }
    })
    socket.on('error', (err) => logger.debug({ errCode: (err as NodeJS.ErrnoException).code }, 'connection error'))
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  logger.info({ host, port: bound }, 'enclave server listening')
  return {
    port: bound,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  }
}

/**
 * The parent attaches what the enclave needs to unseal (`context`: forwarded credentials) beside the
 * protocol envelope; it is removed before the envelope is validated.
 */
function splitContext(message: unknown): [request: unknown, context: UnsealContext | undefined] {
  if (typeof message !== 'object' || message === null || Array.isArray(message) || !('context' in message)) return [message, undefined]
  const { context, ...request } = message as Record<string, unknown>
  return [request, (context ?? undefined) as UnsealContext | undefined]
}
