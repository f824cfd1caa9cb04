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
export type DecodedFrame = ({ message: unknown; error?: undefined } | { message?: undefined; error: InvalidFrameError }) & {
  /** Size of the frame's body in bytes. */
  bytes: number
}

/** Smallest buffer the decoder allocates for a partial frame; also the size it shrinks back to. */
const MIN_BUFFER_BYTES = 4096

/**
 * Incremental decoder for a stream of frames. `push` returns every complete frame; a frame whose
 * body is not JSON comes back as `{ error }` and the stream goes on. An oversized length prefix throws
 * `InvalidFrameError`: framing is lost, so the connection must be closed.
 *
 * Cost is linear in the bytes received, however the stream is cut: complete frames are decoded straight
 * from the chunk they arrive in, and the bytes of a partial frame are copied once into one buffer that
 * doubles as needed (at most twice the bytes held, never more than one frame). Keeping a list of chunks
 * instead would cost a Buffer object per chunk — a frame trickled in one byte at a time would take a
 * hundred times its size in memory.
 */
export class FrameDecoder {
  #buf: Buffer = Buffer.alloc(0)
  /** Bytes of `#buf` in use (the partial frame). */
  #used = 0
  readonly #max: number

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.#used
  }

  /** Bytes the decoder has allocated (at most twice `pending` and at most `expected`, or a small reusable buffer). */
  get allocated(): number {
    return this.#buf.length
  }

  /** Declared size (header + body) of the frame being held, once its header is in; 0 otherwise. */
  get expected(): number {
    return this.#used >= HEADER_BYTES ? HEADER_BYTES + this.#buf.readUInt32BE(0) : 0
  }

  push(chunk: Buffer): DecodedFrame[] {
    const out: DecodedFrame[] = []
    let offset = 0
    if (this.#used > 0) {
      // Complete the held frame from the front of the chunk, or hold all of it.
      if (this.#used < HEADER_BYTES) {
        offset = Math.min(HEADER_BYTES - this.#used, chunk.length)
        this.#append(chunk.subarray(0, offset))
        if (this.#used < HEADER_BYTES) return out
      }
      const total = HEADER_BYTES + this.#frameLength(this.#buf, 0)
      const take = Math.min(total - this.#used, chunk.length - offset)
      this.#append(chunk.subarray(offset, offset + take))
      offset += take
      if (this.#used < total) return out
      out.push(decodeJson(this.#buf.subarray(HEADER_BYTES, total)))
      this.#reset()
    }
    // Frames wholly inside the chunk are decoded in place; a trailing partial frame is held.
    while (chunk.length - offset >= HEADER_BYTES) {
      const total = HEADER_BYTES + this.#frameLength(chunk, offset)
      if (chunk.length - offset < total) break
      out.push(decodeJson(chunk.subarray(offset + HEADER_BYTES, offset + total)))
      offset += total
    }
    if (offset < chunk.length) {
      const rest = chunk.subarray(offset)
      if (rest.length >= HEADER_BYTES) this.#frameLength(rest, 0)
      this.#append(rest)
    }
    return out
  }

  /** The body length of the frame at `offset`, refused when above the limit (framing is then lost). */
  #frameLength(buf: Buffer, offset: number): number {
    const length = buf.readUInt32BE(offset)
    if (length > this.#max) {
      this.#reset()
      throw new InvalidFrameError({ reason: `frame of ${length} bytes exceeds the ${this.#max}-byte limit` })
    }
    return length
  }

  #append(bytes: Buffer): void {
    if (bytes.length === 0) return
    const needed = this.#used + bytes.length
    if (needed > this.#buf.length) {
      let size = Math.max(MIN_BUFFER_BYTES, this.#buf.length)
      while (size < needed) size *= 2
      // Never more than the frame being held declares (its header is validated before any body byte).
      const header = this.#used >= HEADER_BYTES ? this.#buf : this.#used === 0 && bytes.length >= HEADER_BYTES ? bytes : undefined
      const cap = header ? HEADER_BYTES + header.readUInt32BE(0) : MIN_BUFFER_BYTES
      const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(size, cap)))
      this.#buf.copy(grown, 0, 0, this.#used)
      this.#buf = grown
    }
    bytes.copy(this.#buf, this.#used)
    this.#used = needed
  }

  #reset(): void {
    this.#used = 0
    // Give back a large frame's buffer; keep a small one for the next partial frame.
    if (this.#buf.length > MIN_BUFFER_BYTES) this.#buf = Buffer.alloc(0)
  }
}

function decodeJson(body: Buffer): DecodedFrame {
  try {
    return { message: JSON.parse(body.toString('utf8')), bytes: body.length }
  } catch {
    // The parser's message quotes the input, which may hold secrets: keep only our own reason.
    return { error: new InvalidFrameError({ reason: 'frame is not valid JSON' }), bytes: body.length }
  }
}
