/**
 * `custody policy test` over the shared signing-policy matrix (packages/enclave-runtime/test/support/policyMatrix.ts,
 * the cases the enclave is tested with over the real stack): each case's facts are made into a real payload file
 * (a transaction, an ERC-20 call encoded with viem, an EIP-2612 permit, an EIP-7702 authorization, a message) whose
 * fact under test is the probe's value, and the CLI's decision, rule and extracted fact must be the case's. Cases no
 * payload can express (an absent chain family, say) are listed, so that the set run cannot shrink unnoticed. Then
 * every payload kind, through every signing operation.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FACT_NAMES, OPERATORS_BY_TYPE, PAYLOAD_KINDS, POLICY_FACTS, type PayloadKind } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MATRIX_ADDRESSES as A, MATRIX_BITCOIN, MATRIX_SAMPLES, MATRIX_SOLANA, type PolicyMatrixCase, policyMatrixCases } from '../../enclave-runtime/test/support/policyMatrix.js'
import { authorization, eip1559, INEXPRESSIBLE, message, type Payload, payloadFor, printed, TX, typedData } from '../../enclave-runtime/test/support/policyMatrixPayloads.js'
import {
  BTC_TEST_PUBLIC_KEY,
  bitcoinPayload,
  type BitcoinNetworkName,
  outputScript,
  ownP2wpkh,
  p2wpkhVsize,
  psbtBase64,
  sol,
  solanaMessageBase64,
  solanaOffchainMessageBase64,
  solanaTransactionPayload,
} from './chainPayloads.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo } from './helpers.js'

let dir: string
let files = 0
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'custody-policy-matrix-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const written = new Map<string, string>()
/** A file holding `value` as JSON (one per distinct content). */
async function fileOf(value: unknown): Promise<string> {
  const text = JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v))
  let path = written.get(text)
  if (!path) {
    path = join(dir, `f${files++}.json`)
    await writeFile(path, text)
    written.set(text, path)
  }
  return path
}

/** The facts of the Bitcoin and Solana samples: their payloads are built here (./chainPayloads.ts). */
const CHAIN_FACTS = new Set(
  (['psbt', 'solanaTransaction'] as const).flatMap((sample) => Object.keys(MATRIX_SAMPLES[sample]).filter((f) => !['family', 'kind', 'signer'].includes(f))),
)
/** Bech32 in lower case (the extractor's spelling; the matrix writes some probes upper-case). */
const lowerBech32 = (e: string) => (/^(bc|tb|bcrt)1/i.test(e) ? e.toLowerCase() : e)
const SAMPLE_FEE = 1_410n
const PAYEE_AMOUNT = 120_000n

/**
 * Cases of the chain facts no payload can express: a transaction's program ids are static keys (never a lookup
 * entry), each listed once; `network` is the network a Bitcoin account's key was sealed with, and the key
 * `custody policy test` builds offline from `--public-key` is a plain key, whose PSBT has no `network` fact (a PSBT
 * proves no network). Its absent probe (an EVM message) runs.
 */
const CHAIN_INEXPRESSIBLE = (c: PolicyMatrixCase) =>
  (c.fact === 'programIds' && (c.probe.label === 'listed twice' || c.probe.label === 'an entry without an address')) || (c.fact === 'network' && c.probe.value !== undefined)

/** A PSBT or Solana payload whose fact `fact` is `value` (absent: an EVM message, which has none of these facts). */
function chainPayloadFor(fact: string, value: unknown): Payload | undefined {
  if (value === undefined) return message
  const list = Array.isArray(value) ? (value as string[]) : []
  const n = value as bigint
  const psbt = (o: Parameters<typeof psbtBase64>[0], network: BitcoinNetworkName = 'mainnet') =>
    bitcoinPayload(psbtBase64(o), network, o.proven === false ? { allow: { unprovenSegwitAmounts: true } } : {})
  const payee: [string, bigint][] = [[MATRIX_BITCOIN.payee, PAYEE_AMOUNT]]
  const lookupOf = (entries: readonly string[]) => entries.find((e) => e.startsWith('lookup:'))
  const tx = (instructions: Parameters<typeof solanaMessageBase64>[0], options: Parameters<typeof solanaMessageBase64>[1] = {}) => solanaTransactionPayload(solanaMessageBase64(instructions, options))
  switch (fact) {
    case 'network':
      return psbt({ outputs: payee, fee: SAMPLE_FEE }, value as BitcoinNetworkName)
    case 'fee':
      return psbt({ outputs: payee, fee: n })
    case 'feeRate': {
      // fee = rate × (vsize - 1): ceil(fee / vsize) is the rate for the vsize computed here and one more or less.
      const vsize = BigInt(p2wpkhVsize([outputScript(MATRIX_BITCOIN.payee), ownP2wpkh().output!]))
      return psbt({ outputs: payee, fee: n * (vsize - 1n) })
    }
    case 'spendAmount':
      return psbt({ outputs: [[MATRIX_BITCOIN.payee, n]], fee: SAMPLE_FEE })
    case 'outputAddresses':
      return psbt({ outputs: list.map((e) => [lowerBech32(e), e.startsWith('script:') ? 0n : 10_000n]), fee: SAMPLE_FEE })
    case 'amountsProven':
      return psbt({ outputs: payee, fee: SAMPLE_FEE, proven: value as boolean })
    case 'programIds':
      if (lookupOf(list) || new Set(list).size !== list.length) return undefined
      return tx(list.map((p) => sol.opaque(p)))
    case 'lamports':
      return tx([sol.transfer(MATRIX_SOLANA.recipient, n)])
    case 'solRecipients':
      return tx(list.map((e) => sol.transfer(e, 1n)), { lookup: lookupOf(list) })
    case 'tokenMints':
      return tx(list.map((e) => sol.transferChecked(e, MATRIX_SOLANA.destination, 1n)), { lookup: lookupOf(list) })
    case 'tokenDestinations':
      return tx(list.map((e) => sol.transferChecked(MATRIX_SOLANA.mint, e, 1n)), { lookup: lookupOf(list) })
    case 'tokenDelegates':
      return tx(list.map((e) => sol.approve(e, 1n)), { lookup: lookupOf(list) })
    case 'tokenAmount':
      return tx([sol.transferChecked(MATRIX_SOLANA.mint, MATRIX_SOLANA.destination, n)])
    case 'feePayer':
      return tx([sol.opaque(MATRIX_SOLANA.system)], { feePayer: value as string })
    case 'usesLookupAccounts':
      return value === true ? tx([sol.transfer(MATRIX_SOLANA.lookup, 1n)], { lookup: MATRIX_SOLANA.lookup }) : tx([sol.transfer(MATRIX_SOLANA.recipient, 1n)])
    case 'undecodedInstructions':
      return tx(Array.from({ length: Number(n) }, () => sol.opaque(MATRIX_SOLANA.other)))
    default:
      throw new Error(`no chain payload for fact ${fact}`)
  }
}

type Outcome = { code: number; result: { allowed: boolean; rule?: string; facts: Record<string, unknown> } }
async function policyTest(policy: unknown, payload: Payload, extra: string[] = []): Promise<Outcome> {
  const io = captureIo()
  const key = payload.op === 'sign.bitcoinPsbt' ? ['--public-key', BTC_TEST_PUBLIC_KEY] : []
  const code = await runCli(['policy', 'test', '--file', await fileOf(policy), '--payload', await fileOf(payload), '--json', ...key, ...extra], io)
  if (code === 2 || io.out() === '') throw new Error(`custody policy test refused its input (${payload.op}): ${io.err()}`)
  return { code, result: JSON.parse(io.out()) as Outcome['result'] }
}

describe('custody policy test over the shared policy matrix', () => {
  const cases = policyMatrixCases()

  it('every case a payload can express gives the decision and rule the matrix expects, from the fact the matrix set', { timeout: 120_000 }, async () => {
    const ran: PolicyMatrixCase[] = []
    const skipped: string[] = []
    for (const c of cases) {
      const payload = CHAIN_FACTS.has(c.fact) ? (CHAIN_INEXPRESSIBLE(c) ? undefined : chainPayloadFor(c.fact, c.probe.value)) : payloadFor(c.fact, c.probe.value)
      if (!payload) {
        skipped.push(c.name)
        continue
      }
      const signer = c.fact === 'signer' ? c.probe.value : MATRIX_SAMPLES[c.sample].signer
      const { code, result } = await policyTest(c.policy, payload, signer === undefined ? [] : ['--signer', signer as string])
      const fact = c.fact === 'signer' ? result.facts.signer : result.facts[c.fact]
      if (POLICY_FACTS[c.fact].type === 'bitcoinAddress[]') expect(fact, c.name).toEqual((c.probe.value as string[] | undefined)?.map(lowerBech32))
      else expect(printed(c.fact, typeof fact === 'string' && POLICY_FACTS[c.fact].type === 'uint' ? BigInt(fact) : fact), c.name).toEqual(printed(c.fact, c.probe.value))
      expect({ allowed: result.allowed, rule: result.rule }, c.name).toEqual(c.expected)
      expect(code, c.name).toBe(c.expected.allowed ? 0 : 1)
      ran.push(c)
    }
    // What was left out is exactly what no payload can express.
    expect(skipped).toEqual(cases.filter((c) => (CHAIN_FACTS.has(c.fact) ? CHAIN_INEXPRESSIBLE(c) : INEXPRESSIBLE(c))).map((c) => c.name))
    // Coverage: every fact × operator × effect ran, uint boundaries included (exactly at the cap allowed, one above denied).
    for (const fact of FACT_NAMES) {
      for (const operator of OPERATORS_BY_TYPE[POLICY_FACTS[fact].type]) {
        for (const effect of ['allow', 'deny'] as const) expect(ran.some((c) => c.fact === fact && c.operator === operator && c.effect === effect), `${fact} ${operator} ${effect}`).toBe(true)
      }
    }
    const atCap = ran.filter((c) => c.operator === 'lte' && c.effect === 'allow' && c.probe.label === 'exactly at')
    const aboveCap = ran.filter((c) => c.operator === 'lte' && c.effect === 'allow' && c.probe.label === 'one above')
    expect(atCap.map((c) => c.fact).sort()).toEqual(FACT_NAMES.filter((f) => POLICY_FACTS[f].type === 'uint').sort())
    expect(atCap.every((c) => c.expected.allowed) && aboveCap.every((c) => !c.expected.allowed)).toBe(true)
    expect(aboveCap).toHaveLength(atCap.length)
    expect(new Set(ran.map((c) => c.sample))).toEqual(new Set(Object.keys(MATRIX_SAMPLES)))
  })
})

describe('every payload kind, through every signing operation', () => {
  const SIG = { r: `0x${'11'.repeat(32)}`, s: `0x${'22'.repeat(32)}`, yParity: 0 }
  const KIND_PAYLOADS: Record<PayloadKind, Payload[]> = {
    legacy: [{ op: 'sign.transaction', params: { tx: { type: 'legacy', chainId: '1', nonce: '0', to: A.recipient, value: '1', gas: '21000', gasPrice: '1000000000' } } }],
    eip2930: [{ op: 'sign.transaction', params: { tx: { type: 'eip2930', chainId: '1', nonce: '0', to: A.recipient, value: '1', gas: '21000', gasPrice: '1000000000', accessList: [] } } }],
    eip1559: [eip1559(), { op: 'sign.transaction', params: { tx: { type: 'eip1559', ...TX } } }],
    eip7702: [{ op: 'sign.transaction', params: { tx: { type: 'eip7702', ...TX, authorizationList: [{ chainId: '1', address: A.delegate, nonce: '0', ...SIG }] } } }],
    authorization: [authorization()],
    message: [message, { op: 'sign.message', params: { message: { raw: '0xdeadbeef' } } }],
    typedData: [typedData()],
    digest: [{ op: 'sign.digest', params: { digest: `0x${'ab'.repeat(32)}` } }],
    psbt: [bitcoinPayload(psbtBase64({ outputs: [[MATRIX_BITCOIN.payee, PAYEE_AMOUNT]], fee: SAMPLE_FEE })), bitcoinPayload(psbtBase64({ outputs: [], fee: 500n, network: 'regtest' }), 'regtest')],
    solanaTransaction: [solanaTransactionPayload(solanaMessageBase64([sol.transfer(MATRIX_SOLANA.recipient, 3_500n)]))],
    solanaMessage: [{ op: 'sign.solanaMessage', params: { message: solanaOffchainMessageBase64('hello from custody') } }],
  }

  /** The family of each kind that is not EVM's (an allow rule must name it to allow such a payload). */
  const KIND_FAMILY: Partial<Record<PayloadKind, 'bitcoin' | 'solana'>> = { psbt: 'bitcoin', solanaTransaction: 'solana', solanaMessage: 'solana' }

  it('a rule on `kind` allows exactly its kind (naming the family outside EVM); each payload reports its kind and family', { timeout: 60_000 }, async () => {
    expect(Object.keys(KIND_PAYLOADS).sort()).toEqual([...PAYLOAD_KINDS].sort())
    for (const kind of PAYLOAD_KINDS) {
      const family = KIND_FAMILY[kind]
      const when = family === undefined ? { kind: { eq: kind } } : { kind: { eq: kind }, family: { eq: family } }
      const policy = { rules: [{ id: `only-${kind}`, effect: 'allow', when }] }
      for (const [other, payloads] of Object.entries(KIND_PAYLOADS)) {
        for (const payload of payloads) {
          const { code, result } = await policyTest(policy, payload)
          expect(result.facts.kind, `${payload.op} of kind ${other}`).toBe(other)
          expect(result.facts.family, `${payload.op} of kind ${other}`).toBe(KIND_FAMILY[other as PayloadKind] ?? 'evm')
          expect({ code, rule: result.rule }, `${kind} rule, ${other} payload (${payload.op})`).toEqual(other === kind ? { code: 0, rule: `only-${kind}` } : { code: 1, rule: undefined })
        }
      }
    }
  })

  it('a rule on a Bitcoin or Solana kind that names no family allows nothing: it is an EVM rule', { timeout: 60_000 }, async () => {
    for (const [kind, family] of Object.entries(KIND_FAMILY) as [PayloadKind, string][]) {
      const policy = { rules: [{ id: `only-${kind}`, effect: 'allow', when: { kind: { eq: kind } } }] }
      for (const payload of KIND_PAYLOADS[kind]) {
        const { code, result } = await policyTest(policy, payload)
        expect({ code, allowed: result.allowed, rule: result.rule, family: result.facts.family }, `${kind} rule without family, ${payload.op}`).toEqual({ code: 1, allowed: false, rule: undefined, family })
      }
    }
  })

  it("a plain key's PSBT has no `network` fact (a PSBT proves no network): a rule on it does not hold", async () => {
    const psbt = KIND_PAYLOADS.psbt[0]!
    const { code, result } = await policyTest({ rules: [{ id: 'mainnet', effect: 'allow', when: { family: { eq: 'bitcoin' }, network: { eq: 'mainnet' } } }] }, psbt)
    expect(result.facts).not.toHaveProperty('network')
    expect({ code, rule: result.rule }).toEqual({ code: 1, rule: undefined })
  })
})
