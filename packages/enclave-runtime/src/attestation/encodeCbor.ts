/**
 * A minimal deterministic CBOR (RFC 8949) encoder for the attestation documents the software NSM issues:
 * shortest-form heads, definite lengths, and map entries in insertion order (the order AWS uses).
 *
 * @internal Not part of the package's public surface.
 */

/** What {@link encodeCbor} accepts. Numbers must be safe integers; use `bigint` beyond that. */
export type CborInput = number | bigint | string | Uint8Array | boolean | null | readonly CborInput[] | ReadonlyMap<number | string, CborInput>

/**
 * Encode a value as CBOR.
 *
 * @param value - Integers, text, bytes, booleans, null, arrays and maps (integer or text keys).
 * @returns The encoding.
 * @throws TypeError for anything else (floats, undefined, objects).
 * @example
 * import { encodeCbor } from './encodeCbor.js'
 * encodeCbor(new Map([[1, -35]])) // a1 01 38 22
 */
export function encodeCbor(value: CborInput): Uint8Array {
  const chunks: Uint8Array[] = []
  write(value, chunks)
  return Buffer.concat(chunks)
}

function write(value: CborInput, out: Uint8Array[]): void {
  if (value === null) out.push(Uint8Array.of(0xf6))
  else if (value === false) out.push(Uint8Array.of(0xf4))
  else if (value === true) out.push(Uint8Array.of(0xf5))
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('encodeCbor: numbers must be safe integers')
    writeInteger(BigInt(value), out)
  } else if (typeof value === 'bigint') writeInteger(value, out)
  else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8')
    out.push(head(3, BigInt(bytes.length)), bytes)
  } else if (value instanceof Uint8Array) {
    out.push(head(2, BigInt(value.length)), value)
  } else if (Array.isArray(value)) {
    out.push(head(4, BigInt(value.length)))
    for (const item of value as readonly CborInput[]) write(item, out)
  } else if (value instanceof Map) {
    out.push(head(5, BigInt(value.size)))
    for (const [key, item] of value as ReadonlyMap<number | string, CborInput>) {
      write(key, out)
      write(item, out)
    }
  } else {
    throw new TypeError('encodeCbor: unsupported value')
  }
}

function writeInteger(value: bigint, out: Uint8Array[]): void {
  if (value >= 0n) out.push(head(0, value))
  else out.push(head(1, -1n - value))
}

function head(major: number, argument: bigint): Uint8Array {
  if (argument < 0n || argument >= 2n ** 64n) throw new TypeError('encodeCbor: integer out of range')
  const m = major << 5
  if (argument < 24n) return Uint8Array.of(m | Number(argument))
  if (argument < 0x100n) return Uint8Array.of(m | 24, Number(argument))
  if (argument < 0x10000n) return Uint8Array.of(m | 25, ...bigEndian(argument, 2))
  if (argument < 0x1_0000_0000n) return Uint8Array.of(m | 26, ...bigEndian(argument, 4))
  return Uint8Array.of(m | 27, ...bigEndian(argument, 8))
}

function bigEndian(value: bigint, size: number): number[] {
  const out: number[] = []
  for (let i = size - 1; i >= 0; i--) out.push(Number((value >> BigInt(8 * i)) & 0xffn))
  return out
}
