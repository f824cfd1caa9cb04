import { InvalidArgumentError } from '@enclave-custody/sdk'

/** The 16 bytes every off-chain message starts with: `"\xffsolana offchain"` (no transaction message can). */
const SOLANA_OFFCHAIN_SIGNING_DOMAIN: Uint8Array = new Uint8Array([0xff, ...new TextEncoder().encode('solana offchain')])

/** Largest off-chain message (preamble and body) of formats 0 and 1: what a hardware wallet can sign. */
export const SOLANA_OFFCHAIN_MAX_LEDGER_MESSAGE = 1232

/**
 * A v0 off-chain message's format: 0 restricted ASCII (0x20–0x7e) and 1 UTF-8, both with the whole message at
 * most {@link SOLANA_OFFCHAIN_MAX_LEDGER_MESSAGE} bytes; 2 UTF-8 of up to 65535 bytes.
 */
export type SolanaOffchainMessageFormat = 0 | 1 | 2

/** A Solana off-chain message (version 0) as the enclave parsed it. */
export type SolanaOffchainMessage = {
  version: 0
  /** 32 arbitrary bytes naming the application (shown base58). */
  applicationDomain: Uint8Array
  format: SolanaOffchainMessageFormat
  /** The public keys (32 bytes each, no duplicates) that must sign. */
  signers: readonly Uint8Array[]
  /** The message text. */
  text: string
}

const PREAMBLE_FIXED = 16 + 1 + 32 + 1 + 1 + 2

/**
 * Parse a Solana off-chain message, version 0, strictly, in the layout of @solana/kit's
 * `getOffchainMessageV0Codec` (the Solana off-chain message signing proposal): signing domain
 * `"\xffsolana offchain"` (16 bytes), version (u8, 0), application domain (32 bytes), format (u8, 0–2),
 * signer count (u8, ≥ 1), signers (32 bytes each), body length (u16 little-endian), body.
 *
 * Refused: another signing domain or version (v1 is not supported yet), an unknown format, no signer or a
 * signer twice, an empty body or one with a NUL byte or a leading byte-order mark, a length that disagrees with the body (truncated or trailing bytes), a
 * format-0 body outside printable ASCII, a body of formats 1–2 that is not valid UTF-8, and a format-0/1
 * message over {@link SOLANA_OFFCHAIN_MAX_LEDGER_MESSAGE} bytes in all.
 *
 * @param bytes - The message bytes (what is signed), only read.
 * @param field - Prefix of the field errors name. @default 'message'
 * @returns The parsed message.
 * @throws InvalidArgumentError naming the offending field and rule.
 * @example
 * import { getOffchainMessageV0Codec } from '@solana/kit'
 * parseSolanaOffchainMessage(getOffchainMessageV0Codec().encode(message)).text
 */
export function parseSolanaOffchainMessage(bytes: Uint8Array, field = 'message'): SolanaOffchainMessage {
  const fail = (at: string, rule: string): never => {
    throw new InvalidArgumentError({ field: `${field}${at}`, rule })
  }
  if (!(bytes instanceof Uint8Array)) return fail('', 'must be bytes')
  const domain = SOLANA_OFFCHAIN_SIGNING_DOMAIN
  if (bytes.length < domain.length || domain.some((b, i) => bytes[i] !== b)) {
    return fail('.signingDomain', 'must be "\\xffsolana offchain": this is not a Solana off-chain message')
  }
  if (bytes.length < PREAMBLE_FIXED) return fail('', `is truncated: ${bytes.length} bytes, a preamble needs at least ${PREAMBLE_FIXED}`)
  let at = domain.length
  const version = bytes[at++]!
  if (version !== 0) fail('.version', `is ${version}: only version 0 off-chain messages are supported`)
  const applicationDomain = bytes.slice(at, at + 32)
  at += 32
  const format = bytes[at++]!
  if (format > 2) fail('.format', `is ${format}: must be 0 (restricted ASCII), 1 (UTF-8, ≤ 1232 bytes) or 2 (UTF-8, ≤ 65535 bytes)`)
  const signerCount = bytes[at++]!
  if (signerCount === 0) fail('.signers', 'is empty: an off-chain message names at least one signer')
  if (bytes.length < at + 32 * signerCount + 2) return fail('.signers', `is truncated: ${signerCount} signer(s) and the body length do not fit in ${bytes.length} bytes`)
  const signers: Uint8Array[] = []
  const seen = new Set<string>()
  for (let i = 0; i < signerCount; i++) {
    const key = bytes.slice(at, at + 32)
    at += 32
    const hex = Buffer.from(key).toString('hex')
    if (seen.has(hex)) fail(`.signers[${i}]`, 'is listed twice: each signer appears once')
    seen.add(hex)
    signers.push(key)
  }
  const length = bytes[at]! | (bytes[at + 1]! << 8)
  at += 2
  if (length === 0) fail('.length', 'is 0: the message body must not be empty')
  if (bytes.length - at !== length) {
    fail('.length', `is ${length} but ${bytes.length - at} byte(s) follow the preamble: ${bytes.length - at < length ? 'truncated' : 'trailing bytes'}`)
  }
  const body = bytes.subarray(at)
  if (format !== 2 && bytes.length > SOLANA_OFFCHAIN_MAX_LEDGER_MESSAGE) {
    fail('', `is ${bytes.length} bytes: format ${format} allows at most ${SOLANA_OFFCHAIN_MAX_LEDGER_MESSAGE} in all`)
  }
  if (format === 0 && body.some((b) => b < 0x20 || b > 0x7e)) fail('.body', 'must be printable ASCII (0x20–0x7e) in format 0')
  // @solana/kit's decoder drops NUL characters and a byte-order mark, then refuses the length: so do we.
  if (body.includes(0)) fail('.body', 'contains a NUL byte')
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) fail('.body', 'starts with a UTF-8 byte-order mark')
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body)
  } catch {
    return fail('.body', 'is not valid UTF-8')
  }
  return { version: 0, applicationDomain, format: format as SolanaOffchainMessageFormat, signers, text }
}
