/**
 * A strict, minimal CBOR (RFC 8949) decoder for attestation documents.
 *
 * It accepts only what a Nitro attestation document needs: unsigned and negative integers, byte and text
 * strings, arrays, maps with integer or text keys, tags, `true`, `false` and `null`. It rejects
 * indefinite lengths, floats, `undefined`, other simple values, duplicate map keys, invalid UTF-8, nesting
 * deeper than `maxDepth` and trailing bytes. Integers above `Number.MAX_SAFE_INTEGER` decode as `bigint`.
 *
 * Hand-written rather than a library because the document comes from the hostile parent and must have
 * one reading: general-purpose decoders are lenient where this one refuses. cbor-x (the tests'
 * cross-check) lets a repeated map key overwrite the first and reads indefinite lengths. Like cbor-x,
 * this decoder takes a head longer than needed: the signature is checked over the payload's own bytes,
 * never over a re-encoding.
 *
 * @internal Not part of the package's public surface.
 */

/** A CBOR tag (major type 6) and the item it wraps. */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** A map key this decoder accepts. */
export type CborKey = number | bigint | string

/** A decoded CBOR item. Byte strings are fresh copies. */
export type CborValue = number | bigint | string | Uint8Array | boolean | null | CborValue[] | Map<CborKey, CborValue> | CborTag

/** Thrown for any malformed or unsupported input. Messages name offsets and types, never content. */
export class CborDecodeError extends Error {
  override name = 'CborDecodeError'
}

/** Options of {@link decodeCbor}. */
export type DecodeCborOptions = {
  /** Deepest nesting of arrays, maps and tags accepted. @default 16 */
  maxDepth?: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Decode exactly one CBOR item that spans all of `bytes`.
 *
 * @param bytes - The encoded item.
 * @param options - Decoding limits.
 * @returns The decoded item.
 * @throws CborDecodeError on malformed, unsupported or trailing input.
 * @example
 * import { decodeCbor } from './cbor.js'
 * decodeCbor(new Uint8Array([0xa1, 0x01, 0x38, 0x22])) // Map { 1 => -35 }
 */
export function decodeCbor(bytes: Uint8Array, { maxDepth = 16 }: DecodeCborOptions = {}): CborValue {
  const reader = new Reader(bytes, maxDepth)
  const value = reader.item(0)
  if (reader.offset !== bytes.length) throw new CborDecodeError(`${bytes.length - reader.offset} trailing byte(s) after the CBOR item`)
  return value
}

class Reader {
  offset = 0
  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {}

  item(depth: number): CborValue {
    if (depth > this.maxDepth) throw new CborDecodeError(`nesting deeper than ${this.maxDepth}`)
    const start = this.offset
    const initial = this.byte()
    const major = initial >> 5
    const info = initial & 0x1f
    if (major === 7) return this.simple(info, start)
    const argument = this.argument(info, start)
    switch (major) {
      case 0:
        return argument <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(argument) : argument
      case 1: {
        const value = -1n - argument
        return value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value
      }
      case 2:
        // A copy, as a plain Uint8Array (Buffer#slice would return a view of the input).
        return new Uint8Array(this.take(this.length(argument, start)))
      case 3:
        try {
          return utf8.decode(this.take(this.length(argument, start)))
        } catch {
          throw new CborDecodeError(`invalid UTF-8 in the text string at offset ${start}`)
        }
      case 4: {
        const count = this.length(argument, start)
        const out: CborValue[] = []
        for (let i = 0; i < count; i++) out.push(this.item(depth + 1))
        return out
      }
      case 5: {
        const count = this.length(argument, start)
        const out = new Map<CborKey, CborValue>()
        for (let i = 0; i < count; i++) {
          const keyOffset = this.offset
          const key = this.item(depth + 1)
          if (typeof key !== 'number' && typeof key !== 'bigint' && typeof key !== 'string') {
            throw new CborDecodeError(`map key at offset ${keyOffset} is not an integer or text string`)
          }
          if (out.has(key)) throw new CborDecodeError(`duplicate map key at offset ${keyOffset}`)
          out.set(key, this.item(depth + 1))
        }
        return out
      }
      default: {
        if (argument > 0xffff_ffffn) throw new CborDecodeError(`tag number too large at offset ${start}`)
        return new CborTag(Number(argument), this.item(depth + 1))
      }
    }
  }

  private simple(info: number, start: number): CborValue {
    if (info === 20) return false
    if (info === 21) return true
    if (info === 22) return null
    if (info === 31) throw new CborDecodeError(`unexpected "break" at offset ${start}`)
    if (info >= 25 && info <= 27) throw new CborDecodeError(`floating-point value at offset ${start} is not supported`)
    throw new CborDecodeError(`unsupported simple value at offset ${start}`)
  }

  /** The head's argument (RFC 8949 §3). Indefinite lengths and reserved values are rejected. */
  private argument(info: number, start: number): bigint {
    if (info < 24) return BigInt(info)
    if (info === 31) throw new CborDecodeError(`indefinite-length item at offset ${start} is not supported`)
    if (info > 27) throw new CborDecodeError(`reserved additional information ${info} at offset ${start}`)
    const size = 1 << (info - 24)
    const raw = this.take(size)
    let value = 0n
    for (const b of raw) value = (value << 8n) | BigInt(b)
    return value
  }

  /** A length or count that fits in what remains of the input (each item takes at least one byte). */
  private length(argument: bigint, start: number): number {
    if (argument > BigInt(this.bytes.length - this.offset)) throw new CborDecodeError(`length at offset ${start} runs past the end of the input`)
    return Number(argument)
  }

  private byte(): number {
    if (this.offset >= this.bytes.length) throw new CborDecodeError('unexpected end of input')
    return this.bytes[this.offset++]!
  }

  private take(n: number): Uint8Array {
    if (this.offset + n > this.bytes.length) throw new CborDecodeError('unexpected end of input')
    const out = this.bytes.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }
}
