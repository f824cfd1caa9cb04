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
import { canonicalApiKey, FACT_NAMES, OPERATORS_BY_TYPE, PAYLOAD_KINDS, POLICY_FACTS, type PayloadKind } from '@enclave-custody/sdk'
import { encodeFunctionData, erc20Abi } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MATRIX_ADDRESSES as A, MATRIX_SAMPLES, type PolicyMatrixCase, policyMatrixCases } from '../../enclave-runtime/test/support/policyMatrix.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo } from './helpers.js'

type Payload = { op: string; params: Record<string, unknown> }

const GWEI = 1_000_000_000n
const transaction = MATRIX_SAMPLES.transaction
const TX = {
  chainId: '1',
  nonce: '0',
  to: A.recipient,
  value: transaction.value!.toString(),
  gas: transaction.gas!.toString(),
  maxFeePerGas: transaction.maxFeePerGas!.toString(),
  maxPriorityFeePerGas: transaction.maxPriorityFeePerGas!.toString(),
}
const eip1559 = (fields: Record<string, unknown> = {}): Payload => ({ op: 'sign.eip1559', params: { tx: { ...TX, ...fields } } })
const creation = (): Payload => {
  const { to: _, ...tx } = TX
  return { op: 'sign.eip1559', params: { tx: { ...tx, gas: '100000', data: '0x6000' } } }
}
const message: Payload = { op: 'sign.message', params: { message: 'hello' } }

const SAMPLE_AMOUNT = MATRIX_SAMPLES.erc20Transfer.amount!
/** An ERC-20 call to `token` (calldata by viem, an implementation independent of the enclave's decoder). */
const erc20 = (call: 'transfer' | 'approve', { token = A.token, party, amount = SAMPLE_AMOUNT }: { token?: string; party?: string; amount?: bigint } = {}): Payload => {
  const args = [(party ?? (call === 'transfer' ? A.tokenRecipient : A.spender)) as `0x${string}`, amount] as const
  return eip1559({ to: token, value: '0', gas: '60000', data: encodeFunctionData({ abi: erc20Abi, functionName: call, args }) })
}

const DOMAIN_FIELDS = [
  ['name', 'string'],
  ['version', 'string'],
  ['chainId', 'uint256'],
  ['verifyingContract', 'address'],
] as const
const PERMIT_FIELDS = [
  { name: 'owner', type: 'address' },
  { name: 'spender', type: 'address' },
  { name: 'value', type: 'uint256' },
  { name: 'nonce', type: 'uint256' },
  { name: 'deadline', type: 'uint256' },
]
/** An EIP-2612 permit of the sample's token, domain fields overridable (`undefined`: left out), or another primary type. */
function typedData({ domain: overrides = {}, primaryType = 'Permit' }: { domain?: Record<string, unknown>; primaryType?: 'Permit' | 'Transfer' } = {}): Payload {
  const permit = MATRIX_SAMPLES.permit
  const domain = Object.fromEntries(
    Object.entries({ name: permit.domainName, version: permit.domainVersion, chainId: '1', verifyingContract: permit.verifyingContract, ...overrides }).filter(([, v]) => v !== undefined),
  )
  const EIP712Domain = DOMAIN_FIELDS.filter(([name]) => name in domain).map(([name, type]) => ({ name, type }))
  const body =
    primaryType === 'Permit'
      ? { types: { EIP712Domain, Permit: PERMIT_FIELDS }, message: { owner: A.other, spender: A.spender, value: SAMPLE_AMOUNT.toString(), nonce: '0', deadline: '1893456000' } }
      : { types: { EIP712Domain, Transfer: [{ name: 'to', type: 'address' }, { name: 'amount', type: 'uint256' }] }, message: { to: A.other, amount: '1' } }
  return { op: 'sign.typedData', params: { typedData: { domain, primaryType, ...body } } }
}
const authorization = (fields: Record<string, unknown> = {}): Payload => ({ op: 'sign.authorization', params: { authorization: { chainId: '1', address: A.delegate, nonce: '0', ...fields } } })

/**
 * gas × maxFeePerGas = `fee`: a gas limit of a usual size dividing `fee`, else `fee` gas at 1 wei (the wire takes gas
 * limits up to 2^64 - 1), or `undefined` below 21,000.
 */
function feeSplit(fee: bigint): { gas: bigint; maxFeePerGas: bigint } | undefined {
  for (let gas = 21_000n; gas <= 1_000_000n; gas++) if (fee % gas === 0n && fee / gas >= GWEI) return { gas, maxFeePerGas: fee / gas }
  return fee >= 21_000n ? { gas: fee, maxFeePerGas: 1n } : undefined
}

/**
 * A payload whose fact `fact` is `value` (`undefined`: a payload without that fact), or `undefined` when no payload
 * can have it so. The signer is not in the payload: it is `--signer`.
 */
function payloadFor(fact: string, value: unknown): Payload | undefined {
  const absent = value === undefined
  // The probe's value, read as the fact's type.
  const v = value as string
  const n = value as bigint
  switch (fact) {
    case 'family':
      return absent ? undefined : eip1559()
    case 'kind':
      if (absent) return undefined
      if (v === 'legacy') return { op: 'sign.transaction', params: { tx: { type: 'legacy', chainId: '1', nonce: '0', to: A.recipient, value: '1', gas: '21000', gasPrice: '1000000000' } } }
      return eip1559()
    case 'chainId':
      if (absent) return message
      // Chain id 0 exists only as an authorization for every chain.
      return n === 0n ? authorization({ chainId: '0', allowAnyChain: true }) : eip1559({ chainId: n.toString() })
    case 'to':
      return absent ? creation() : eip1559({ to: v })
    case 'gas':
      return absent ? message : n < 21_000n ? undefined : eip1559({ gas: n.toString() })
    case 'value':
    case 'maxFeePerGas':
    case 'maxPriorityFeePerGas':
      return absent ? message : eip1559({ [fact]: n.toString() })
    case 'worstCaseFee': {
      if (absent) return message
      const split = feeSplit(n)
      return split && eip1559({ gas: split.gas.toString(), maxFeePerGas: split.maxFeePerGas.toString(), maxPriorityFeePerGas: '1' })
    }
    case 'contractCreation':
      return absent ? message : value === true ? creation() : eip1559()
    case 'selector': {
      if (absent) return eip1559()
      const call = erc20('transfer')
      const data = (call.params.tx as { data: string }).data
      return eip1559({ ...(call.params.tx as object), data: `${v}${data.slice(10)}` })
    }
    case 'call':
      return absent ? message : erc20(v as 'transfer' | 'approve')
    case 'token':
      return absent ? eip1559() : erc20('transfer', { token: v })
    case 'recipient':
      return absent ? erc20('approve') : erc20('transfer', { party: v })
    case 'spender':
      return absent ? erc20('transfer') : erc20('approve', { party: v })
    case 'amount':
      return absent ? eip1559() : erc20('transfer', { amount: n })
    case 'domainName':
      return typedData({ domain: { name: absent ? undefined : v } })
    case 'domainVersion':
      return typedData({ domain: { version: absent ? undefined : v } })
    case 'verifyingContract':
      return typedData({ domain: { verifyingContract: absent ? undefined : v } })
    case 'primaryType':
      return absent ? message : typedData({ primaryType: v as 'Permit' | 'Transfer' })
    case 'delegate':
      return absent ? eip1559() : authorization({ address: v })
    case 'signer':
      return eip1559()
    default:
      throw new Error(`no payload for fact ${fact}`)
  }
}

/** A fact's value as the CLI prints it, for comparison: addresses and selectors lower-case, keys compressed. */
function printed(fact: string, value: unknown): unknown {
  if (value === undefined) return undefined
  const type = POLICY_FACTS[fact as keyof typeof POLICY_FACTS].type
  if (type === 'uint') return (value as bigint).toString()
  if (type === 'address' || type === 'bytes4') return (value as string).toLowerCase()
  if (type === 'apiKey') return canonicalApiKey(value, 'signer')
  return value
}

/**
 * Cases no payload can express: no payload lacks a chain family or a kind, and no transaction has a gas limit below
 * 21,000 (the matrix's gas pivot), which the protocol refuses. Nothing else may be missing.
 */
const INEXPRESSIBLE = (c: PolicyMatrixCase) => ((c.fact === 'family' || c.fact === 'kind') && c.probe.value === undefined) || (c.fact === 'gas' && c.probe.label === 'one below')

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

type Outcome = { code: number; result: { allowed: boolean; rule?: string; facts: Record<string, unknown> } }
async function policyTest(policy: unknown, payload: Payload, extra: string[] = []): Promise<Outcome> {
  const io = captureIo()
  const code = await runCli(['policy', 'test', '--file', await fileOf(policy), '--payload', await fileOf(payload), '--json', ...extra], io)
  if (code === 2) throw new Error(`custody policy test refused its input: ${io.err()}`)
  return { code, result: JSON.parse(io.out()) as Outcome['result'] }
}

describe('custody policy test over the shared policy matrix', () => {
  const cases = policyMatrixCases()

  it('every case a payload can express gives the decision and rule the matrix expects, from the fact the matrix set', { timeout: 120_000 }, async () => {
    const ran: PolicyMatrixCase[] = []
    const skipped: string[] = []
    for (const c of cases) {
      const payload = payloadFor(c.fact, c.probe.value)
      if (!payload) {
        skipped.push(c.name)
        continue
      }
      const signer = c.fact === 'signer' ? c.probe.value : MATRIX_SAMPLES[c.sample].signer
      const { code, result } = await policyTest(c.policy, payload, signer === undefined ? [] : ['--signer', signer as string])
      const fact = c.fact === 'signer' ? result.facts.signer : result.facts[c.fact]
      expect(printed(c.fact, typeof fact === 'string' && POLICY_FACTS[c.fact].type === 'uint' ? BigInt(fact) : fact), c.name).toEqual(printed(c.fact, c.probe.value))
      expect({ allowed: result.allowed, rule: result.rule }, c.name).toEqual(c.expected)
      expect(code, c.name).toBe(c.expected.allowed ? 0 : 1)
      ran.push(c)
    }
    // What was left out is exactly what no payload can express.
    expect(skipped).toEqual(cases.filter(INEXPRESSIBLE).map((c) => c.name))
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
  }

  it('a rule on `kind` allows exactly its kind; each payload reports its kind', { timeout: 60_000 }, async () => {
    expect(Object.keys(KIND_PAYLOADS).sort()).toEqual([...PAYLOAD_KINDS].sort())
    for (const kind of PAYLOAD_KINDS) {
      const policy = { rules: [{ id: `only-${kind}`, effect: 'allow', when: { kind: { eq: kind } } }] }
      for (const [other, payloads] of Object.entries(KIND_PAYLOADS)) {
        for (const payload of payloads) {
          const { code, result } = await policyTest(policy, payload)
          expect(result.facts.kind, `${payload.op} of kind ${other}`).toBe(other)
          expect({ code, rule: result.rule }, `${kind} rule, ${other} payload (${payload.op})`).toEqual(other === kind ? { code: 0, rule: `only-${kind}` } : { code: 1, rule: undefined })
        }
      }
    }
  })
})
