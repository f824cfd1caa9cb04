import { InvalidArgumentError } from '@enclave-custody/sdk'
import { type SolanaAddress, solanaAddress } from './address.js'
import { parseSolanaMessage, type SolanaMessage, solanaMessageAccount, solanaPayloadBytes } from './message.js'

/** The System Program. */
export const SYSTEM_PROGRAM = '11111111111111111111111111111111'
/** The SPL Token program. */
export const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA'
/** The SPL Token-2022 program. */
export const TOKEN_2022_PROGRAM = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb'

/**
 * An account an instruction names: a static key is `known` with its address; an account loaded through a v0
 * lookup table is `unknown`: the message holds only the table and the entry, and the table's on-chain
 * contents (which can change until the transaction lands, unless the table is frozen) decide the address.
 */
export type SolanaAccountFact =
  | { known: true; address: SolanaAddress }
  | { known: false; lookupTable: SolanaAddress; lookupIndex: number; writable: boolean }

/** What one instruction does, as far as the enclave decodes it. */
export type SolanaInstructionFact =
  | { index: number; program: SolanaAddress; type: 'systemTransfer'; lamports: bigint; from: SolanaAccountFact; to: SolanaAccountFact }
  | {
      index: number
      program: SolanaAddress
      type: 'tokenTransfer'
      /** `transfer` (no mint, no decimals) or `transferChecked`. */
      instruction: 'transfer' | 'transferChecked'
      source: SolanaAccountFact
      destination: SolanaAccountFact
      /** transferChecked only. */
      mint?: SolanaAccountFact
      authority: SolanaAccountFact
      amount: bigint
      /** transferChecked only. */
      decimals?: number
    }
  | {
      index: number
      program: SolanaAddress
      type: 'tokenApprove'
      instruction: 'approve' | 'approveChecked'
      source: SolanaAccountFact
      delegate: SolanaAccountFact
      /** approveChecked only. */
      mint?: SolanaAccountFact
      owner: SolanaAccountFact
      amount: bigint
      /** approveChecked only. */
      decimals?: number
    }
  | { index: number; program: SolanaAddress; type: 'unknown' }

/** The policy facts of a Solana transaction message. */
export type SolanaFacts = {
  family: 'solana'
  kind: 'solanaTransaction'
  version: 'legacy' | 0
  /** The first static key: it pays the fees (and signs). */
  feePayer: SolanaAddress
  /** The required signers (the first `numRequiredSignatures` static keys), in order. */
  signers: readonly SolanaAddress[]
  /** Every invoked top-level program, once each, in order of first use (always static keys: never guessed). */
  programIds: readonly SolanaAddress[]
  recentBlockhash: SolanaAddress
  /** The v0 lookup tables the message loads accounts from (empty for legacy). */
  lookupTables: readonly SolanaAddress[]
  /** Whether any instruction names an account loaded through a lookup table. */
  usesLookupAccounts: boolean
  /** Sum of the lamports of all System Program transfers (whatever their accounts). */
  systemTransferLamports: bigint
  /** One fact per instruction, in order. */
  instructions: readonly SolanaInstructionFact[]
}

const u64 = (data: Uint8Array, at: number) => new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(at, true)

/**
 * The policy facts of a Solana transaction message (legacy or v0):
 * - `family` 'solana', `kind` 'solanaTransaction', `version`, `feePayer`, `signers`, `recentBlockhash`;
 * - `programIds`: every top-level program (a program id is always a static key, so always known);
 * - System Program `transfer` (discriminator 2, exactly 12 bytes of data): `lamports`, `from`, `to`;
 * - SPL Token and Token-2022 `transfer` (3, 9 bytes), `approve` (4, 9 bytes), `transferChecked` (12, 10 bytes)
 *   and `approveChecked` (13, 10 bytes): `source`, `destination` / `delegate`, `mint` (checked variants),
 *   the authority / owner, `amount`, `decimals` (checked variants);
 * - any other instruction (including other System or Token instructions, and Token-2022 extensions such as
 *   transfers with fee): `type: 'unknown'` with its program.
 *
 * v0 lookup tables: what is known is the table address and the entry index of each loaded account, and
 * whether it is loaded writable; what is not known is the address behind the entry (the table's on-chain
 * contents decide it). Such accounts are `{ known: false, lookupTable, lookupIndex, writable }`, never
 * guessed, and `usesLookupAccounts` is true. Program ids cannot come from a lookup (the parser refuses it),
 * and signers (so the fee payer and a transfer's signing `from`) are always static keys on-chain.
 *
 * No fact is guessed: an instruction with a known discriminator whose data has another length, or that names
 * too few accounts, makes extraction throw (the programs would either fail or read it differently from a
 * strict decoder: the System Program and SPL Token ignore trailing data), so that it is never signed.
 *
 * @param message - A parsed message, or message bytes / base64 (then parsed strictly).
 * @returns The message's facts.
 * @throws InvalidArgumentError naming the message field (e.g. `message.instructions[0].data`) and rule.
 * @example
 * solanaFacts(messageBytes).instructions[0]
 * // { index: 0, program: '11111111111111111111111111111111', type: 'systemTransfer', lamports: 1000n, from, to }
 */
export function solanaFacts(message: SolanaMessage | Uint8Array | string): SolanaFacts {
  const parsed = message instanceof Uint8Array || typeof message === 'string' ? parseSolanaMessage(solanaPayloadBytes(message)) : message
  const keys = parsed.staticAccountKeys
  const programIds: SolanaAddress[] = []
  let usesLookupAccounts = false
  let systemTransferLamports = 0n
  const instructions = parsed.instructions.map((ix, index): SolanaInstructionFact => {
    const program = solanaAddress(keys[ix.programIdIndex]!)
    if (!programIds.includes(program)) programIds.push(program)
    const account = (k: number): SolanaAccountFact => {
      const a = solanaMessageAccount(parsed, ix.accountIndices[k]!)
      if (a.source === 'static') return { known: true, address: solanaAddress(a.key) }
      usesLookupAccounts = true
      return { known: false, lookupTable: solanaAddress(a.tableAddress), lookupIndex: a.tableIndex, writable: a.writable }
    }
    const for_ = `message.instructions[${index}]`
    const strict = (name: string, dataLength: number, accounts: number) => {
      if (ix.data.length !== dataLength) {
        throw new InvalidArgumentError({
          field: `${for_}.data`,
          rule: `is ${ix.data.length} bytes for ${name}, which takes exactly ${dataLength}: refused rather than read differently from the program`,
        })
      }
      if (ix.accountIndices.length < accounts) {
        throw new InvalidArgumentError({ field: `${for_}.accountIndices`, rule: `name ${ix.accountIndices.length} account(s) for ${name}, which needs ${accounts}` })
      }
    }
    if (ix.accountIndices.some((i) => i >= keys.length)) usesLookupAccounts = true
    const { data } = ix
    if (program === SYSTEM_PROGRAM && data.length >= 4 && data[0] === 2 && data[1] === 0 && data[2] === 0 && data[3] === 0) {
      strict('System transfer', 12, 2)
      const lamports = u64(data, 4)
      systemTransferLamports += lamports
      return { index, program, type: 'systemTransfer', lamports, from: account(0), to: account(1) }
    }
    if ((program === TOKEN_PROGRAM || program === TOKEN_2022_PROGRAM) && data.length >= 1) {
      switch (data[0]) {
        case 3:
          strict('token transfer', 9, 3)
          return { index, program, type: 'tokenTransfer', instruction: 'transfer', source: account(0), destination: account(1), authority: account(2), amount: u64(data, 1) }
        case 4:
          strict('token approve', 9, 3)
          return { index, program, type: 'tokenApprove', instruction: 'approve', source: account(0), delegate: account(1), owner: account(2), amount: u64(data, 1) }
        case 12:
          strict('token transferChecked', 10, 4)
          return {
            index,
            program,
            type: 'tokenTransfer',
            instruction: 'transferChecked',
            source: account(0),
            mint: account(1),
            destination: account(2),
            authority: account(3),
            amount: u64(data, 1),
            decimals: data[9]!,
          }
        case 13:
          strict('token approveChecked', 10, 4)
          return {
            index,
            program,
            type: 'tokenApprove',
            instruction: 'approveChecked',
            source: account(0),
            mint: account(1),
            delegate: account(2),
            owner: account(3),
            amount: u64(data, 1),
            decimals: data[9]!,
          }
      }
    }
    return { index, program, type: 'unknown' }
  })
  return {
    family: 'solana',
    kind: 'solanaTransaction',
    version: parsed.version,
    feePayer: solanaAddress(keys[0]!),
    signers: keys.slice(0, parsed.header.numRequiredSignatures).map((k) => solanaAddress(k)),
    programIds,
    recentBlockhash: solanaAddress(parsed.recentBlockhash),
    lookupTables: parsed.addressTableLookups.map((l) => solanaAddress(l.tableAddress)),
    usesLookupAccounts,
    systemTransferLamports,
    instructions,
  }
}
