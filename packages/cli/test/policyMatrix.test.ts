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
import { MATRIX_ADDRESSES as A, MATRIX_SAMPLES, type PolicyMatrixCase, policyMatrixCases } from '../../enclave-runtime/test/support/policyMatrix.js'
import { authorization, eip1559, INEXPRESSIBLE, message, type Payload, payloadFor, printed, TX, typedData } from '../../enclave-runtime/test/support/policyMatrixPayloads.js'
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
