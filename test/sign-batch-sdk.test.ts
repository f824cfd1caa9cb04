/**
 * `custody.signBatch` end to end: over the in-process enclave, over the loopback stack (SDK → parent proxy over HTTP
 * → enclave server over framed TCP → runtime), and against hostile answers — a parent that edits the signed answer
 * (caught by the response signature) and an enclave whose answer is wrong but signed (caught by each item's check).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  apiKeyStamper,
  approveRequest,
  createCustodyClient,
  type CustodyClient,
  CustodyError,
  generateApiKey,
  hexToBytes,
  isCustodyError,
  nitroEnclave,
  type Transport,
} from '@enclave-custody/sdk'
import type { ResponseMessage } from '@enclave-custody/sdk/protocol'
import { createLocalRuntime, type EnclaveServer, type LocalRuntime, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { type Hex, parseTransaction, recoverMessageAddress, recoverTransactionAddress, recoverTypedDataAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signingEnclave } from '../packages/enclave-runtime/test/support/runtime.js'
import type { SignBatchItem } from '../packages/sdk/src/client/signBatch.js'
import { scriptOf } from '../packages/enclave-runtime/test/bitcoinFixtures.js'
import { keyFromSeed, kitMessageBytes } from '../packages/enclave-runtime/test/solanaSupport.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { type Address, getBase58Encoder, getOffchainMessageV0Codec, type OffchainMessageV0 } from '@solana/kit'
import * as bitcoin from 'bitcoinjs-lib'
import { EIP712_MAIL } from './support/eip712Mail.js'
import { codeOf } from './support/stampAttacks.js'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const tx = (value: bigint, nonce = 0n) => ({ chainId: 1n, nonce, to: TO, value, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n }) as const
const typedData = EIP712_MAIL
const DIGEST = `0x${'ab'.repeat(32)}` as const

const ALL_KINDS = [
  { kind: 'eip1559', tx: tx(1n) },
  { kind: 'transaction', tx: { type: 'legacy', chainId: 1n, nonce: 7n, to: TO, value: 5n, gas: 21_000n, gasPrice: 1_000_000_000n } },
  { kind: 'message', message: 'hello batch' },
  { kind: 'typedData', typedData },
  { kind: 'digest', digest: DIGEST },
  { kind: 'authorization', authorization: { chainId: 1n, address: TO, nonce: 3n } },
] as const satisfies readonly SignBatchItem[]

const newStamper = () => apiKeyStamper({ privateKey: generateApiKey().privateKey })


/** The runtime behind an in-process transport; `tamper` is a parent that edits the (signed) answer it passes on. */
function inProcess(runtime: LocalRuntime, tamper?: (response: ResponseMessage, message: { op: string }) => ResponseMessage): Transport {
  return {
    name: 'in-process',
    attestation: runtime.attestation,
    async request(message) {
      const { audit: _, ...response } = await runtime.handler.handle(JSON.parse(JSON.stringify(message)))
      const answer = JSON.parse(JSON.stringify(response)) as ResponseMessage
      return tamper ? tamper(answer, message) : answer
    },
  }
}

let dir: string
let runtime: LocalRuntime
const stamper = newStamper()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sign-batch-sdk-'))
  runtime = await createLocalRuntime({ dataDir: dir })
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('signBatch over the in-process enclave', () => {
  let custody: CustodyClient
  let keyId: string
  let address: string
  beforeAll(async () => {
    custody = createCustodyClient({ transport: inProcess(runtime), stamper })
    ;({ keyId, address } = await custody.importKey({ generate: true, policy: { allowRawDigest: true } }))
  })

  it('signs every kind, each value what the single method returns, recovering to the key (viem)', async () => {
    const out = await custody.signBatch(keyId, ALL_KINDS)
    expect(out.map((o) => o.ok)).toEqual([true, true, true, true, true, true])
    const [a, b, c, d, e, f] = out
    if (!a.ok || !b.ok || !c.ok || !d.ok || !e.ok || !f.ok) throw new Error('unreachable')
    expect(a.value).toEqual(await custody.signEip1559(keyId, ALL_KINDS[0].tx))
    expect(b.value).toEqual(await custody.signTransaction(keyId, ALL_KINDS[1].tx))
    expect(c.value).toEqual(await custody.signMessage(keyId, { message: 'hello batch' }))
    expect(d.value).toEqual(await custody.signTypedData(keyId, typedData))
    expect(e.value).toEqual(await custody.signDigest(keyId, DIGEST))
    expect(f.value).toEqual(await custody.signAuthorization(keyId, ALL_KINDS[5].authorization))
    expect(await recoverTransactionAddress({ serializedTransaction: a.value.rawTransaction as never })).toBe(address)
    expect(parseTransaction(b.value.rawTransaction as Hex).type).toBe('legacy')
    expect(await recoverMessageAddress({ message: 'hello batch', signature: c.value.signature })).toBe(address)
    expect(await recoverTypedDataAddress({ ...typedData, signature: d.value.signature })).toBe(address)
  })

  it('returns an item the policy denies as its own failure (a CustodyError), the others signed', async () => {
    const owner = newStamper()
    const client = createCustodyClient({ transport: inProcess(runtime), stamper: owner })
    const { keyId: k } = await client.importKey({ generate: true })
    await client.setSigningPolicy(k, { rules: [{ id: 'small', effect: 'allow', when: { value: { lte: '100' } } }] })
    const out = await client.signBatch(k, [
      { kind: 'eip1559', tx: tx(100n) },
      { kind: 'eip1559', tx: tx(101n, 1n) },
      { kind: 'eip1559', tx: tx(3n, 2n) },
    ])
    expect(out.map((o) => o.ok)).toEqual([true, false, true])
    const denied = out[1]!
    if (denied.ok) throw new Error('unreachable')
    expect(denied.error).toBeInstanceOf(CustodyError)
    expect(denied.error.code).toBe('POLICY_DENIED')
  })

  it('checks every item before sending, naming it; refuses 0 or more than 64 items', async () => {
    const refused = async (items: unknown) => {
      try {
        await custody.signBatch(keyId, items as SignBatchItem[])
      } catch (e) {
        if (isCustodyError(e, 'INVALID_ARGUMENT')) return e.details
        throw e
      }
      return undefined
    }
    expect(await refused([{ kind: 'message', message: 'm' }, { kind: 'eip1559', tx: { ...tx(1n), gas: 40_000_000n } }])).toMatchObject({ field: 'items[1].tx.gas' })
    expect(await refused([{ kind: 'nope' }])).toMatchObject({ field: 'items[0].kind' })
    expect(await refused([{ kind: 'message', message: 'm', keyId: 'other' }])).toMatchObject({ field: 'items[0]' })
    expect(await refused([])).toMatchObject({ field: 'items' })
    expect(await refused(Array.from({ length: 65 }, () => ({ kind: 'message', message: 'm' })))).toMatchObject({ field: 'items' })
  })

  it('counts approvals over the whole batch for an owners\' threshold of 2, and refuses without them', async () => {
    const second = newStamper()
    const client = createCustodyClient({ transport: inProcess(runtime), stamper })
    const { keyId: k } = await client.importKey({ generate: true, owners: { publicKeys: [stamper.publicKey, second.publicKey], threshold: 2 } })
    const items = [{ kind: 'message', message: 'quorum' }, { kind: 'eip1559', tx: tx(1n) }] as const
    expect(await codeOf(client.signBatch(k, items))).toBe('FORBIDDEN')
    const out = await client.signBatch(k, items, { approvers: [second] })
    expect(out.every((o) => o.ok)).toBe(true)
    // An approver on another machine stamps the request approvalRequest.signBatch builds: the same batch.
    const request = await client.approvalRequest.signBatch(k, items, { idempotencyKey: 'remote-1' })
    expect(request).toMatchObject({ op: 'sign.batch', params: { keyId: k, idempotencyKey: 'remote-1', items: [{ op: 'sign.message' }, { op: 'sign.eip1559' }] } })
    const approval = await approveRequest(second, request)
    expect((await client.signBatch(k, items, { idempotencyKey: 'remote-1', approvals: [approval] })).every((o) => o.ok)).toBe(true)
    // Not for another batch: the approval is over the items it was shown.
    const other = await approveRequest(second, await client.approvalRequest.signBatch(k, [items[0]]))
    expect(await codeOf(client.signBatch(k, items, { approvals: [other] }))).toBe('UNAUTHENTICATED')
  })

  it('replays under an idempotency key: the same signatures', async () => {
    const items = [{ kind: 'message', message: 'idem' }] as const
    const first = await custody.signBatch(keyId, items, { idempotencyKey: 'sdk-batch-1' })
    expect(await custody.signBatch(keyId, items, { idempotencyKey: 'sdk-batch-1' })).toEqual(first)
  })
})

describe('signBatch with Bitcoin and Solana items', () => {
  const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
  const OTHER_PUB = secp256k1.getPublicKey(hexToBytes('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'), true)

  /** A regtest PSBT spending one P2WPKH output of `pub`, paying another key and change. */
  function psbtOf(pub: Uint8Array): string {
    const psbt = new bitcoin.Psbt({ network: bitcoin.networks.regtest })
    const { script } = scriptOf(pub, 'p2wpkh')
    const prev = new bitcoin.Transaction()
    prev.version = 2
    prev.addInput(new Uint8Array(32).fill(1), 0)
    prev.addOutput(script, 100_000n)
    psbt.addInput({ hash: prev.getHash(), index: 0, sequence: 0xfffffffd, nonWitnessUtxo: prev.toBuffer(), witnessUtxo: { script, value: 100_000n } })
    psbt.addOutput({ script: scriptOf(OTHER_PUB, 'p2wpkh').script, value: 60_000n })
    psbt.addOutput({ script, value: 38_000n })
    return psbt.toBase64()
  }

  it('a secp256k1 key signs EVM items and a PSBT in one batch, each as its single method does', async () => {
    const custody = createCustodyClient({ transport: inProcess(runtime), stamper })
    const { keyId } = await custody.importKey({ privateKey: KEY })
    const psbt = psbtOf(secp256k1.getPublicKey(hexToBytes(KEY), true))
    const out = await custody.signBatch(keyId, [
      { kind: 'message', message: 'with a psbt' },
      { kind: 'bitcoinPsbt', psbt, network: 'regtest', finalize: true },
    ] as const)
    const [message, signed] = out
    if (!message.ok || !signed.ok) throw new Error('an item was refused')
    expect(signed.value).toEqual(await custody.signBitcoinPsbt(keyId, { psbt, network: 'regtest', finalize: true }))
    expect(signed.value.txid).toMatch(/^[0-9a-f]{64}$/)
  })

  it('an ed25519 key signs a Solana transaction and an off-chain message in one batch (signatures verified by ed25519)', async () => {
    const seed = new Uint8Array(32).fill(0x11)
    const alice = keyFromSeed(seed)
    const custody = createCustodyClient({ transport: inProcess(runtime), stamper })
    const { keyId } = await custody.importKey({ privateKey: `0x${'11'.repeat(32)}`, kind: 'ed25519' })
    const transaction = kitMessageBytes({ version: 0, feePayer: alice.address, blockhash: '4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi', instructions: [] })
    const message = new Uint8Array(
      getOffchainMessageV0Codec().encode({
        version: 0,
        requiredSignatories: [{ address: alice.address }],
        applicationDomain: 'AppDomain1111111111111111111111111111111111' as Address,
        content: { format: 0, text: 'batch sign-in' },
      } as unknown as OffchainMessageV0),
    )
    const out = await custody.signBatch(keyId, [
      { kind: 'solanaTransaction', transaction },
      { kind: 'solanaMessage', message },
      { kind: 'message', message: 'an EVM item' },
    ] as const).catch((e: unknown) => e)
    // An EVM item needs an EVM key: refused before anything is sent, as signMessage would be.
    expect(isCustodyError(out, 'INVALID_ARGUMENT')).toBe(true)
    // A transaction the key does not sign: refused before sending, named within the batch.
    const bobs = kitMessageBytes({ version: 0, feePayer: keyFromSeed(new Uint8Array(32).fill(0x22)).address, blockhash: '4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi', instructions: [] })
    await expect(custody.signBatch(keyId, [{ kind: 'solanaMessage', message }, { kind: 'solanaTransaction', transaction: bobs }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'items[1].transaction' } })
    const [tx, msg] = await custody.signBatch(keyId, [
      { kind: 'solanaTransaction', transaction },
      { kind: 'solanaMessage', message },
    ] as const)
    if (!tx.ok || !msg.ok) throw new Error('an item was refused')
    expect(tx.value).toEqual(await custody.signSolanaTransaction(keyId, { transaction }))
    expect(ed25519.verify(new Uint8Array(getBase58Encoder().encode(tx.value.signature)), transaction, alice.publicKey)).toBe(true)
    expect(ed25519.verify(new Uint8Array(getBase58Encoder().encode(msg.value.signature)), message, alice.publicKey)).toBe(true)
  })
})

type BatchResult = { results: ({ ok: true; result: Record<string, unknown> } | { ok: false; error: unknown })[] }

describe('signBatch against hostile answers', () => {
  const items = [
    { kind: 'eip1559', tx: tx(1n) },
    { kind: 'message', message: 'second' },
    { kind: 'message', message: 'third' },
  ] as const

  /** An enclave whose signed batch answer is `edit`ed (what only the SDK's own per-item checks catch). */
  async function hostileEnclave(edit: (r: BatchResult) => BatchResult) {
    // Only the three-item batches are edited.
    const edits = (r: BatchResult) => (r.results.length === 3 ? edit(r) : r)
    const transport = signingEnclave({ edit: (message, response) => (message.op === 'sign.batch' && response.ok ? { ...response, result: edits(response.result as BatchResult) } : response) })
    const custody = createCustodyClient({ transport, stamper })
    const { keyId } = await custody.importKey({ generate: true })
    // The unedited path works: the edits below are what is refused.
    expect((await custody.signBatch(keyId, [{ kind: 'message', message: 'fine' }])).map((o) => o.ok)).toEqual([true])
    return { custody, keyId }
  }

  it.each([
    ['two results swapped', (r: BatchResult) => ({ results: [r.results[0]!, r.results[2]!, r.results[1]!] })],
    ['a result dropped', (r: BatchResult) => ({ results: r.results.slice(0, 2) })],
    ['every result dropped', () => ({ results: [] })],
    ['a result added', (r: BatchResult) => ({ results: [...r.results, r.results[2]!] })],
    [
      'one signature altered',
      (r: BatchResult) => {
        const second = r.results[1] as unknown as { result: { s: string; signature: string } }
        const s = `0x${(BigInt(second.result.s) - 1n).toString(16).padStart(64, '0')}`
        return { results: [r.results[0]!, { ok: true as const, result: { ...second.result, s, signature: second.result.signature.replace(second.result.s.slice(2), s.slice(2)) } }, r.results[2]!] }
      },
    ],
    ['a malformed result', (r: BatchResult) => ({ results: [r.results[0]!, { ok: true as const, result: { signature: '0x00' } }, r.results[2]!] })],
  ])('an enclave answer with %s is refused with INTEGRITY_ERROR', async (_, edit) => {
    const { custody, keyId } = await hostileEnclave(edit)
    expect(await codeOf(custody.signBatch(keyId, items))).toBe('INTEGRITY_ERROR')
  })

  it('an item the enclave denied, answered ok (with another item\'s signature), is refused with INTEGRITY_ERROR', async () => {
    const transport = signingEnclave({
      edit: (message, response) => {
        if (message.op !== 'sign.batch' || !response.ok) return response
        const { results } = response.result as BatchResult
        // Slot 1 was denied; the hostile answer claims it signed, with slot 2's signature.
        return { ...response, result: { results: results.map((r, i) => (i === 1 && !r.ok ? results[2]! : r)) } }
      },
    })
    const custody = createCustodyClient({ transport, stamper })
    const { keyId } = await custody.importKey({ generate: true })
    await custody.setSigningPolicy(keyId, { rules: [{ id: 'no-second', effect: 'deny', when: { kind: { in: ['message'] } } }, { id: 'rest', effect: 'allow' }] })
    expect(await codeOf(custody.signBatch(keyId, [{ kind: 'eip1559', tx: tx(1n) }, { kind: 'message', message: 'denied' }, { kind: 'eip1559', tx: tx(2n, 1n) }]))).toBe('INTEGRITY_ERROR')
  })

  it('a parent that swaps two results or marks a denied item ok breaks the response signature: INTEGRITY_ERROR', async () => {
    const swap = createCustodyClient({
      transport: inProcess(runtime, (response, message) => {
        if (message.op !== 'sign.batch' || !response.ok) return response
        const { results } = response.result as BatchResult
        return { ...response, result: { results: [results[0]!, results[2]!, results[1]!] } }
      }),
      stamper,
    })
    const { keyId } = await swap.importKey({ generate: true })
    expect(await codeOf(swap.signBatch(keyId, items))).toBe('INTEGRITY_ERROR')
    const flip = createCustodyClient({
      transport: inProcess(runtime, (response, message) => {
        if (message.op !== 'sign.batch' || !response.ok) return response
        const { results } = response.result as BatchResult
        return { ...response, result: { results: results.map((r) => (r.ok ? r : results[0]!)) } }
      }),
      stamper,
    })
    // The digest item fails in the enclave (the key has no allowRawDigest): a parent cannot turn it into a success.
    expect(await codeOf(flip.signBatch(keyId, [{ kind: 'message', message: 'm' }, { kind: 'digest', digest: DIGEST }]))).toBe('INTEGRITY_ERROR')
  })
})

describe('signBatch over the loopback stack (SDK → proxy HTTP → enclave server → runtime)', () => {
  let server: EnclaveServer
  let proxy: ParentProxy
  beforeAll(async () => {
    server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
    proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port } })
  })
  afterAll(async () => {
    await proxy?.close()
    await server?.close()
  })

  it('signs a mixed batch through POST /v1/keys/:keyId/sign-batch, with a denied item in its slot', async () => {
    const custody = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation: runtime.attestation }), stamper })
    const { keyId, address } = await custody.importKey({ generate: true })
    const out = await custody.signBatch(keyId, [...ALL_KINDS.filter((i) => i.kind !== 'digest'), { kind: 'digest', digest: DIGEST }])
    expect(out.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'POLICY_DENIED'])
    const first = out[0]!
    if (!first.ok) throw new Error('unreachable')
    expect(await recoverTransactionAddress({ serializedTransaction: (first.value as { rawTransaction: string }).rawTransaction as never })).toBe(address)
    expect(first.value).toEqual(await custody.signEip1559(keyId, ALL_KINDS[0].tx))
  })
})
