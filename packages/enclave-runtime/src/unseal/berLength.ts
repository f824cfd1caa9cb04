/**
 * The encoded length of the first BER element in `bytes` (definite or indefinite lengths), or `undefined`
 * when it is malformed or runs past the end. Used to reject trailing data after a CMS structure, which the
 * ASN.1 schema parser ignores.
 *
 * @internal Not part of the package's public surface.
 * @param bytes - BER input.
 * @param maxDepth - Deepest nesting of indefinite-length elements accepted. @default 32
 * @returns The number of bytes the first element occupies.
 * @example
 * import { berElementLength } from './berLength.js'
 * berElementLength(Uint8Array.of(0x30, 0x80, 0x00, 0x00, 0xff)) // 4
 */
export function berElementLength(bytes: Uint8Array, maxDepth = 32): number | undefined {
  return element(bytes, 0, maxDepth)
}

/** Returns the offset just past the element starting at `offset`. */
function element(bytes: Uint8Array, offset: number, depth: number): number | undefined {
  if (offset >= bytes.length) return undefined
  const tag = bytes[offset++]!
  if ((tag & 0x1f) === 0x1f) {
    // High tag number form: base-128 continuation bytes.
    for (let i = 0; ; i++) {
      if (offset >= bytes.length || i > 4) return undefined
      if ((bytes[offset++]! & 0x80) === 0) break
    }
  }
  if (offset >= bytes.length) return undefined
  const first = bytes[offset++]!
  if (first === 0x80) {
    if ((tag & 0x20) === 0 || depth === 0) return undefined // indefinite length needs a constructed element
    for (;;) {
      if (offset + 1 < bytes.length && bytes[offset] === 0 && bytes[offset + 1] === 0) return offset + 2
      const next = element(bytes, offset, depth - 1)
      if (next === undefined) return undefined
      offset = next
    }
  }
  let length = first
  if (first > 0x80) {
    const count = first & 0x7f
    if (count > 4 || offset + count > bytes.length) return undefined
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset++]!
  }
  const end = offset + length
  return end > bytes.length ? undefined : end
}
