import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { encodeFrame, FrameDecoder } from './framing.js'

describe('length-prefixed JSON framing', () => {
  it('round-trips messages split at every byte boundary', () => {
    const messages = [{ a: 1 }, { b: 'x'.repeat(300) }, [1, 2, 3], 'text']
    const stream = Buffer.concat(messages.map((m) => encodeFrame(m)))
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder()
      const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))]
      expect(out.map((f) => f.message)).toEqual(messages)
      expect(decoder.pending).toBe(0)
    }
  })

  it('writes a 4-byte big-endian length', () => {
    const frame = encodeFrame({ x: 1 })
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4)
    expect(frame.subarray(4).toString()).toBe('{"x":1}')
  })

  it('waits for a truncated frame instead of decoding it', () => {
    const frame = encodeFrame({ hello: 'world' })
    const decoder = new FrameDecoder()
    expect(decoder.push(frame.subarray(0, frame.length - 1))).toEqual([])
    expect(decoder.pending).toBe(frame.length - 1)
  })

  it('reports a body that is not JSON without losing the following frames', () => {
    const bad = Buffer.alloc(4 + 5)
    bad.writeUInt32BE(5, 0)
    bad.write('{nope', 4)
    const frames = new FrameDecoder().push(Buffer.concat([bad, encodeFrame({ ok: true })]))
    expect(frames).toHaveLength(2)
    expect(frames[0]!.error?.code).toBe('INVALID_FRAME')
    expect(frames[0]!.error?.message).toBe('invalid frame: frame is not valid JSON')
    expect(frames[1]!.message).toEqual({ ok: true })
  })

  it('refuses an oversized length prefix before buffering the body', () => {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(1025, 0)
    const decoder = new FrameDecoder(1024)
    expect(() => decoder.push(header)).toThrowError('invalid frame: frame of 1025 bytes exceeds the 1024-byte limit')
  })

  it('refuses to encode an oversized message', () => {
    try {
      encodeFrame({ big: 'x'.repeat(2000) }, 1024)
      expect.unreachable()
    } catch (e) {
      expect(isCustodyError(e, 'INVALID_FRAME')).toBe(true)
    }
  })
})

describe('decoder cost is linear in the bytes received', () => {
  /** Bytes copied by Buffer.concat and Buffer#copy while `fn` runs. */
  function bytesCopied(fn: () => void): number {
    let copied = 0
    const concat = Buffer.concat
    const copy = Buffer.prototype.copy
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total)
      copied += out.length
      return out
    }) as typeof Buffer.concat
    Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>) {
      const n = copy.apply(this, args)
      copied += n
      return n
    }
    try {
      fn()
    } finally {
      Buffer.concat = concat
      Buffer.prototype.copy = copy
    }
    return copied
  }

  it('a 100 KB frame trickled one byte at a time copies each byte a bounded number of times', () => {
    const frame = encodeFrame({ blob: 'z'.repeat(100_000) })
    const decoder = new FrameDecoder()
    const out: unknown[] = []
    const copied = bytesCopied(() => {
      for (let i = 0; i < frame.length; i++) out.push(...decoder.push(frame.subarray(i, i + 1)).map((f) => f.message))
    })
    expect(out).toEqual([{ blob: 'z'.repeat(100_000) }])
    // Each byte is copied into the held buffer once, plus the buffer's doublings (< 2× the frame):
    // under 3 copies per byte, where re-joining the pending bytes on every chunk copies ~frame²/2.
    expect(copied).toBeLessThan(3 * frame.length)
  })

  it('holds at most about twice the pending bytes, and gives a large frame\'s buffer back', () => {
    const frame = encodeFrame({ blob: 'q'.repeat(300_000) })
    const decoder = new FrameDecoder()
    for (let i = 0; i < frame.length - 1; i += 977) {
      decoder.push(frame.subarray(i, Math.min(i + 977, frame.length - 1)))
      expect(decoder.allocated).toBeLessThanOrEqual(Math.max(4096, 2 * decoder.pending))
    }
    expect(decoder.pending).toBe(frame.length - 1)
    expect(decoder.push(frame.subarray(frame.length - 1)).map((f) => f.message)).toEqual([{ blob: 'q'.repeat(300_000) }])
    expect(decoder.allocated).toBeLessThanOrEqual(4096)
  })

  it('decodes many frames of one chunk in place and keeps the split header of the next', () => {
    const frames = Array.from({ length: 50 }, (_, i) => encodeFrame({ i }))
    const stream = Buffer.concat(frames)
    const decoder = new FrameDecoder()
    const first = decoder.push(stream.subarray(0, stream.length - frames[49]!.length + 2))
    expect(first).toHaveLength(49)
    expect(decoder.pending).toBe(2)
    expect(decoder.push(stream.subarray(stream.length - frames[49]!.length + 2)).map((f) => f.message)).toEqual([{ i: 49 }])
  })

  it('refuses an oversized length prefix split across chunks', () => {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(5000, 0)
    const decoder = new FrameDecoder(1024)
    expect(decoder.push(header.subarray(0, 3))).toEqual([])
    expect(() => decoder.push(header.subarray(3))).toThrowError('exceeds the 1024-byte limit')
  })
})

describe('what a held frame declares', () => {
  it('reports the declared size once the header is in, and never allocates beyond it', () => {
    const frame = encodeFrame({ blob: 'd'.repeat(10_000) })
    const decoder = new FrameDecoder()
    decoder.push(frame.subarray(0, 3))
    expect(decoder.expected).toBe(0)
    decoder.push(frame.subarray(3, 9_000))
    expect(decoder.expected).toBe(frame.length)
    expect(decoder.allocated).toBeLessThanOrEqual(frame.length)
    decoder.push(frame.subarray(9_000))
    expect(decoder.expected).toBe(0)
  })
})
