/**
 * Differential test of the Solana family's parser, facts and signer against @solana/kit (an independent
 * implementation): random legacy and v0 messages (v0 with address lookup tables) are compiled and encoded by
 * kit, then parsed by `parseSolanaMessage` (the same structure as kit's decoder), their accounts resolved
 * (the same addresses as the instructions kit compiled), their System transfers read by `solanaFacts`, and
 * signed by `signSolanaTransaction`: the signature verifies with kit (WebCrypto) and with noble.
 *
 * Seeded: a failure names its case; `SOLANA_DIFFERENTIAL_SEED=<n>` replays a run.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import {
  type Address,
  AccountRole,
  appendTransactionMessageInstructions,
  type Blockhash,
  compileTransactionMessage,
  compressTransactionMessageUsingAddressLookupTables,
  createTransactionMessage,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  getPublicKeyFromAddress,
  type Instruction,
  type SignatureBytes,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  verifySignature,
} from '@solana/kit'
import { describe, expect, it } from 'vitest'
import { solanaAddress } from '../src/families/solana/address.js'
import { SYSTEM_PROGRAM, solanaFacts } from '../src/families/solana/facts.js'
import { parseSolanaMessage, solanaMessageAccount } from '../src/families/solana/message.js'
import { signSolanaTransaction } from '../src/families/solana/sign.js'
import { createRng, type Rng } from './rng.js'
import { addressOf, keyFromSeed, systemTransferData, type TestKey } from './solanaSupport.js'

const SEED = Number(process.env.SOLANA_DIFFERENTIAL_SEED ?? 0x501a_0001)
const COUNT = 200

type Case = {
  version: 'legacy' | 0
  signer: TestKey
  bytes: Uint8Array
  instructions: Instruction[]
  tables: Record<Address, Address[]>
  transfers: { lamports: bigint; from: Address; to: Address }[]
}

function randomCase(rng: Rng): Case {
  const version = rng.chance(0.4) ? 'legacy' : 0
  const signers = Array.from({ length: rng.int(1, 3) }, () => keyFromSeed(rng.bytes(32)))
  const signer = rng.pick(signers)
  const pool = Array.from({ length: rng.int(2, 10) }, () => addressOf(rng.bytes(32)))
  const programs = Array.from({ length: rng.int(1, 3) }, () => addressOf(rng.bytes(32)))
  const instructions: Instruction[] = []
  const transfers: Case['transfers'] = []
  const roles = [AccountRole.READONLY, AccountRole.WRITABLE] as const
  for (let i = rng.int(1, 4); i > 0; i--) {
    if (rng.chance(0.3)) {
      const from = rng.pick(signers).address
      const to = rng.pick(pool)
      const lamports = rng.mixed((1n << 64n) - 1n)
      transfers.push({ lamports, from, to })
      instructions.push({
        programAddress: SYSTEM_PROGRAM as Address,
        accounts: [
          { address: from, role: AccountRole.WRITABLE_SIGNER },
          { address: to, role: AccountRole.WRITABLE },
        ],
        data: systemTransferData(lamports),
      })
      continue
    }
    const accounts = Array.from({ length: rng.int(0, 4) }, () =>
      rng.chance(0.2) ? { address: rng.pick(signers).address, role: rng.pick([AccountRole.READONLY_SIGNER, AccountRole.WRITABLE_SIGNER]) } : { address: rng.pick(pool), role: rng.pick(roles) },
    )
    instructions.push({ programAddress: rng.pick(programs), accounts, data: rng.bytes(rng.int(0, 40)) })
  }
  // Every signer must appear: the ones no instruction named sign a no-op-like instruction of the first program.
  for (const s of signers) {
    if (!instructions.some((ix) => ix.accounts?.some((a) => a.address === s.address))) {
      instructions.push({ programAddress: programs[0]!, accounts: [{ address: s.address, role: AccountRole.READONLY_SIGNER }] })
    }
  }
  const tables: Record<Address, Address[]> = {}
  let message = appendTransactionMessageInstructions(
    instructions,
    setTransactionMessageLifetimeUsingBlockhash(
      { blockhash: addressOf(rng.bytes(32)) as unknown as Blockhash, lastValidBlockHeight: 0n },
      setTransactionMessageFeePayer(rng.pick(signers).address, createTransactionMessage({ version })),
    ),
  )
  if (version === 0 && rng.chance(0.8)) {
    for (let t = rng.int(1, 3); t > 0; t--) {
      // A table holds some pool addresses (and filler), in random positions.
      const entries = Array.from({ length: rng.int(1, 20) }, () => (rng.chance(0.5) ? rng.pick(pool) : addressOf(rng.bytes(32))))
      tables[addressOf(rng.bytes(32))] = [...new Set(entries)]
    }
    message = compressTransactionMessageUsingAddressLookupTables(message as never, tables) as typeof message
  }
  const bytes = new Uint8Array(getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(message)))
  return { version, signer, bytes, instructions: message.instructions as Instruction[], tables, transfers }
}

describe('Solana messages: differential against @solana/kit', () => {
  it(`parses, resolves and signs ${COUNT} random legacy and v0 messages as kit compiles them`, async () => {
    const rng = createRng(SEED)
    let withLookups = 0
    let legacy = 0
    for (let n = 0; n < COUNT; n++) {
      const c = randomCase(rng)
      const label = `case ${n} (seed ${SEED})`
      const parsed = parseSolanaMessage(c.bytes)
      const kit = getCompiledTransactionMessageDecoder().decode(c.bytes)
      if (kit.version === 1) throw new Error(`${label}: kit compiled a v1 message`)
      expect(parsed.version, label).toBe(kit.version)
      expect(
        {
          numSignerAccounts: parsed.header.numRequiredSignatures,
          numReadonlySignerAccounts: parsed.header.numReadonlySignedAccounts,
          numReadonlyNonSignerAccounts: parsed.header.numReadonlyUnsignedAccounts,
        },
        label,
      ).toEqual(kit.header)
      expect(parsed.staticAccountKeys.map((k) => solanaAddress(k)), label).toEqual(kit.staticAccounts)
      expect(solanaAddress(parsed.recentBlockhash), label).toBe(kit.lifetimeToken)
      expect(
        parsed.instructions.map((ix) => ({ programAddressIndex: ix.programIdIndex, accountIndices: [...ix.accountIndices], data: [...ix.data] })),
        label,
      ).toEqual(kit.instructions.map((ix) => ({ programAddressIndex: ix.programAddressIndex, accountIndices: [...(ix.accountIndices ?? [])], data: [...(ix.data ?? [])] })))
      const kitLookups = 'addressTableLookups' in kit ? (kit.addressTableLookups ?? []) : []
      expect(
        parsed.addressTableLookups.map((l) => ({ lookupTableAddress: solanaAddress(l.tableAddress), writableIndexes: [...l.writableIndexes], readonlyIndexes: [...l.readonlyIndexes] })),
        label,
      ).toEqual(kitLookups.map((l) => ({ lookupTableAddress: l.lookupTableAddress, writableIndexes: [...l.writableIndexes], readonlyIndexes: [...l.readonlyIndexes] })))
      if (parsed.addressTableLookups.length > 0) withLookups++
      if (parsed.version === 'legacy') legacy++

      // Every instruction account resolves to the address kit compiled it from (a lookup entry through its table).
      for (const [i, ix] of parsed.instructions.entries()) {
        const original = c.instructions[i]!
        expect(solanaAddress(parsed.staticAccountKeys[ix.programIdIndex]!), label).toBe(original.programAddress)
        const resolved = ix.accountIndices.map((index) => {
          const a = solanaMessageAccount(parsed, index)
          return a.source === 'static' ? solanaAddress(a.key) : c.tables[solanaAddress(a.tableAddress) as Address]![a.tableIndex]
        })
        expect(resolved, label).toEqual((original.accounts ?? []).map((a) => a.address))
      }

      // System transfers: the lamports and both accounts (the recipient as its lookup entry when compressed).
      const facts = solanaFacts(parsed)
      const transfers = facts.instructions.filter((f) => f.type === 'systemTransfer')
      expect(transfers.map((t) => t.lamports), label).toEqual(c.transfers.map((t) => t.lamports))
      expect(facts.systemTransferLamports, label).toBe(c.transfers.reduce((s, t) => s + t.lamports, 0n))
      for (const [k, t] of transfers.entries()) {
        expect(t.from, label).toEqual({ known: true, address: c.transfers[k]!.from })
        const to = t.to.known ? t.to.address : c.tables[t.to.lookupTable as Address]![t.to.lookupIndex]
        expect(to, label).toBe(c.transfers[k]!.to)
      }
      expect(facts.feePayer, label).toBe(kit.staticAccounts[0])

      const signed = signSolanaTransaction({ privateKey: c.signer.seed, message: n % 2 ? c.bytes : Buffer.from(c.bytes).toString('base64') })
      expect(signed.signature.length, label).toBe(64)
      expect(kit.staticAccounts[signed.signerIndex], label).toBe(c.signer.address)
      expect(signed.signerIndex, label).toBeLessThan(kit.header.numSignerAccounts)
      expect(ed25519.verify(signed.signature, c.bytes, c.signer.publicKey), label).toBe(true)
      const key = await getPublicKeyFromAddress(c.signer.address)
      expect(await verifySignature(key, signed.signature as SignatureBytes, c.bytes), label).toBe(true)
      expect(await verifySignature(key, signed.signature as SignatureBytes, c.bytes.with(-1, c.bytes.at(-1)! ^ 1)), label).toBe(false)
    }
    // The run covered both versions and lookup tables.
    expect(legacy).toBeGreaterThan(40)
    expect(withLookups).toBeGreaterThan(40)
  })
})
