import { fail, typeName } from './assert.js'

export type Hex = `0x${string}`

const HEX_RE = /^0x(?:[0-9a-fA-F]{2})*$/

/** Validate a 0x-prefixed, even-length hex string (optionally of exactly `bytes` bytes); returns it lower-cased. */
export function assertHex(value: unknown, field: string, bytes?: number): Hex {
  if (typeof value !== 'string') fail(field, `must be a 0x-prefixed hex string (got ${typeName(value)})`)
  if (!value.startsWith('0x')) fail(field, 'must start with 0x')
  if (!HEX_RE.test(value)) fail(field, 'must be hex with an even number of digits')
  if (bytes !== undefined && value.length !== 2 + 2 * bytes) fail(field, `must be exactly ${bytes} bytes`)
  return value.toLowerCase() as Hex
}

/** Accept a hex string or bytes; return lower-case hex. */
export function toHexData(value: unknown, field: string): Hex {
  if (value instanceof Uint8Array) return bytesToHex(value)
  return assertHex(value, field)
}

export function bytesToHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
}

/** Decode hex into a fresh Uint8Array (callers own it and may zero it). */
export function hexToBytes(hex: Hex | string): Uint8Array {
  const s = hex.startsWith('0x') ? hex.slice(2) : hex
  const out = new Uint8Array(s.length / 2)
  for (let i = 0; i < out.length; i++) {
    const byte = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16)
    if (Number.isNaN(byte)) throw new Error('invalid hex')
    out[i] = byte
  }
  return out
}
