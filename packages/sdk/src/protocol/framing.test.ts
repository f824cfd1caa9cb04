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
