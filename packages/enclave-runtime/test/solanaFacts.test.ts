/**
 * Facts of Solana messages compiled by @solana/kit: Token-2022 transfers and approvals, accounts loaded
 * through a lookup table reported as unknown (their table and entry, never an address), unknown
 * instructions, and the message-level facts (fee payer, signers, programs, tables).
 */
import {
  AccountRole,
  type Address,
  appendTransactionMessageInstructions,
  type Blockhash,
  compileTransactionMessage,
  compressTransactionMessageUsingAddressLookupTables,
  createTransactionMessage,
  getCompiledTransactionMessageEncoder,
  type Instruction,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from '@solana/kit'
import { describe, expect, it } from 'vitest'
import { SYSTEM_PROGRAM, solanaFacts, TOKEN_2022_PROGRAM } from '../src/families/solana/facts.js'
import { createRng } from './rng.js'
import { addressOf, keyFromSeed, systemTransferData, tokenAmountData } from './solanaSupport.js'

const rng = createRng(0x501a_0006)
const owner = keyFromSeed(rng.bytes(32))
const [source, destination, mint, delegate, memo, table, blockhash] = Array.from({ length: 7 }, () => addressOf(rng.bytes(32)))
const token2022 = TOKEN_2022_PROGRAM as Address
const w = (address: Address) => ({ address, role: AccountRole.WRITABLE })
const r = (address: Address) => ({ address, role: AccountRole.READONLY })
const s = (address: Address) => ({ address, role: AccountRole.WRITABLE_SIGNER })

const instructions: Instruction[] = [
  { programAddress: token2022, accounts: [w(source!), w(destination!), s(owner.address)], data: tokenAmountData(3, 10n) },
  { programAddress: token2022, accounts: [w(source!), r(mint!), w(destination!), s(owner.address)], data: tokenAmountData(12, 2n ** 64n - 1n, 9) },
  { programAddress: token2022, accounts: [w(source!), r(delegate!), s(owner.address)], data: tokenAmountData(4, 7n) },
  { programAddress: token2022, accounts: [w(source!), r(mint!), r(delegate!), s(owner.address)], data: tokenAmountData(13, 8n, 9) },
  { programAddress: token2022, accounts: [w(source!), s(owner.address)], data: Uint8Array.of(9) }, // CloseAccount: not decoded
  { programAddress: memo!, accounts: [], data: new TextEncoder().encode('hello') },
  { programAddress: SYSTEM_PROGRAM as Address, accounts: [s(owner.address), w(destination!)], data: systemTransferData(5n) },
]

function compile(compress: boolean): Uint8Array {
  let message = appendTransactionMessageInstructions(
    instructions,
    setTransactionMessageLifetimeUsingBlockhash(
      { blockhash: blockhash as unknown as Blockhash, lastValidBlockHeight: 0n },
      setTransactionMessageFeePayer(owner.address, createTransactionMessage({ version: 0 })),
    ),
  )
  // The table holds the destination (entry 1) and the delegate (entry 3).
  if (compress) message = compressTransactionMessageUsingAddressLookupTables(message as never, { [table!]: [mint!, destination!, memo!, delegate!] }) as typeof message
  return new Uint8Array(getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(message)))
}

describe('Solana facts', () => {
  it('decodes Token-2022 transfer, transferChecked, approve and approveChecked; other instructions are unknown', () => {
    const known = (address: Address | undefined) => ({ known: true, address })
    const facts = solanaFacts(compile(false))
    expect(facts).toEqual({
      family: 'solana',
      kind: 'solanaTransaction',
      version: 0,
      feePayer: owner.address,
      signers: [owner.address],
      programIds: [TOKEN_2022_PROGRAM, memo, SYSTEM_PROGRAM],
      recentBlockhash: blockhash,
      lookupTables: [],
      usesLookupAccounts: false,
      systemTransferLamports: 5n,
      instructions: [
        { index: 0, program: TOKEN_2022_PROGRAM, type: 'tokenTransfer', instruction: 'transfer', source: known(source), destination: known(destination), authority: known(owner.address), amount: 10n },
        {
          index: 1,
          program: TOKEN_2022_PROGRAM,
          type: 'tokenTransfer',
          instruction: 'transferChecked',
          source: known(source),
          mint: known(mint),
          destination: known(destination),
          authority: known(owner.address),
          amount: 2n ** 64n - 1n,
          decimals: 9,
        },
        { index: 2, program: TOKEN_2022_PROGRAM, type: 'tokenApprove', instruction: 'approve', source: known(source), delegate: known(delegate), owner: known(owner.address), amount: 7n },
        {
          index: 3,
          program: TOKEN_2022_PROGRAM,
          type: 'tokenApprove',
          instruction: 'approveChecked',
          source: known(source),
          mint: known(mint),
          delegate: known(delegate),
          owner: known(owner.address),
          amount: 8n,
          decimals: 9,
        },
        { index: 4, program: TOKEN_2022_PROGRAM, type: 'unknown' },
        { index: 5, program: memo, type: 'unknown' },
        { index: 6, program: SYSTEM_PROGRAM, type: 'systemTransfer', lamports: 5n, from: known(owner.address), to: known(destination) },
      ],
    })
  })

  it('reports accounts loaded through a lookup table as unknown: the table and entry, never an address', () => {
    const facts = solanaFacts(Buffer.from(compile(true)).toString('base64'))
    expect(facts.lookupTables).toEqual([table])
    expect(facts.usesLookupAccounts).toBe(true)
    // The memo program is invoked: it stays a static key (a program id is never loaded through a table).
    expect(facts.programIds).toEqual([TOKEN_2022_PROGRAM, memo, SYSTEM_PROGRAM])
    const viaTable = (lookupIndex: number, writable: boolean) => ({ known: false, lookupTable: table, lookupIndex, writable })
    const [transfer, checked, approve, , , , sol] = facts.instructions
    expect(transfer).toMatchObject({ destination: viaTable(1, true), source: { known: true, address: source } })
    expect(checked).toMatchObject({ mint: viaTable(0, false), destination: viaTable(1, true) })
    expect(approve).toMatchObject({ delegate: viaTable(3, false) })
    expect(sol).toMatchObject({ type: 'systemTransfer', lamports: 5n, to: viaTable(1, true) })
  })
})
