/**
 * Hostile Solana transaction messages: each is refused by `signSolanaTransaction` with an InvalidArgumentError
 * naming the field, and nothing is signed (the module's ed25519.sign, counted through a module mock, is never
 * called). Messages built by hand from a valid
 * SOL transfer that litesvm executes; where the rule is the runtime's own, the same bytes sent to litesvm
 * (signature checks off, so that only the message decides) are refused there too: the parser is not stricter
 * by accident nor laxer than the network.
 */
import { isCustodyError } from '@enclave-custody/sdk'
import { base58 } from '@scure/base'
import { lamports } from '@solana/kit'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { solanaFacts, TOKEN_PROGRAM } from '../src/families/solana/facts.js'
import { parseSolanaMessage } from '../src/families/solana/message.js'
import { signSolanaTransaction } from '../src/families/solana/sign.js'
import { createRng } from './rng.js'
import { keyFromSeed, systemTransferData, tokenAmountData } from './solanaSupport.js'

/** Calls of ed25519.sign made by the module under test. */
const signCalls = vi.hoisted(() => ({ count: 0 }))
vi.mock('@noble/curves/ed25519.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/curves/ed25519.js')>()
  const sign: typeof original.ed25519.sign = (...args) => {
    signCalls.count++
    return original.ed25519.sign(...args)
  }
  return { ...original, ed25519: { ...original.ed25519, sign } }
})

const rng = createRng(0x501a_0004)
const payer = keyFromSeed(rng.bytes(32))
const recipient = rng.bytes(32)
const SYSTEM = new Uint8Array(32)
const TOKEN = base58.decode(TOKEN_PROGRAM)

const shortU16 = (n: number): number[] => (n < 0x80 ? [n] : n < 0x4000 ? [(n & 0x7f) | 0x80, n >> 7] : [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14])

type Ix = { program: number; accounts: number[]; data: Uint8Array }
type Lookup = { table: Uint8Array; writable: number[]; readonly: number[] }
type Spec = { version?: number; header?: number[]; keys?: Uint8Array[]; blockhash?: Uint8Array; instructions?: Ix[]; lookups?: Lookup[] }

/** Encode a message field by field, so that any field can lie. Defaults: a SOL transfer payer → recipient. */
function encode(spec: Spec, blockhash: Uint8Array): Uint8Array {
  const out: number[] = []
  if (spec.version !== undefined) out.push(spec.version)
  out.push(...(spec.header ?? [1, 0, 1]))
  const keys = spec.keys ?? [payer.publicKey, recipient, SYSTEM]
  out.push(...shortU16(keys.length))
  for (const k of keys) out.push(...k)
  out.push(...(spec.blockhash ?? blockhash))
  const instructions = spec.instructions ?? [{ program: 2, accounts: [0, 1], data: systemTransferData(1_000_000n) }]
  out.push(...shortU16(instructions.length))
  for (const ix of instructions) out.push(ix.program, ...shortU16(ix.accounts.length), ...ix.accounts, ...shortU16(ix.data.length), ...ix.data)
  if (spec.version !== undefined && spec.version >= 0x80) {
    const lookups = spec.lookups ?? []
    out.push(...shortU16(lookups.length))
    for (const l of lookups) out.push(...l.table, ...shortU16(l.writable.length), ...l.writable, ...shortU16(l.readonly.length), ...l.readonly)
  }
  return Uint8Array.from(out)
}

const svm = new LiteSVM().withSigverify(false)
svm.airdrop(payer.address, lamports(10_000_000_000n))
const blockhash = base58.decode(svm.latestBlockhash())

type Inner = { sendLegacyTransaction(tx: Uint8Array): unknown; sendVersionedTransaction(tx: Uint8Array): unknown }
/**
 * What litesvm makes of the message (one zero signature per required signer; signature checks are off):
 * 'ok', or the transaction error's name. Only for messages that deserialize: litesvm aborts the process on
 * bytes it cannot deserialize.
 */
function svmOutcome(message: Uint8Array): string {
  const sigs = Math.max(1, message[0]! & 0x80 ? message[1]! : message[0]!)
  const tx = Uint8Array.from([...shortU16(sigs), ...new Uint8Array(64 * sigs), ...message])
  const inner = (svm as unknown as { inner: Inner }).inner
  try {
    const result = message[0]! & 0x80 ? inner.sendVersionedTransaction(tx) : inner.sendLegacyTransaction(tx)
    if (!(result instanceof FailedTransactionMetadata)) return 'ok'
    const err = result.err()
    return typeof err === 'number' ? (TX_ERRORS[err] ?? String(err)) : String(err)
  } catch (e) {
    return `threw ${String(e)}`
  }
}
/** litesvm's TransactionErrorFieldless values that the runtime's message checks produce. */
const TX_ERRORS: Record<number, string> = { 1: 'AccountLoadedTwice', 13: 'SanitizeFailure', 22: 'AddressLookupTableNotFound' }

const table = (n: number) => rng.bytes(32).with(0, n)
const TABLE = table(1)
const m = (spec: Spec) => encode(spec, blockhash)
const legacy = m({})
const v0 = m({ version: 0x80 })
let nonce = 0
/** The base transfer with a fresh amount each time (litesvm refuses a replayed transaction). */
const fresh = (spec: Spec) => m({ ...spec, instructions: [{ program: 2, accounts: [0, 1], data: systemTransferData(1_000_000n + BigInt(++nonce)) }] })

/** `svm`: the error litesvm gives the same message (where the rule is the runtime's and the bytes deserialize). */
type Case = { name: string; message: Uint8Array | string; field: string; svm?: string }
const cases: Case[] = [
  { name: 'an empty message', message: new Uint8Array(0), field: 'message.version' },
  { name: 'a header cut short', message: legacy.subarray(0, 2), field: 'message.header.numReadonlyUnsignedAccounts' },
  { name: 'a static key cut short', message: legacy.subarray(0, 4 + 32 + 10), field: 'message.staticAccountKeys[1]' },
  { name: 'a blockhash cut short', message: legacy.subarray(0, 4 + 96 + 31), field: 'message.recentBlockhash' },
  { name: 'instruction data cut short', message: legacy.subarray(0, legacy.length - 1), field: 'message.instructions[0].data' },
  { name: 'v0 lookups missing', message: v0.subarray(0, v0.length - 1), field: 'message.addressTableLookups.length' },
  { name: 'a trailing byte', message: Uint8Array.of(...fresh({}), 0), field: 'message' },
  { name: 'a non-canonical compact-u16 (0x83 0x00 for 3 keys)', message: Uint8Array.of(1, 0, 1, 0x83, 0x00, ...fresh({}).subarray(4)), field: 'message.staticAccountKeys.length' },
  {
    name: 'a compact-u16 over 16 bits',
    message: Uint8Array.of(...legacy.subarray(0, legacy.length - 13), 0xff, 0xff, 0x07, ...systemTransferData(1n)),
    field: 'message.instructions[0].data.length',
  },
  { name: 'a compact-u16 longer than 3 bytes', message: Uint8Array.of(1, 0, 1, 0x83, 0x80, 0x80, 0x00), field: 'message.staticAccountKeys.length' },
  { name: 'version 1 (0x81)', message: Uint8Array.of(0x81, ...fresh({}), 0), field: 'message.version' },
  { name: 'version 127 (0xff)', message: Uint8Array.of(0xff, ...fresh({}), 0), field: 'message.version' },
  { name: 'no signer', message: fresh({ header: [0, 0, 1] }), field: 'message.header.numRequiredSignatures', svm: 'SanitizeFailure' },
  { name: 'a read-only fee payer', message: fresh({ header: [1, 1, 1] }), field: 'message.header.numReadonlySignedAccounts', svm: 'SanitizeFailure' },
  { name: 'more signers than keys', message: fresh({ header: [4, 0, 0] }), field: 'message.header', svm: 'SanitizeFailure' },
  { name: 'more read-only accounts than keys', message: fresh({ header: [1, 0, 3] }), field: 'message.header', svm: 'SanitizeFailure' },
  { name: 'a duplicate static key', message: fresh({ keys: [payer.publicKey, recipient, SYSTEM, recipient] }), field: 'message.staticAccountKeys[3]', svm: 'AccountLoadedTwice' },
  { name: '300 static keys', message: Uint8Array.of(1, 0, 1, ...shortU16(300), ...new Uint8Array(64)), field: 'message.staticAccountKeys.length' },
  { name: 'a program id index out of range', message: m({ instructions: [{ program: 5, accounts: [0, 1], data: systemTransferData(1n) }] }), field: 'message.instructions[0].programIdIndex', svm: 'SanitizeFailure' },
  { name: 'the fee payer as program', message: m({ instructions: [{ program: 0, accounts: [0, 1], data: systemTransferData(1n) }] }), field: 'message.instructions[0].programIdIndex', svm: 'SanitizeFailure' },
  { name: 'an account index out of range', message: m({ instructions: [{ program: 2, accounts: [0, 3], data: systemTransferData(1n) }] }), field: 'message.instructions[0].accountIndices[1]', svm: 'SanitizeFailure' },
  {
    name: 'a program id from a lookup table',
    message: m({ version: 0x80, instructions: [{ program: 3, accounts: [0, 1], data: systemTransferData(1n) }], lookups: [{ table: table(1), writable: [], readonly: [0] }] }),
    field: 'message.instructions[0].programIdIndex',
    svm: 'SanitizeFailure',
  },
  {
    name: 'a lookup account index out of range',
    message: m({ version: 0x80, instructions: [{ program: 2, accounts: [0, 5], data: systemTransferData(1n) }], lookups: [{ table: table(1), writable: [7], readonly: [] }] }),
    field: 'message.instructions[0].accountIndices[1]',
    svm: 'SanitizeFailure',
  },
  {
    name: '257 accounts through a lookup table',
    message: m({ version: 0x80, lookups: [{ table: table(1), writable: Array.from({ length: 200 }, (_, i) => i), readonly: Array.from({ length: 54 }, (_, i) => 200 + i) }] }),
    field: 'message.addressTableLookups',
    svm: 'SanitizeFailure',
  },
  {
    name: '65 lookup tables',
    message: Uint8Array.of(...v0.subarray(0, v0.length - 1), 65, ...Array.from({ length: 20 }, (_, i) => [...table(i), 1, 0, 0]).flat()),
    field: 'message.addressTableLookups.length',
  },
  { name: 'a lookup table loading nothing', message: m({ version: 0x80, lookups: [{ table: table(1), writable: [], readonly: [] }] }), field: 'message.addressTableLookups[0]', svm: 'SanitizeFailure' },
  {
    name: 'the same lookup table twice',
    message: m({ version: 0x80, lookups: [{ table: TABLE, writable: [0], readonly: [] }, { table: table(2), writable: [0], readonly: [] }, { table: TABLE, writable: [1], readonly: [] }] }),
    field: 'message.addressTableLookups[2].tableAddress',
  },
  { name: 'a table entry loaded twice', message: m({ version: 0x80, lookups: [{ table: table(1), writable: [4], readonly: [4] }] }), field: 'message.addressTableLookups[0].readonlyIndexes[0]' },
  { name: 'a message over the packet size', message: Uint8Array.of(...fresh({}), ...new Uint8Array(1200)), field: 'message' },
  {
    name: '20 signatures that overflow the packet',
    message: m({ header: [20, 0, 0], keys: [payer.publicKey, ...Array.from({ length: 19 }, () => rng.bytes(32)), SYSTEM], instructions: [] }),
    field: 'message',
  },
  { name: 'invalid base64', message: 'AQID*', field: 'message' },
  { name: 'unpadded base64', message: Buffer.from(legacy).toString('base64').replace(/=+$/, '') + 'A', field: 'message' },
]

describe('Solana bad input: hostile messages refused, nothing signed', () => {
  afterEach(() => {
    expect(signCalls.count).toBe(0)
  })

  it('the base messages are valid: litesvm executes them and the module signs them', () => {
    expect(svmOutcome(fresh({}))).toBe('ok')
    expect(svmOutcome(fresh({ version: 0x80 }))).toBe('ok')
    expect(signSolanaTransaction({ privateKey: payer.seed, message: legacy }).signerIndex).toBe(0)
    expect(signSolanaTransaction({ privateKey: payer.seed, message: v0 }).signerIndex).toBe(0)
    expect(signCalls.count).toBe(2)
    signCalls.count = 0
  })

  it.each(cases)('refuses $name (field $field)', ({ message, field, svm: runtimeError }) => {
    let error: unknown
    try {
      signSolanaTransaction({ privateKey: payer.seed, message })
    } catch (e) {
      error = e
    }
    expect(isCustodyError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe(field)
    if (runtimeError !== undefined) expect(svmOutcome(message as Uint8Array)).toBe(runtimeError)
  })

  it('refuses a key that is a static key but not a signer, a bad private key and a non-message', () => {
    const recipientKey = keyFromSeed(rng.bytes(32))
    const message = m({ keys: [payer.publicKey, recipientKey.publicKey, SYSTEM] })
    expect(() => signSolanaTransaction({ privateKey: recipientKey.seed, message })).toThrow(/"message.staticAccountKeys" .*not a required signer/)
    expect(() => signSolanaTransaction({ privateKey: payer.seed.subarray(1), message })).toThrow(/"privateKey" must be a 32-byte ed25519 seed/)
    expect(() => signSolanaTransaction({ privateKey: payer.seed, message: 42 as unknown as string })).toThrow(/"message" must be bytes/)
    expect(() => signSolanaTransaction(null as never)).toThrow(/"parameters" must be an object/)
    // Inherited options are not read.
    expect(() => signSolanaTransaction(Object.create({ privateKey: payer.seed, message }))).toThrow(/"privateKey"/)
  })

  it('facts refuse instructions with a known discriminator that do not decode strictly', () => {
    const keys = [payer.publicKey, recipient, SYSTEM, TOKEN]
    const transfer13 = Uint8Array.of(...systemTransferData(1n), 0)
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 2, accounts: [0, 1], data: transfer13 }] }))).toThrow(
      /"message.instructions\[0\].data" is 13 bytes for System transfer/,
    )
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 2, accounts: [0], data: systemTransferData(1n) }] }))).toThrow(/"message.instructions\[0\].accountIndices"/)
    // An unknown System instruction and a parsed message are facts, not errors.
    expect(solanaFacts(parseSolanaMessage(m({ keys, instructions: [{ program: 2, accounts: [0, 1], data: Uint8Array.of(9, 0, 0, 0) }] }))).instructions).toEqual([
      { index: 0, program: '11111111111111111111111111111111', type: 'unknown' },
    ])
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 3, accounts: [1, 0], data: tokenAmountData(12, 5n, 6) }] }))).toThrow(
      /"message.instructions\[0\].accountIndices" name 2 account\(s\) for token transferChecked, which needs 4/,
    )
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 3, accounts: [1, 0, 0], data: tokenAmountData(3, 5n, 6) }] }))).toThrow(
      /"message.instructions\[0\].data" is 10 bytes for token transfer, which takes exactly 9/,
    )
  })
})
