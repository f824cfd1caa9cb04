import { InvalidFrameError } from '../errors/CustodyError.js'

/** Hard limit on one frame's payload (bytes). Larger frames are refused before they are buffered. */
export const MAX_FRAME_BYTES = 1024 * 1024
const HEADER_BYTES = 4

/** Encode a message as a length-prefixed (4-byte big-endian) JSON frame. */
export function encodeFrame(message: unknown, maxFrameBytes = MAX_FRAME_BYTES): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8')
  if (body.length > maxFrameBytes) throw new InvalidFrameError({ reason: `frame of ${body.length} bytes exceeds the ${maxFrameBytes}-byte limit` })
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length)
  frame.writeUInt32BE(body.length, 0)
  body.copy(frame, HEADER_BYTES)
  return frame
}

/** One decoded frame: its message, or why its body could not be read (framing itself is intact). */
export type DecodedFrame = { message: unknown; error?: undefined } | { message?: undefined; error: InvalidFrameError }

/**
 * Incremental decoder for a stream of frames. `push` returns every complete frame; a frame whose
 * body is not JSON comes back as `{ error }` and the stream goes on. An oversized length prefix throws
 * `InvalidFrameError`: framing is lost, so the connection must be closed.
 */
export class FrameDecoder {
  #chunks: Buffer[] = []
  #buffered = 0
  readonly #max: number

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.#buffered
  }

  push(chunk: Buffer): DecodedFrame[] {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    const out: DecodedFrame[] = []
    while (this.#buffered >= HEADER_BYTES) {
      const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks)
      this.#chunks = [buf]
      const length = buf.readUInt32BE(0)
      if (length > this.#max) throw new InvalidFrameError({ reason: `frame of ${length} bytes exceeds the ${this.#max}-byte limit` })
      if (buf.length < HEADER_BYTES + length) break
      const body = buf.subarray(HEADER_BYTES, HEADER_BYTES + length)
      const rest = buf.subarray(HEADER_BYTES + length)
      this.#chunks = rest.length ? [rest] : []
      this.#buffered = rest.length
      out.push(decodeJson(body))
    }
    return out
  }
}

function decodeJson(body: Buffer): DecodedFrame {
  try {
    return { message: JSON.parse(body.toString('utf8')) }
  } catch {
    // The parser's message quotes the input, which may hold secrets: keep only our own reason.
    return { error: new InvalidFrameError({ reason: 'frame is not valid JSON' }) }
  }
}
