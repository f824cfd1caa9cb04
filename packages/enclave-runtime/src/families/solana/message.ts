import { InvalidArgumentError } from '@enclave-custody/sdk'
import { base64 } from '@scure/base'

/** Largest serialized Solana transaction (signatures + message) the network accepts, in bytes (legacy and v0). */
export const SOLANA_MAX_TRANSACTION_SIZE = 1232
/** Most accounts a message may reference: static keys plus every account loaded through lookup tables. */
export const SOLANA_MAX_ACCOUNTS = 256
/** Most address lookup tables this parser accepts in a v0 message. */
export const SOLANA_MAX_LOOKUP_TABLES = 64

/** The three counts of a message header. */
export type SolanaMessageHeader = {
  /** Signatures the transaction needs: the first this many static keys sign (the first pays fees). */
  numRequiredSignatures: number
  /** The last this many of the signers are read-only. */
  numReadonlySignedAccounts: number
  /** The last this many of the static keys that do not sign are read-only. */
  numReadonlyUnsignedAccounts: number
}

/** A compiled instruction: indices into the message's accounts (static keys, then lookup accounts). */
export type SolanaCompiledInstruction = {
  /** Index of the program id: always a static key other than the fee payer. */
  programIdIndex: number
  /** Indices of the instruction's accounts, in order; each < the message's total account count. */
  accountIndices: readonly number[]
  /** Instruction data, as sent to the program. */
  data: Uint8Array
}

/** A v0 address table lookup: which entries of an on-chain table the message loads, writable and read-only. */
export type SolanaAddressTableLookup = {
  /** The lookup table account's address (32 bytes). */
  tableAddress: Uint8Array
  writableIndexes: readonly number[]
  readonlyIndexes: readonly number[]
}

/** A Solana transaction message (legacy or v0) as the enclave parsed it. */
export type SolanaMessage = {
  version: 'legacy' | 0
  header: SolanaMessageHeader
  /** Static account keys, 32 bytes each, no duplicates: signers first (the fee payer at 0). */
  staticAccountKeys: readonly Uint8Array[]
  /** The recent blockhash (or durable nonce value), 32 bytes. */
  recentBlockhash: Uint8Array
  instructions: readonly SolanaCompiledInstruction[]
  /** v0 lookups (empty for legacy). */
  addressTableLookups: readonly SolanaAddressTableLookup[]
  /** Static keys plus every account loaded through lookups: the bound of instruction account indices. */
  totalAccounts: number
}

/**
 * One account of a message by index, as far as the message itself tells: a static key is known (with its
 * signer and writable flags as the header declares them); an account loaded through a lookup table is only
 * "entry `tableIndex` of table `tableAddress`", whose address the message does not contain (the table's
 * on-chain contents decide it, at execution time).
 */
export type SolanaMessageAccount =
  | { source: 'static'; index: number; key: Uint8Array; signer: boolean; writable: boolean }
  | { source: 'lookup'; index: number; tableAddress: Uint8Array; tableIndex: number; writable: boolean }

class Reader {
  offset = 0
  constructor(
    readonly bytes: Uint8Array,
    readonly root: string,
  ) {}

  fail(field: string, rule: string): never {
    throw new InvalidArgumentError({ field: `${this.root}${field}`, rule })
  }

  need(n: number, field: string): void {
    if (this.bytes.length - this.offset < n) {
      this.fail(field, `is truncated: needs ${n} byte(s) at offset ${this.offset}, the message has ${this.bytes.length - this.offset} left`)
    }
  }

  u8(field: string): number {
    this.need(1, field)
    return this.bytes[this.offset++]!
  }

  take(n: number, field: string): Uint8Array {
    this.need(n, field)
    const out = this.bytes.slice(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  /**
   * A compact-u16 ("short_vec" length), canonically: 1 to 3 bytes of 7 bits each (little-endian), the third
   * holding at most 2 bits, and no redundant trailing zero byte (as Solana's own decoder requires).
   */
  compactU16(field: string): number {
    let value = 0
    for (let i = 0; i < 3; i++) {
      const byte = this.u8(field)
      if (i === 2 && byte > 0x03) this.fail(field, 'is not a valid compact-u16: it overflows 16 bits')
      if (i > 0 && byte === 0) this.fail(field, 'is not a canonical compact-u16: it ends with a redundant zero byte')
      value |= (byte & 0x7f) << (7 * i)
      if ((byte & 0x80) === 0) return value
    }
    return this.fail(field, 'is not a valid compact-u16: longer than 3 bytes')
  }
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex')

/**
 * Parse a Solana transaction message (the bytes that signers sign), legacy or v0, strictly. The rules are
 * those of the Solana runtime's sanitisation (a message it would refuse is refused here) plus a few stricter
 * ones, so that what the enclave reads is exactly what the network will execute:
 *
 * - version: a first byte with the high bit clear is a legacy header; `0x80` is v0; any other version
 *   (`0x81`… including v1) is refused;
 * - header: at least one signer and the fee payer writable (`numReadonlySignedAccounts <
 *   numRequiredSignatures`); `numRequiredSignatures + numReadonlyUnsignedAccounts ≤` static keys;
 * - static keys: compact-u16 count ≤ 256, 32 bytes each, no duplicates;
 * - instructions: the program id a static key other than the fee payer (never a lookup account); every
 *   account index below the total account count (static keys + lookup accounts);
 * - v0 lookups: at most 64 tables, no table twice, each loading at least one account, no entry of a table
 *   twice; static + lookup accounts ≤ 256;
 * - compact-u16 lengths canonical; no truncation; no trailing byte; the whole transaction (its signatures
 *   and this message) within {@link SOLANA_MAX_TRANSACTION_SIZE}.
 *
 * What the message cannot tell (the addresses behind lookup entries, and so duplicates between them and
 * static keys) is not guessed: see {@link solanaMessageAccount}.
 *
 * @param bytes - The message bytes, only read (the result holds copies).
 * @param field - Prefix of the field errors name. @default 'message'
 * @returns The parsed message.
 * @throws InvalidArgumentError naming the offending field (e.g. `message.instructions[1].programIdIndex`)
 *   and the rule it breaks.
 * @example
 * import { compileTransactionMessage, getCompiledTransactionMessageEncoder } from '@solana/kit'
 * const parsed = parseSolanaMessage(getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(tx)))
 * parsed.staticAccountKeys[0] // the fee payer's 32-byte key
 */
export function parseSolanaMessage(bytes: Uint8Array, field = 'message'): SolanaMessage {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError({ field, rule: 'must be bytes' })
  // Bounded work: a message can never be longer than a transaction with one signature allows.
  const maxMessage = SOLANA_MAX_TRANSACTION_SIZE - 1 - 64
  if (bytes.length > maxMessage) {
    throw new InvalidArgumentError({ field, rule: `is ${bytes.length} bytes: a transaction message is at most ${maxMessage} bytes` })
  }
  const r = new Reader(bytes, field)
  const first = r.u8('.version')
  let version: 'legacy' | 0 = 'legacy'
  if (first & 0x80) {
    const v = first & 0x7f
    if (v !== 0) r.fail('.version', `is ${v}: only legacy and v0 messages are supported`)
    version = 0
  } else {
    r.offset = 0
  }
  const header: SolanaMessageHeader = {
    numRequiredSignatures: r.u8('.header.numRequiredSignatures'),
    numReadonlySignedAccounts: r.u8('.header.numReadonlySignedAccounts'),
    numReadonlyUnsignedAccounts: r.u8('.header.numReadonlyUnsignedAccounts'),
  }
  if (header.numRequiredSignatures === 0) r.fail('.header.numRequiredSignatures', 'must be at least 1 (the fee payer signs)')
  if (header.numReadonlySignedAccounts >= header.numRequiredSignatures) {
    r.fail(
      '.header.numReadonlySignedAccounts',
      `is ${header.numReadonlySignedAccounts}: must be below numRequiredSignatures (${header.numRequiredSignatures}) so that the fee payer is writable`,
    )
  }

  const keyCount = r.compactU16('.staticAccountKeys.length')
  if (keyCount > SOLANA_MAX_ACCOUNTS) r.fail('.staticAccountKeys.length', `is ${keyCount}: a message has at most ${SOLANA_MAX_ACCOUNTS} accounts`)
  if (header.numRequiredSignatures + header.numReadonlyUnsignedAccounts > keyCount) {
    r.fail(
      '.header',
      `declares ${header.numRequiredSignatures} signer(s) and ${header.numReadonlyUnsignedAccounts} read-only unsigned account(s) but the message has ${keyCount} static key(s)`,
    )
  }
  const staticAccountKeys: Uint8Array[] = []
  const seen = new Map<string, number>()
  for (let i = 0; i < keyCount; i++) {
    const key = r.take(32, `.staticAccountKeys[${i}]`)
    const hex = hexOf(key)
    const earlier = seen.get(hex)
    if (earlier !== undefined) r.fail(`.staticAccountKeys[${i}]`, `duplicates staticAccountKeys[${earlier}]: an account appears once`)
    seen.set(hex, i)
    staticAccountKeys.push(key)
  }
  const recentBlockhash = r.take(32, '.recentBlockhash')

  const instructionCount = r.compactU16('.instructions.length')
  const instructions: SolanaCompiledInstruction[] = []
  for (let i = 0; i < instructionCount; i++) {
    const at = `.instructions[${i}]`
    const programIdIndex = r.u8(`${at}.programIdIndex`)
    const accountCount = r.compactU16(`${at}.accountIndices.length`)
    const accountIndices = Array.from(r.take(accountCount, `${at}.accountIndices`))
    const dataLength = r.compactU16(`${at}.data.length`)
    const data = r.take(dataLength, `${at}.data`)
    instructions.push({ programIdIndex, accountIndices, data })
  }

  const addressTableLookups: SolanaAddressTableLookup[] = []
  let lookupAccounts = 0
  if (version === 0) {
    const tableCount = r.compactU16('.addressTableLookups.length')
    if (tableCount > SOLANA_MAX_LOOKUP_TABLES) {
      r.fail('.addressTableLookups.length', `is ${tableCount}: at most ${SOLANA_MAX_LOOKUP_TABLES} lookup tables are accepted`)
    }
    const tables = new Map<string, number>()
    for (let t = 0; t < tableCount; t++) {
      const at = `.addressTableLookups[${t}]`
      const tableAddress = r.take(32, `${at}.tableAddress`)
      const hex = hexOf(tableAddress)
      const earlier = tables.get(hex)
      if (earlier !== undefined) r.fail(`${at}.tableAddress`, `duplicates addressTableLookups[${earlier}].tableAddress: a table is looked up once`)
      tables.set(hex, t)
      const writableIndexes = Array.from(r.take(r.compactU16(`${at}.writableIndexes.length`), `${at}.writableIndexes`))
      const readonlyIndexes = Array.from(r.take(r.compactU16(`${at}.readonlyIndexes.length`), `${at}.readonlyIndexes`))
      if (writableIndexes.length + readonlyIndexes.length === 0) r.fail(at, 'loads no account: each lookup table must load at least one')
      const entries = new Set<number>()
      for (const [list, indexes] of [
        ['writableIndexes', writableIndexes],
        ['readonlyIndexes', readonlyIndexes],
      ] as const) {
        for (const [k, entry] of indexes.entries()) {
          if (entries.has(entry)) r.fail(`${at}.${list}[${k}]`, `loads table entry ${entry} a second time: an account is loaded once`)
          entries.add(entry)
        }
      }
      lookupAccounts += entries.size
      addressTableLookups.push({ tableAddress, writableIndexes, readonlyIndexes })
    }
  }
  if (r.offset !== bytes.length) r.fail('', `has ${bytes.length - r.offset} trailing byte(s) after the message`)

  const totalAccounts = keyCount + lookupAccounts
  if (totalAccounts > SOLANA_MAX_ACCOUNTS) {
    r.fail('.addressTableLookups', `load ${lookupAccounts} account(s) beside ${keyCount} static key(s): a message has at most ${SOLANA_MAX_ACCOUNTS} accounts`)
  }
  for (const [i, ix] of instructions.entries()) {
    const at = `.instructions[${i}]`
    if (ix.programIdIndex === 0) r.fail(`${at}.programIdIndex`, 'is 0, the fee payer: a program cannot pay fees')
    if (ix.programIdIndex >= keyCount) {
      r.fail(
        `${at}.programIdIndex`,
        ix.programIdIndex < totalAccounts
          ? `is ${ix.programIdIndex}, an account from a lookup table: a program id must be a static key`
          : `is ${ix.programIdIndex}: out of range of the ${keyCount} static key(s)`,
      )
    }
    for (const [k, index] of ix.accountIndices.entries()) {
      if (index >= totalAccounts) r.fail(`${at}.accountIndices[${k}]`, `is ${index}: out of range of the message's ${totalAccounts} account(s)`)
    }
  }

  const sigs = header.numRequiredSignatures
  const transactionSize = (sigs < 0x80 ? 1 : 2) + 64 * sigs + bytes.length
  if (transactionSize > SOLANA_MAX_TRANSACTION_SIZE) {
    r.fail('', `with its ${sigs} signature(s) makes a ${transactionSize}-byte transaction: the limit is ${SOLANA_MAX_TRANSACTION_SIZE}`)
  }
  return { version, header, staticAccountKeys, recentBlockhash, instructions, addressTableLookups, totalAccounts }
}

/**
 * One account of a parsed message by index (the index space of instruction accounts): static keys first,
 * then the writable entries of every lookup table (table by table), then their read-only entries, as the
 * runtime loads them.
 *
 * Static keys' flags are the header's; the runtime may still demote a writable account (a program id, a
 * sysvar, a reserved account) to read-only. A lookup account's address is not in the message: it is
 * reported as an entry of its table, never guessed.
 *
 * @param message - From {@link parseSolanaMessage}.
 * @param index - An account index below `message.totalAccounts`.
 * @returns The account.
 * @throws RangeError when the index is out of range (a parsed message's instructions never are).
 */
export function solanaMessageAccount(message: SolanaMessage, index: number): SolanaMessageAccount {
  const { header, staticAccountKeys: keys } = message
  if (!Number.isInteger(index) || index < 0 || index >= message.totalAccounts) throw new RangeError(`account index ${index} out of range`)
  if (index < keys.length) {
    const signer = index < header.numRequiredSignatures
    const writable = signer ? index < header.numRequiredSignatures - header.numReadonlySignedAccounts : index < keys.length - header.numReadonlyUnsignedAccounts
    return { source: 'static', index, key: keys[index]!, signer, writable }
  }
  let rest = index - keys.length
  for (const writable of [true, false]) {
    for (const lookup of message.addressTableLookups) {
      const list = writable ? lookup.writableIndexes : lookup.readonlyIndexes
      if (rest < list.length) return { source: 'lookup', index, tableAddress: lookup.tableAddress, tableIndex: list[rest]!, writable }
      rest -= list.length
    }
  }
  throw new RangeError(`account index ${index} out of range`)
}

/**
 * Message bytes from bytes (copied) or strict base64 (standard alphabet, padded, canonical).
 *
 * @param message - Bytes or base64.
 * @param field - Field the error names. @default 'message'
 * @returns A copy of the bytes.
 * @throws InvalidArgumentError naming `field` for anything else.
 * @example
 * solanaPayloadBytes('AQID') // Uint8Array [1, 2, 3]
 */
export function solanaPayloadBytes(message: unknown, field = 'message'): Uint8Array {
  if (message instanceof Uint8Array) return message.slice()
  if (typeof message === 'string') {
    try {
      return base64.decode(message)
    } catch {
      throw new InvalidArgumentError({ field, rule: 'must be bytes or standard padded base64' })
    }
  }
  throw new InvalidArgumentError({ field, rule: 'must be bytes or standard padded base64' })
}
