/**
 * Signing policies over Bitcoin and Solana payloads: real PSBTs (built with @scure/btc-signer) and real Solana
 * messages (compiled by @solana/kit) go through the enclave's own extractors (`inspectBitcoinPsbt`,
 * `solanaFacts`), are mapped to policy facts (`bitcoinPolicyFacts`, `solanaPolicyFacts`) and evaluated by the
 * compiled policy. The SDK's address values are checked against what @scure/btc-signer and @scure/base encode
 * and decode (every type, network and one-character mutation), and the docs' example policies are evaluated here.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isCustodyError, normalizeSigningPolicy, type PolicyFacts, type SigningPolicyInput } from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { base58, bech32, bech32m } from '@scure/base'
import * as btc from '@scure/btc-signer'
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
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { inspectBitcoinPsbt } from '../src/families/bitcoin/index.js'
import { bitcoinPolicyFacts } from '../src/families/bitcoin/policyFacts.js'
import { SYSTEM_PROGRAM, solanaFacts, TOKEN_PROGRAM } from '../src/families/solana/facts.js'
import { solanaMessagePolicyFacts, solanaPolicyFacts } from '../src/families/solana/policyFacts.js'
import { compileSigningPolicy } from '../src/policy/compileSigningPolicy.js'
import { evaluateSigningPolicy } from '../src/policy/evaluateSigningPolicy.js'
import { createRollingLimits, type RollingLimits } from '../src/policy/rollingLimits.js'
import { createRng } from './rng.js'
import { addressOf, keyFromSeed, systemTransferData, tokenAmountData } from './solanaSupport.js'

const repoRoot = join(import.meta.dirname, '..', '..', '..')

const decide = (policy: SigningPolicyInput, facts: PolicyFacts, limits?: RollingLimits) => {
  const d = evaluateSigningPolicy(compileSigningPolicy(normalizeSigningPolicy(policy)), facts, { keyId: 'k', approvers: new Set(), ...(limits ? { limits } : {}) })
  return d.allowed ? { allowed: true, rule: d.rule } : { allowed: false, rule: d.rule, reason: d.reason }
}

/** The field an InvalidArgumentError names, or the error itself when it is not one. */
function refusal(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT')) return (e.details as { field: string }).field
    return e
  }
  return 'not refused'
}

// ---- Bitcoin ------------------------------------------------------------------------------------------------

const NETWORKS = { mainnet: btc.NETWORK, testnet: btc.TEST_NETWORK, regtest: { ...btc.TEST_NETWORK, bech32: 'bcrt' } } as const
const secret = new Uint8Array(32).fill(1)
const pubOf = (n: number) => secp256k1.getPublicKey(new Uint8Array(32).fill(n), true)
const own = btc.p2wpkh(pubOf(1), btc.NETWORK)
/** Payees (mainnet): a taproot key, a P2WPKH key, a P2PKH key and a 2-of-2 P2WSH. */
const payee = {
  tr: btc.p2tr(pubOf(2).subarray(1), undefined, btc.NETWORK).address!,
  wpkh: btc.p2wpkh(pubOf(3), btc.NETWORK).address!,
  pkh: btc.p2pkh(pubOf(4), btc.NETWORK).address!,
  wsh: btc.p2wsh(btc.p2ms(2, [pubOf(5), pubOf(6)]), btc.NETWORK).address!,
}
const OP_RETURN = btc.Script.encode(['RETURN', Uint8Array.of(0xc0, 0xff, 0xee)])

/** A PSBT spending 200,000 sats of the key's P2WPKH (amount proven by its previous transaction) to `outputs`. */
function psbtPaying(outputs: ({ address: string } | { script: Uint8Array })[], amounts: bigint[], change?: bigint): Uint8Array {
  const prev = new btc.Transaction({ allowUnknownInputs: true })
  prev.addInput({ txid: new Uint8Array(32).fill(3), index: 0, finalScriptSig: new Uint8Array(0) })
  prev.addOutput({ script: own.script, amount: 200_000n })
  const tx = new btc.Transaction({ allowUnknownOutputs: true })
  tx.addInput({ txid: prev.id, index: 0, nonWitnessUtxo: prev.toBytes(true, false), witnessUtxo: { script: own.script, amount: 200_000n } })
  outputs.forEach((o, i) => {
    if ('address' in o) tx.addOutputAddress(o.address, amounts[i]!, btc.NETWORK)
    else tx.addOutput({ script: o.script, amount: amounts[i]! })
  })
  if (change !== undefined) tx.addOutputAddress(own.address!, change, btc.NETWORK)
  return tx.toPSBT(0)
}
const psbtFacts = (psbt: Uint8Array) => bitcoinPolicyFacts(inspectBitcoinPsbt({ psbt, network: 'mainnet', keys: secret }).facts)

describe('Bitcoin policy facts', () => {
  it('maps a real PSBT: non-change outputs by address, script:<hex> for OP_RETURN, fee, fee rate, spend, proof', () => {
    const facts = psbtFacts(psbtPaying([{ address: payee.tr }, { script: OP_RETURN }, { address: payee.pkh }], [100_000n, 0n, 20_000n], 78_590n))
    const inspected = inspectBitcoinPsbt({ psbt: psbtPaying([{ address: payee.tr }, { script: OP_RETURN }, { address: payee.pkh }], [100_000n, 0n, 20_000n], 78_590n), network: 'mainnet', keys: secret }).facts
    expect(facts).toEqual({
      family: 'bitcoin',
      kind: 'psbt',
      network: 'mainnet',
      fee: 1_410n,
      feeRate: inspected.feeRate,
      spendAmount: 120_000n,
      outputAddresses: [payee.tr, `script:${Buffer.from(OP_RETURN).toString('hex')}`, payee.pkh],
      amountsProven: true,
    })
    // The fee rate is the extractor's: fee over its vsize estimate, rounded up.
    expect(inspected.feeRate).toBe((1_410n + inspected.vsize - 1n) / inspected.vsize)
    // The change output (the key's own P2WPKH) is not listed.
    expect(facts.outputAddresses).not.toContain(own.address)
  })

  const policy: SigningPolicyInput = {
    rules: [
      {
        id: 'payees',
        effect: 'allow',
        when: { family: { eq: 'bitcoin' }, network: { eq: 'mainnet' }, outputAddresses: { allIn: [payee.tr.toUpperCase(), payee.pkh, payee.wsh] }, fee: { lte: '5000' }, amountsProven: { eq: true } },
      },
    ],
  }

  it('an output allowlist and a fee cap allow a PSBT paying listed addresses with change, at the cap', () => {
    expect(decide(policy, psbtFacts(psbtPaying([{ address: payee.tr }, { address: payee.pkh }], [100_000n, 20_000n], 75_000n)))).toEqual({ allowed: true, rule: 'payees' })
    // Change only (nothing leaves): the list of outputs is empty and allIn holds.
    expect(decide(policy, psbtFacts(psbtPaying([], [], 195_000n)))).toEqual({ allowed: true, rule: 'payees' })
  })

  it('refuses an unlisted payee, a fee above the cap, and an OP_RETURN output unless its script is listed', () => {
    expect(decide(policy, psbtFacts(psbtPaying([{ address: payee.tr }, { address: payee.wpkh }], [100_000n, 20_000n], 75_000n)))).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(decide(policy, psbtFacts(psbtPaying([{ address: payee.tr }], [100_000n], 94_999n)))).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(decide(policy, psbtFacts(psbtPaying([{ address: payee.tr }], [100_000n], 95_000n)))).toEqual({ allowed: true, rule: 'payees' })
    const withOpReturn = psbtFacts(psbtPaying([{ address: payee.tr }, { script: OP_RETURN }], [100_000n, 0n], 95_000n))
    expect(decide(policy, withOpReturn)).toMatchObject({ allowed: false, reason: 'no rule allows' })
    const listed = structuredClone(policy)
    ;(listed.rules![0]!.when!.outputAddresses as { allIn: string[] }).allIn.push(`script:${Buffer.from(OP_RETURN).toString('hex').toUpperCase()}`)
    expect(decide(listed, withOpReturn)).toEqual({ allowed: true, rule: 'payees' })
  })

  it('noneIn and anyIn: a denylist of addresses, and "pays this one"', () => {
    const facts = psbtFacts(psbtPaying([{ address: payee.tr }, { address: payee.pkh }], [100_000n, 20_000n], 75_000n))
    const deny = { rules: [{ id: 'blocked', effect: 'deny' as const, when: { outputAddresses: { anyIn: [payee.pkh] } } }] }
    expect(decide(deny, facts)).toEqual({ allowed: false, rule: 'blocked', reason: 'a deny rule matches' })
    expect(decide({ rules: [{ id: 'clean', effect: 'allow', when: { family: { eq: 'bitcoin' }, outputAddresses: { noneIn: [payee.wpkh, payee.wsh] } } }] }, facts)).toEqual({ allowed: true, rule: 'clean' })
    expect(decide({ rules: [{ id: 'clean', effect: 'allow', when: { family: { eq: 'bitcoin' }, outputAddresses: { noneIn: [payee.pkh] } } }] }, facts)).toMatchObject({ allowed: false })
    // Without the family, an allow rule is an EVM rule: it does not allow the PSBT, whatever its conditions.
    expect(decide({ rules: [{ id: 'clean', effect: 'allow', when: { outputAddresses: { noneIn: [payee.wpkh, payee.wsh] } } }] }, facts)).toMatchObject({ allowed: false, reason: 'no rule allows' })
  })

  it('property: for random outputs, the facts list exactly the non-change outputs and an allowlist allows iff it lists them all', () => {
    const choices = [{ address: payee.tr }, { address: payee.wpkh }, { address: payee.pkh }, { address: payee.wsh }, { script: OP_RETURN }, { script: btc.Script.encode(['RETURN']) }] as const
    const allowlist = [payee.tr, payee.wsh, `script:${Buffer.from(OP_RETURN).toString('hex')}`]
    const compiled = compileSigningPolicy(normalizeSigningPolicy({ rules: [{ id: 'listed', effect: 'allow', when: { family: { eq: 'bitcoin' }, outputAddresses: { allIn: allowlist } } }] }))
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...choices), fc.bigInt({ min: 0n, max: 30_000n })), { maxLength: 5 }), fc.boolean(), (outs, withChange) => {
        const spend = outs.reduce((a, [, v]) => a + v, 0n)
        const change = withChange ? 200_000n - spend - 2_000n : undefined
        const facts = psbtFacts(psbtPaying(outs.map(([o]) => o), outs.map(([, v]) => v), change))
        const expected = outs.map(([o]) => ('address' in o ? o.address : `script:${Buffer.from(o.script).toString('hex')}`))
        expect(facts.outputAddresses).toEqual(expected)
        expect(facts.spendAmount).toBe(spend)
        expect(facts.fee).toBe(200_000n - spend - (change ?? 0n))
        const d = evaluateSigningPolicy(compiled, facts, { keyId: 'k', approvers: new Set() })
        expect(d.allowed).toBe(expected.every((e) => allowlist.includes(e)))
      }),
      { numRuns: 60 },
    )
  })

  it('Bitcoin facts are absent from EVM payloads and the other way round: conditions on them are false', () => {
    const evm: PolicyFacts = { family: 'evm', kind: 'eip1559', value: 1n, to: '0x3F411E3Dc605E51f602151f03E71E142A2434546' }
    expect(decide(policy, evm)).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(decide({ rules: [{ id: 'none', effect: 'allow', when: { outputAddresses: { noneIn: [payee.pkh] } } }] }, evm)).toMatchObject({ allowed: false })
    expect(decide({ rules: [{ id: 'v', effect: 'allow', when: { value: { lte: '1' } } }] }, psbtFacts(psbtPaying([], [], 195_000n)))).toMatchObject({ allowed: false })
  })
})

describe('bitcoinAddress values: the SDK accepts what @scure/btc-signer decodes, of the listed types', () => {
  type Kind = 'pkh' | 'sh' | 'wpkh' | 'wsh' | 'tr'
  const encode = (kind: Kind, net: keyof typeof NETWORKS, bytes: Uint8Array) => {
    const n = NETWORKS[net]
    if (kind === 'tr') return btc.Address(n).encode({ type: 'tr', pubkey: bytes })
    return btc.Address(n).encode({ type: kind, hash: kind === 'wsh' ? bytes : bytes.subarray(0, 20) } as never)
  }
  /** Whether scure decodes `a` on some network as an address type the enclave lists (no P2A, no unknown versions). */
  const scureAccepts = (a: string) =>
    Object.values(NETWORKS).some((n) => {
      try {
        return ['pkh', 'sh', 'wpkh', 'wsh', 'tr'].includes(btc.Address(n).decode(a).type)
      } catch {
        return false
      }
    })
  const sdkAccepts = (a: string) => refusal(() => normalizeSigningPolicy({ rules: [{ id: 'r', effect: 'allow', when: { outputAddresses: { allIn: [a] } } }] })) === 'not refused'
  const canonical = (a: string) => (normalizeSigningPolicy({ rules: [{ id: 'r', effect: 'allow', when: { outputAddresses: { allIn: [a] } } }] }).rules[0]!.when.outputAddresses as { allIn: string[] }).allIn[0]

  it('accepts what scure encodes (every type, every network), bech32 upper-case lower-cased, Base58Check kept', () => {
    fc.assert(
      fc.property(fc.constantFrom<Kind>('pkh', 'sh', 'wpkh', 'wsh', 'tr'), fc.constantFrom<keyof typeof NETWORKS>('mainnet', 'testnet', 'regtest'), fc.uint8Array({ minLength: 48, maxLength: 48 }), fc.boolean(), (kind, net, bytes, upper) => {
        // A taproot key must be an x coordinate on the curve for scure to encode it: use a real key.
        const b = kind === 'tr' ? secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(bytes), true).subarray(1) : bytes.subarray(0, 32)
        const a = encode(kind, net, b)
        const written = upper && /^(bc|tb|bcrt)1/.test(a) ? a.toUpperCase() : a
        expect(canonical(written)).toBe(a)
      }),
      { numRuns: 300 },
    )
  })

  it('refuses what scure refuses: any one-character change, truncations, mixed case, other networks and types', () => {
    const samples = [payee.tr, payee.wpkh, payee.pkh, payee.wsh, btc.p2sh(btc.p2wpkh(pubOf(7))).address!, btc.p2tr(pubOf(8).subarray(1), undefined, btc.TEST_NETWORK).address!]
    const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.nat(), fc.constantFrom(...alphabet), fc.constantFrom('replace', 'drop', 'insert'), (a, at, c, how) => {
        const i = at % a.length
        const mutated = how === 'replace' ? a.slice(0, i) + c + a.slice(i + 1) : how === 'drop' ? a.slice(0, i) + a.slice(i + 1) : a.slice(0, i) + c + a.slice(i)
        expect(sdkAccepts(mutated), mutated).toBe(scureAccepts(mutated))
      }),
      { numRuns: 2000 },
    )
    // Known refusals: mixed case, a litecoin address, P2A (no address fact: it is a script), witness v2, Solana.
    for (const bad of [
      `${payee.tr.slice(0, 10).toUpperCase()}${payee.tr.slice(10)}`,
      'ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9',
      'bc1pfeessrawgf',
      'bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs',
      '11111111111111111111111111111111',
    ]) {
      expect(sdkAccepts(bad), bad).toBe(false)
    }
  })

  it('refuses a segwit address with the other checksum: bech32 for taproot, bech32m for version 0 (BIP-350)', () => {
    const program = btc.p2tr(pubOf(2).subarray(1)).tweakedPubkey
    const hash = btc.p2wpkh(pubOf(3)).hash
    expect(sdkAccepts(bech32m.encode('bc', [1, ...bech32m.toWords(program)]))).toBe(true)
    expect(sdkAccepts(bech32.encode('bc', [1, ...bech32.toWords(program)]))).toBe(false)
    expect(sdkAccepts(bech32.encode('bc', [0, ...bech32.toWords(hash)]))).toBe(true)
    expect(sdkAccepts(bech32m.encode('bc', [0, ...bech32m.toWords(hash)]))).toBe(false)
    // Witness version 0 with a program of neither 20 nor 32 bytes, and version 1 with 20 bytes.
    expect(sdkAccepts(bech32.encode('bc', [0, ...bech32.toWords(hash.subarray(0, 16))]))).toBe(false)
    expect(sdkAccepts(bech32m.encode('bc', [1, ...bech32m.toWords(hash)]))).toBe(false)
    for (const encoded of [bech32m.encode('bc', [1, ...bech32m.toWords(program)]), bech32.encode('bc', [0, ...bech32.toWords(hash)])]) expect(scureAccepts(encoded)).toBe(true)
  })

  it('script:<hex> entries: hex of an output without an address, lower-cased; a script with an address is refused', () => {
    expect(canonical('script:6A03C0FFEE')).toBe('script:6a03c0ffee')
    expect(sdkAccepts(`script:${Buffer.from(own.script).toString('hex')}`)).toBe(false)
    expect(sdkAccepts('script:')).toBe(false)
    expect(sdkAccepts('script:6a0')).toBe(false)
    expect(sdkAccepts('script:zz')).toBe(false)
  })
})

// ---- Solana -------------------------------------------------------------------------------------------------

const rng = createRng(0x501a_0f0c)
const owner = keyFromSeed(rng.bytes(32))
const [alice, bob, mint, tokenSource, tokenDest, delegate, table, blockhash, unknownProgram] = Array.from({ length: 9 }, () => addressOf(rng.bytes(32)))
const w = (address: Address) => ({ address, role: AccountRole.WRITABLE })
const r = (address: Address) => ({ address, role: AccountRole.READONLY })
const s = (address: Address) => ({ address, role: AccountRole.WRITABLE_SIGNER })
const system = SYSTEM_PROGRAM as Address
const token = TOKEN_PROGRAM as Address
const transfer = (to: Address, lamports: bigint): Instruction => ({ programAddress: system, accounts: [s(owner.address), w(to)], data: systemTransferData(lamports) })

function message(instructions: Instruction[], lookup?: Record<string, Address[]>): Uint8Array {
  let m = appendTransactionMessageInstructions(
    instructions,
    setTransactionMessageLifetimeUsingBlockhash({ blockhash: blockhash as unknown as Blockhash, lastValidBlockHeight: 0n }, setTransactionMessageFeePayer(owner.address, createTransactionMessage({ version: 0 }))),
  )
  if (lookup) m = compressTransactionMessageUsingAddressLookupTables(m as never, lookup as never) as typeof m
  return new Uint8Array(getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(m)))
}
const solFacts = (bytes: Uint8Array) => solanaPolicyFacts(solanaFacts(bytes))

describe('Solana policy facts', () => {
  it('maps a real message: programs, lamports and recipients, token mints/destinations/delegates/amount, fee payer', () => {
    const facts = solFacts(
      message([
        transfer(alice!, 1_000n),
        transfer(bob!, 2_500n),
        { programAddress: token, accounts: [w(tokenSource!), r(mint!), w(tokenDest!), s(owner.address)], data: tokenAmountData(12, 5_000n, 6) },
        { programAddress: token, accounts: [w(tokenSource!), w(tokenDest!), s(owner.address)], data: tokenAmountData(3, 7n) },
        { programAddress: token, accounts: [w(tokenSource!), r(delegate!), s(owner.address)], data: tokenAmountData(4, 9n) },
        { programAddress: unknownProgram!, accounts: [], data: Uint8Array.of(1) },
      ]),
    )
    expect(facts).toEqual({
      family: 'solana',
      kind: 'solanaTransaction',
      programIds: [SYSTEM_PROGRAM, TOKEN_PROGRAM, unknownProgram],
      lamports: 3_500n,
      solRecipients: [alice, bob],
      tokenMints: [mint, 'unchecked:3', 'unchecked:4'],
      tokenDestinations: [tokenDest, tokenDest],
      tokenDelegates: [delegate],
      tokenAmount: 5_016n,
      feePayer: owner.address,
      usesLookupAccounts: false,
      undecodedInstructions: 1n,
    })
    expect(solanaMessagePolicyFacts()).toEqual({ family: 'solana', kind: 'solanaMessage' })
  })

  const policy: SigningPolicyInput = {
    rules: [
      {
        id: 'sol-payments',
        effect: 'allow',
        when: { family: { eq: 'solana' }, programIds: { allIn: [SYSTEM_PROGRAM] }, solRecipients: { allIn: [alice!, bob!] }, lamports: { lte: '5000' } },
      },
    ],
  }

  it('a program allowlist and a lamport cap allow System transfers to listed recipients, up to the cap', () => {
    expect(decide(policy, solFacts(message([transfer(alice!, 2_000n), transfer(bob!, 3_000n)])))).toEqual({ allowed: true, rule: 'sol-payments' })
    expect(decide(policy, solFacts(message([transfer(alice!, 2_000n), transfer(bob!, 3_001n)])))).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(decide(policy, solFacts(message([transfer(alice!, 1n), { programAddress: unknownProgram!, accounts: [], data: Uint8Array.of(1) }])))).toMatchObject({ allowed: false })
    expect(decide(policy, solFacts(message([transfer(tokenDest!, 1n)])))).toMatchObject({ allowed: false })
  })

  it('a recipient loaded through a lookup table is lookup:<table>:<index>: an allowlist refuses it, even when the table holds a listed address', () => {
    const facts = solFacts(message([transfer(alice!, 1_000n)], { [table!]: [bob!, alice!] }))
    expect(facts).toMatchObject({ solRecipients: [`lookup:${table}:1`], usesLookupAccounts: true })
    expect(decide(policy, facts)).toMatchObject({ allowed: false, reason: 'no rule allows' })
    // A denylist does not see it: close that by denying lookup accounts.
    const solana = { id: 'solana', effect: 'allow' as const, when: { family: { eq: 'solana' } } }
    expect(decide({ rules: [{ id: 'deny-alice', effect: 'deny', when: { solRecipients: { anyIn: [alice!] } } }, solana] }, facts)).toEqual({ allowed: true, rule: 'solana' })
    // (Deny rules alone allow EVM payloads only.)
    expect(decide({ rules: [{ id: 'deny-alice', effect: 'deny', when: { solRecipients: { anyIn: [alice!] } } }] }, facts)).toMatchObject({ allowed: false, reason: 'no rule allows solana payloads (an allow rule must name the family)' })
    expect(decide({ rules: [{ id: 'no-lookups', effect: 'deny', when: { usesLookupAccounts: { eq: true } } }] }, facts)).toMatchObject({ allowed: false, rule: 'no-lookups' })
  })

  it('property: random transfers, some recipients in a lookup table: lamports add up, an allowlist allows iff every recipient is a listed static key', () => {
    const compiled = compileSigningPolicy(normalizeSigningPolicy(policy))
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(alice!, bob!, tokenDest!), fc.bigInt({ min: 0n, max: 3_000n })), { minLength: 1, maxLength: 4 }), fc.boolean(), (transfers, useTable) => {
        const facts = solFacts(message(transfers.map(([to, lamports]) => transfer(to, lamports)), useTable ? { [table!]: [bob!] } : undefined))
        const listed = (to: Address) => (useTable && to === bob ? `lookup:${table}:0` : to)
        // Recipients in order of the instructions (the message compiler keeps instruction order).
        expect(facts.solRecipients).toEqual(transfers.map(([to]) => listed(to)))
        const total = transfers.reduce((a, [, v]) => a + v, 0n)
        expect(facts.lamports).toBe(total)
        const d = evaluateSigningPolicy(compiled, facts, { keyId: 'k', approvers: new Set() })
        expect(d.allowed).toBe(total <= 5_000n && transfers.every(([to]) => to === alice || (to === bob && !useTable)))
      }),
      { numRuns: 100 },
    )
  })

  it('an unchecked token transfer has no mint: a mint allowlist refuses it, transferChecked of the mint passes', () => {
    const mintPolicy: SigningPolicyInput = { rules: [{ id: 'usdc', effect: 'allow', when: { family: { eq: 'solana' }, tokenMints: { allIn: [mint!] }, tokenDestinations: { allIn: [tokenDest!] }, tokenAmount: { lte: '5000' } } }] }
    const checked = { programAddress: token, accounts: [w(tokenSource!), r(mint!), w(tokenDest!), s(owner.address)], data: tokenAmountData(12, 5_000n, 6) }
    const unchecked = { programAddress: token, accounts: [w(tokenSource!), w(tokenDest!), s(owner.address)], data: tokenAmountData(3, 5_000n) }
    expect(decide(mintPolicy, solFacts(message([checked])))).toEqual({ allowed: true, rule: 'usdc' })
    expect(decide(mintPolicy, solFacts(message([unchecked])))).toMatchObject({ allowed: false })
  })

  it('the off-chain message kind matches only kind/family conditions', () => {
    expect(decide({ rules: [{ id: 'msgs', effect: 'allow', when: { family: { eq: 'solana' }, kind: { eq: 'solanaMessage' } } }] }, solanaMessagePolicyFacts())).toEqual({ allowed: true, rule: 'msgs' })
    expect(decide(policy, solanaMessagePolicyFacts())).toMatchObject({ allowed: false })
  })

  it('solanaAddress values decode to exactly 32 bytes, like the enclave\'s base58', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        const a = base58.encode(bytes)
        const accepted = refusal(() => normalizeSigningPolicy({ rules: [{ id: 'r', effect: 'allow', when: { feePayer: { eq: a } } }] })) === 'not refused'
        expect(accepted, a).toBe(bytes.length === 32)
      }),
      { numRuns: 500 },
    )
    expect(refusal(() => normalizeSigningPolicy({ rules: [{ id: 'r', effect: 'allow', when: { programIds: { allIn: [`lookup:${table}:1`] } } }] }))).toBe('policy.rules[0].when.programIds.allIn[0]')
    expect(refusal(() => normalizeSigningPolicy({ rules: [{ id: 'r', effect: 'allow', when: { feePayer: { eq: `${alice}0` } } }] }))).toBe('policy.rules[0].when.feePayer.eq')
  })
})

// ---- Rolling limits ------------------------------------------------------------------------------------------

describe('rolling limits over spendAmount and lamports', () => {
  const window = 24 * 3600 * 1000
  const limitsAt = (t: { now: number }) => createRollingLimits({ now: () => t.now, bootTime: 0 })

  it('a spendAmount limit sums the sats of PSBTs (non-change outputs only), and refuses past its max', () => {
    const t = { now: 2 * window }
    const limits = limitsAt(t)
    const policy: SigningPolicyInput = { rules: [{ id: 'btc-daily', effect: 'allow', when: { family: { eq: 'bitcoin' } }, limit: { sum: 'spendAmount', max: '150000', window: '24h' } }] }
    const pay = (sats: bigint) => psbtFacts(psbtPaying([{ address: payee.tr }], [sats], 200_000n - sats - 1_000n))
    const compiled = compileSigningPolicy(normalizeSigningPolicy(policy))
    const run = (facts: PolicyFacts) => evaluateSigningPolicy(compiled, facts, { keyId: 'k', approvers: new Set(), limits })
    const first = run(pay(100_000n))
    expect(first).toMatchObject({ allowed: true, rule: 'btc-daily' })
    ;(first as { reservation: { commit(): void } }).reservation.commit()
    expect(run(pay(60_000n))).toMatchObject({ allowed: false, rule: 'btc-daily', reason: 'the limit of 150000 spendAmount per 24h would be exceeded: 100000 used or reserved, this request 60000' })
    const second = run(pay(50_000n))
    expect(second).toMatchObject({ allowed: true })
    ;(second as { reservation: { commit(): void } }).reservation.commit()
    // A window later the total has left.
    t.now += window + 60_000
    expect(run(pay(100_000n))).toMatchObject({ allowed: true })
  })

  it('a lamports limit sums Solana transfers; payloads without the fact (EVM, off-chain messages) add nothing', () => {
    const t = { now: 2 * window }
    const limits = limitsAt(t)
    const policy: SigningPolicyInput = { rules: [{ id: 'sol-daily', effect: 'allow', when: { family: { in: ['evm', 'solana'] } }, limit: { sum: 'lamports', max: '10000', window: '24h', afterRestart: 'reset' } }] }
    const compiled = compileSigningPolicy(normalizeSigningPolicy(policy))
    const run = (facts: PolicyFacts) => {
      const d = evaluateSigningPolicy(compiled, facts, { keyId: 'k', approvers: new Set(), limits })
      if (d.allowed) d.reservation?.commit()
      return d.allowed
    }
    expect(run(solFacts(message([transfer(alice!, 6_000n), transfer(bob!, 3_000n)])))).toBe(true)
    expect(run(solanaMessagePolicyFacts())).toBe(true)
    expect(run({ family: 'evm', kind: 'eip1559', value: 10n ** 18n })).toBe(true)
    expect(run(solFacts(message([transfer(alice!, 1_000n)])))).toBe(true)
    expect(run(solFacts(message([transfer(alice!, 1n)])))).toBe(false)
  })
})

// ---- The docs' examples ------------------------------------------------------------------------------------

describe('docs/policies.md Bitcoin and Solana examples', () => {
  const load = (file: string) => JSON.parse(readFileSync(join(repoRoot, 'docs', 'policies', file), 'utf8')) as SigningPolicyInput
  /** Evaluate and commit, with limits of an enclave that has run for longer than a window. */
  const runner = (policy: SigningPolicyInput) => {
    const compiled = compileSigningPolicy(normalizeSigningPolicy(policy))
    const limits = createRollingLimits({ now: () => 10 * 24 * 3600 * 1000, bootTime: 0 })
    return (facts: PolicyFacts) => {
      const d = evaluateSigningPolicy(compiled, facts, { keyId: 'k', approvers: new Set(), limits })
      if (d.allowed) d.reservation?.commit()
      return d.allowed ? { allowed: true, rule: d.rule } : { allowed: false, rule: d.rule, reason: d.reason }
    }
  }

  it('bitcoin.policy.json: allows the listed payees under the fee-rate cap and the daily limit; refuses the rest', () => {
    const policy = load('bitcoin.policy.json')
    const [cold, exchange] = (policy.rules![0]!.when!.outputAddresses as { allIn: string[] }).allIn as [string, string]
    expect([cold, exchange].sort()).toEqual([payee.wsh, payee.tr].sort())
    const run = runner(policy)
    expect(run(psbtFacts(psbtPaying([{ address: cold }, { address: exchange }], [60_000n, 40_000n], 98_000n)))).toEqual({ allowed: true, rule: 'cold-and-exchange' })
    // About 20,000 sats of fee over ~170 vB: above 50 sat/vB.
    expect(run(psbtFacts(psbtPaying([{ address: cold }], [100_000n], 80_000n)))).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(run(psbtFacts(psbtPaying([{ address: payee.wpkh }], [100_000n], 99_000n)))).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(run(psbtFacts(psbtPaying([{ address: cold }, { script: OP_RETURN }], [100_000n, 0n], 99_000n)))).toMatchObject({ allowed: false, reason: 'no rule allows' })
  })

  it('solana.policy.json: allows System transfers to the listed wallet up to the caps; refuses lookups, other recipients and programs', () => {
    const policy = load('solana.policy.json')
    const wallet = (policy.rules![1]!.when!.solRecipients as { allIn: string[] }).allIn[0]! as Address
    const run = runner(policy)
    expect(run(solFacts(message([transfer(wallet, 1_000_000_000n)])))).toEqual({ allowed: true, rule: 'treasury-wallet' })
    expect(run(solFacts(message([transfer(wallet, 1_000_000_001n)])))).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(run(solFacts(message([transfer(alice!, 1n)])))).toMatchObject({ allowed: false, reason: 'no rule allows' })
    expect(run(solFacts(message([transfer(wallet, 1n), { programAddress: unknownProgram!, accounts: [], data: Uint8Array.of(1) }])))).toMatchObject({ allowed: false })
    expect(run(solFacts(message([transfer(wallet, 1n)], { [table!]: [wallet] })))).toMatchObject({ allowed: false, rule: 'no-lookup-tables' })
    expect(run(solanaMessagePolicyFacts())).toMatchObject({ allowed: false })
    // The daily limit: 1 SOL already counted; nine more pass, the eleventh does not.
    for (let i = 0; i < 9; i++) expect(run(solFacts(message([transfer(wallet, 1_000_000_000n)]))).allowed).toBe(true)
    expect(run(solFacts(message([transfer(wallet, 1n)])))).toMatchObject({ allowed: false, rule: 'treasury-wallet' })
  })
})
