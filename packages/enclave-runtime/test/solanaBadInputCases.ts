/**
 * Hostile Solana transaction messages, encoded field by field from a valid SOL transfer (payer → recipient) so
 * that any field can lie: `solanaBadInputCases(fixture)` builds them around the fixture's fee payer, so that each
 * is a near miss of a message the payer signs. Shared by the module test (solanaBadInput.test.ts:
 * `signSolanaTransaction`, with litesvm's verdict on the same bytes) and the served test
 * (hostilePayloadsServed.test.ts: `sign.solanaTransaction` of a live runtime).
 */
import { base58 } from '@scure/base'
import { TOKEN_PROGRAM } from '../src/families/solana/facts.js'
import type { createRng } from './rng.js'
import { systemTransferData } from './solanaSupport.js'

export const SYSTEM = new Uint8Array(32)
export const TOKEN = base58.decode(TOKEN_PROGRAM)

export const shortU16 = (n: number): number[] => (n < 0x80 ? [n] : n < 0x4000 ? [(n & 0x7f) | 0x80, n >> 7] : [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14])

export type Ix = { program: number; accounts: number[]; data: Uint8Array }
export type Lookup = { table: Uint8Array; writable: number[]; readonly: number[] }
export type Spec = { version?: number; header?: number[]; keys?: Uint8Array[]; blockhash?: Uint8Array; instructions?: Ix[]; lookups?: Lookup[] }

/**
 * One hostile message and the field its refusal names. `svm`: the error litesvm gives the same message (where
 * the rule is the runtime's and the bytes deserialize). `wire`: the field the request schema names when it
 * refuses the base64 before the module sees the bytes (an empty message is no base64 of one byte or more).
 */
export type SolanaBadInputCase = { name: string; message: Uint8Array | string; field: string; svm?: string; wire?: { field: string } }

/** The fee payer (its public key), the recipient, the blockhash, and the generator of lookup-table addresses. */
export type SolanaBadInputFixture = { payer: Uint8Array; recipient: Uint8Array; blockhash: Uint8Array; rng: ReturnType<typeof createRng> }

/**
 * The case table around `fixture`, and the encoder it is written with: `m(spec)` (defaults: the transfer of
 * 1,000,000 lamports payer → recipient, legacy), `legacy` and `v0` (the base messages), `fresh(spec)` (the base
 * transfer with a fresh amount each time: litesvm refuses a replayed transaction), `table(n)` (a lookup-table
 * address drawn from the fixture's generator).
 */
export function solanaBadInputCases({ payer, recipient, blockhash, rng }: SolanaBadInputFixture) {
  /** Encode a message field by field, so that any field can lie. */
  function encode(spec: Spec): Uint8Array {
    const out: number[] = []
    if (spec.version !== undefined) out.push(spec.version)
    out.push(...(spec.header ?? [1, 0, 1]))
    const keys = spec.keys ?? [payer, recipient, SYSTEM]
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

  const table = (n: number) => rng.bytes(32).with(0, n)
  const TABLE = table(1)
  const m = (spec: Spec) => encode(spec)
  const legacy = m({})
  const v0 = m({ version: 0x80 })
  let nonce = 0
  const fresh = (spec: Spec) => m({ ...spec, instructions: [{ program: 2, accounts: [0, 1], data: systemTransferData(1_000_000n + BigInt(++nonce)) }] })

  const cases: SolanaBadInputCase[] = [
    { name: 'an empty message', message: new Uint8Array(0), field: 'message.version', wire: { field: 'message' } },
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
    { name: 'a duplicate static key', message: fresh({ keys: [payer, recipient, SYSTEM, recipient] }), field: 'message.staticAccountKeys[3]', svm: 'AccountLoadedTwice' },
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
      message: m({ header: [20, 0, 0], keys: [payer, ...Array.from({ length: 19 }, () => rng.bytes(32)), SYSTEM], instructions: [] }),
      field: 'message',
    },
    { name: 'invalid base64', message: 'AQID*', field: 'message' },
    { name: 'unpadded base64', message: Buffer.from(legacy).toString('base64').replace(/=+$/, '') + 'A', field: 'message' },
  ]
  return { cases, m, legacy, v0, fresh, table }
}
