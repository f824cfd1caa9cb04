/**
 * Recursive Length Prefix (RLP), hand-written rather than a library: `decodeRlp` must refuse every
 * non-canonical encoding (a single byte below 0x80 behind a prefix, the long form for a length ≤ 55, a
 * length with leading zero bytes, trailing bytes), so that a transaction has one encoding when the SDK
 * checks what the enclave signed. ethers v6's `decodeRlp` accepts the first three; viem's `fromRlp`
 * refuses them, but viem is only an optional peer dependency of the adapters, and the enclave image,
 * which runs `encodeRlp`, carries neither library.
 */

/** An RLP item: a byte string or a list of items. */
export type RlpItem = Uint8Array | RlpItem[]

const MAX_DEPTH = 16

/**
 * RLP-encode an item (Ethereum Yellow Paper, appendix B).
 *
 * @example
 * encodeRlp([new Uint8Array([1]), []]) // Uint8Array [0xc2, 0x01, 0xc0]
 */
export function encodeRlp(item: RlpItem): Uint8Array {
  const chunks: Uint8Array[] = []
  write(item, chunks, 0)
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

function write(item: RlpItem, chunks: Uint8Array[], depth: number): number {
  if (depth > MAX_DEPTH) throw new Error('RLP item nested too deeply')
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) {
      chunks.push(item)
      return 1
    }
    const header = lengthHeader(item.length, 0x80)
    chunks.push(header, item)
    return header.length + item.length
  }
  const at = chunks.length
  chunks.push(new Uint8Array(0)) // placeholder for the list header
  let length = 0
  for (const child of item) length += write(child, chunks, depth + 1)
  const header = lengthHeader(length, 0xc0)
  chunks[at] = header
  return header.length + length
}

function lengthHeader(length: number, offset: number): Uint8Array {
  if (length <= 55) return Uint8Array.of(offset + length)
  const bytes: number[] = []
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
  return Uint8Array.of(offset + 55 + bytes.length, ...bytes)
}

/**
 * Decode canonical RLP, strictly: the whole input is one item, single bytes below 0x80 are not wrapped,
 * lengths use the short form when they can and have no leading zero bytes, nesting is bounded.
 *
 * @throws Error with a reason on any deviation (callers wrap it in their own error type).
 */
export function decodeRlp(bytes: Uint8Array): RlpItem {
  const [item, end] = read(bytes, 0, bytes.length, 0)
  if (end !== bytes.length) throw new Error('trailing bytes after the RLP item')
  return item
}

function read(bytes: Uint8Array, start: number, limit: number, depth: number): [RlpItem, number] {
  if (depth > MAX_DEPTH) throw new Error('RLP item nested too deeply')
  if (start >= limit) throw new Error('RLP input ends early')
  const prefix = bytes[start]!
  if (prefix < 0x80) return [bytes.slice(start, start + 1), start + 1]
  const isList = prefix >= 0xc0
  const base = isList ? 0xc0 : 0x80
  let length: number
  let offset: number
  if (prefix - base <= 55) {
    length = prefix - base
    offset = start + 1
  } else {
    const lengthOfLength = prefix - base - 55
    if (start + 1 + lengthOfLength > limit) throw new Error('RLP input ends early')
    if (bytes[start + 1] === 0) throw new Error('RLP length has leading zeros')
    length = 0
    for (let i = 0; i < lengthOfLength; i++) length = length * 256 + bytes[start + 1 + i]!
    if (length <= 55) throw new Error('RLP long form used for a short length')
    offset = start + 1 + lengthOfLength
  }
  const end = offset + length
  if (end > limit) throw new Error('RLP input ends early')
  if (!isList) {
    if (length === 1 && bytes[offset]! < 0x80) throw new Error('RLP single byte below 0x80 must not be wrapped')
    return [bytes.slice(offset, end), end]
  }
  const items: RlpItem[] = []
  let at = offset
  while (at < end) {
    const [child, next] = read(bytes, at, end, depth + 1)
    items.push(child)
    at = next
  }
  return [items, end]
}
