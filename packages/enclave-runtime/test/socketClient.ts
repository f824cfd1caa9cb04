import { connect, type Socket } from 'node:net'
import { encodeFrame, FrameDecoder } from '@enclave-custody/sdk/protocol'

/** A raw framed-socket client for tests: send bytes, read back decoded frames. */
export async function rawClient(port: number): Promise<{
  socket: Socket
  send(message: unknown): void
  sendBytes(bytes: Buffer): void
  next(): Promise<unknown>
  closed: Promise<void>
}> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const decoder = new FrameDecoder()
  const queue: unknown[] = []
  const waiters: ((m: unknown) => void)[] = []
  socket.on('data', (chunk) => {
    for (const frame of decoder.push(chunk)) {
      const m = frame.message ?? { decodeError: frame.error?.message }
      const w = waiters.shift()
      if (w) w(m)
      else queue.push(m)
    }
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {
    socket,
    send: (message) => socket.write(encodeFrame(message)),
    sendBytes: (bytes) => socket.write(bytes),
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('no response within 5 s')), 5_000)
            waiters.push((m) => {
              clearTimeout(t)
              resolve(m)
            })
          }),
    closed,
  }
}
