import { InvalidArgumentError } from '../../errors/CustodyError.js'

/** The signers of a Solana transaction message: its required signers, in order (their signature slots). */
export type SolanaMessageSigners = { numRequiredSignatures: number; signers: Uint8Array[] }

class Reader {
  at = 0
  constructor(
    readonly bytes: Uint8Array,
    readonly field: string,
  ) {}
  fail(rule: string): never {
    throw new InvalidArgumentError({ field: this.field, rule })
  }
  u8(): number {
    if (this.at >= this.bytes.length) this.fail('is truncated')
    return this.bytes[this.at++]!
  }
  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) this.fail('is truncated')
    const out = this.bytes.slice(this.at, this.at + n)
    this.at += n
    return out
  }
  /** Solana's compact-u16 (canonical: no redundant trailing zero byte, at most 3 bytes). */
  shortvec(): number {
    let value = 0
    for (let i = 0; i < 3; i++) {
      const byte = this.u8()
      if (i === 2 && byte > 0x03) this.fail('holds a compact-u16 that overflows 16 bits')
      if (i > 0 && byte === 0) this.fail('holds a non-canonical compact-u16')
      value |= (byte & 0x7f) << (7 * i)
      if ((byte & 0x80) === 0) return value
    }
    return this.fail('holds a compact-u16 longer than 3 bytes')
  }
}

/**
 * Read a Solana transaction message (legacy or v0) from `at` to its end, structurally: version, header, static
 * keys, blockhash, instructions, v0 lookups. Returns its signers and its length. The enclave parses it strictly
 * (and refuses what the runtime would); the SDK reads it to place and check the signature.
 */
function readMessage(r: Reader): SolanaMessageSigners {
  let first = r.u8()
  const versioned = (first & 0x80) !== 0
  if (versioned) {
    if (first !== 0x80) r.fail(`is a version ${first & 0x7f} message: only legacy and v0 messages are supported`)
    first = r.u8()
  }
  const numRequiredSignatures = first
  r.u8()
  r.u8()
  const keyCount = r.shortvec()
  if (numRequiredSignatures === 0 || numRequiredSignatures > keyCount) r.fail('has a header whose signers are not among its static keys')
  const keys: Uint8Array[] = []
  for (let i = 0; i < keyCount; i++) keys.push(r.take(32))
  r.take(32)
  const instructions = r.shortvec()
  for (let i = 0; i < instructions; i++) {
    r.u8()
    r.take(r.shortvec())
    r.take(r.shortvec())
  }
  if (versioned) {
    const lookups = r.shortvec()
    for (let i = 0; i < lookups; i++) {
      r.take(32)
      r.take(r.shortvec())
      r.take(r.shortvec())
    }
  }
  return { numRequiredSignatures, signers: keys.slice(0, numRequiredSignatures) }
}

/** Whether `bytes` read as one whole message (nothing left over), and its signers. */
function wholeMessage(bytes: Uint8Array, field: string): SolanaMessageSigners | undefined {
  try {
    const r = new Reader(bytes, field)
    const m = readMessage(r)
    return r.at === bytes.length ? m : undefined
  } catch {
    return undefined
  }
}

/**
 * A Solana transaction as a caller gives it: the compiled message (what signers sign), or a whole wire
 * transaction (compact-u16 signature count, the 64-byte signature slots, then the message). Read as a message
 * when the bytes are exactly one message; as a wire transaction when they are its signature slots (one per
 * required signer) and exactly one message; refused when neither, or both, fits.
 *
 * @param bytes - The transaction or message bytes.
 * @param field - Field the errors name.
 * @returns The message bytes, its signers, and the caller's signature slots (all zero for a bare message).
 * @throws InvalidArgumentError naming `field`.
 */
export function readSolanaTransaction(bytes: Uint8Array, field: string): { message: Uint8Array; signers: SolanaMessageSigners; signatures: Uint8Array[] } {
  const asMessage = wholeMessage(bytes, field)
  let asWire: { message: Uint8Array; signers: SolanaMessageSigners; signatures: Uint8Array[] } | undefined
  try {
    const r = new Reader(bytes, field)
    const count = r.shortvec()
    const signatures: Uint8Array[] = []
    for (let i = 0; i < count; i++) signatures.push(r.take(64))
    const message = bytes.slice(r.at)
    const signers = wholeMessage(message, field)
    if (signers !== undefined && signers.numRequiredSignatures === count) asWire = { message, signers, signatures }
  } catch {
    asWire = undefined
  }
  if (asMessage !== undefined && asWire !== undefined) throw new InvalidArgumentError({ field, rule: 'reads both as a message and as a wire transaction: pass the message alone' })
  if (asMessage !== undefined) return { message: bytes.slice(), signers: asMessage, signatures: asMessage.signers.map(() => new Uint8Array(64)) }
  if (asWire !== undefined) return asWire
  throw new InvalidArgumentError({ field, rule: 'must be a Solana transaction message (legacy or v0) or a wire transaction holding one' })
}

/** The signature count and slots of a wire transaction, then its message. */
export function solanaWireTransaction(signatures: readonly Uint8Array[], message: Uint8Array): Uint8Array {
  const n = signatures.length
  const prefix = n < 0x80 ? [n] : [(n & 0x7f) | 0x80, n >> 7]
  const out = new Uint8Array(prefix.length + 64 * n + message.length)
  out.set(prefix)
  for (const [i, s] of signatures.entries()) out.set(s, prefix.length + 64 * i)
  out.set(message, prefix.length + 64 * n)
  return out
}

const SIGNING_DOMAIN = new Uint8Array([0xff, ...new TextEncoder().encode('solana offchain')])

/**
 * The signers of a Solana off-chain message (version 0): signing domain `"\xffsolana offchain"`, version, 32-byte
 * application domain, format, signer count, signers, u16 body length, body (exactly that many bytes).
 *
 * @throws InvalidArgumentError naming `field` when the bytes are not such a message.
 */
export function readSolanaOffchainSigners(bytes: Uint8Array, field: string): Uint8Array[] {
  const r = new Reader(bytes, field)
  if (bytes.length < SIGNING_DOMAIN.length || SIGNING_DOMAIN.some((b, i) => bytes[i] !== b)) r.fail('must start with the off-chain signing domain "\\xffsolana offchain"')
  r.take(SIGNING_DOMAIN.length)
  if (r.u8() !== 0) r.fail('must be a version 0 off-chain message')
  r.take(32)
  if (r.u8() > 2) r.fail('has an unknown format')
  const count = r.u8()
  if (count === 0) r.fail('names no signer')
  const signers: Uint8Array[] = []
  for (let i = 0; i < count; i++) signers.push(r.take(32))
  const length = r.u8() | (r.u8() << 8)
  if (length === 0 || bytes.length - r.at !== length) r.fail('has a body length that disagrees with its body')
  return signers
}
