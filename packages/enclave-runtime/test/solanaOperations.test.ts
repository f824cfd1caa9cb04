/**
 * The Solana family's signing operations (`sign.solanaTransaction`, `sign.solanaMessage`): the specs called
 * directly with an ed25519 SigningKey / SigningSecret, and the SDK's `signSolanaTransaction` /
 * `signSolanaMessage` against an in-process enclave whose Solana answers come from those specs (until the
 * enclave creates ed25519 keys, its key.get is edited to report one) — the wire transaction the SDK returns runs
 * in litesvm as is, and every answer an enclave gone wrong could give is refused.
 */
import { createCustodyClient, DEFAULT_KEY_POLICY, isCustodyError, type Transport } from '@enclave-custody/sdk'
import { ed25519 } from '@noble/curves/ed25519.js'
import { base58, base64 } from '@scure/base'
import { type Address, getOffchainMessageV0Codec, getTransactionDecoder, lamports, type OffchainMessageV0 } from '@solana/kit'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { describe, expect, it } from 'vitest'
import { SYSTEM_PROGRAM } from '../src/families/solana/facts.js'
import { SOLANA_OPERATIONS } from '../src/families/solana/operations.js'
import type { SigningKey } from '../src/families/types.js'
import { signingEnclave } from './support/runtime.js'
import { newStamper } from './support/stamps.js'
import { kitMessageBytes, keyFromSeed, systemTransferData, type TestKey } from './solanaSupport.js'
import { AccountRole } from '@solana/kit'

const alice = keyFromSeed(new Uint8Array(32).fill(0x11))
const bob = keyFromSeed(new Uint8Array(32).fill(0x22))
const carol = keyFromSeed(new Uint8Array(32).fill(0x33))
const BLOCKHASH = '4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi'

const signingKeyOf = (k: TestKey): SigningKey => ({ keyId: 'sol-1', curve: 'ed25519', families: ['solana'], address: k.address, publicKey: () => k.publicKey })
const spec = SOLANA_OPERATIONS
const policy = { ...DEFAULT_KEY_POLICY }

const transfer = (from: Address, to: Address, amount: bigint) => ({
  programAddress: SYSTEM_PROGRAM as Address,
  accounts: [
    { address: from, role: AccountRole.WRITABLE_SIGNER },
    { address: to, role: AccountRole.WRITABLE },
  ],
  data: systemTransferData(amount),
})

/** A transfer alice → carol with bob's co-signature (bob is the fee payer: index 0; alice index 1). */
const twoSigners = (blockhash = BLOCKHASH, version: 'legacy' | 0 = 0) =>
  kitMessageBytes({ version, feePayer: bob.address, blockhash, instructions: [transfer(alice.address, carol.address, 1_000_000n), transfer(bob.address, carol.address, 1_000_000n)] })

const offchain = (signers: TestKey[], text = 'sign in to example.com') =>
  new Uint8Array(
    getOffchainMessageV0Codec().encode({
      version: 0,
      requiredSignatories: signers.map((s) => ({ address: s.address })),
      applicationDomain: 'AppDomain1111111111111111111111111111111111' as Address,
      content: { format: 0, text },
    } as unknown as OffchainMessageV0),
  )

describe('the Solana specs, called directly', () => {
  it('sign.solanaTransaction: facts, then a base58 signature at the key\'s signer index, verified by ed25519', () => {
    const message = twoSigners()
    const params = { keyId: 'sol-1', message: base64.encode(message) }
    const facts = spec['sign.solanaTransaction'].facts(params as never, signingKeyOf(alice))
    expect(facts).toMatchObject({ family: 'solana', kind: 'solanaTransaction' })
    const out = spec['sign.solanaTransaction'].sign({ privateKey: alice.seed }, params as never, { policy, key: signingKeyOf(alice) }) as { signature: string; signerIndex: number; signer: string }
    expect(out.signerIndex).toBe(1)
    expect(out.signer).toBe(alice.address)
    expect(ed25519.verify(base58.decode(out.signature), message, alice.publicKey)).toBe(true)
    expect(Object.keys(out).sort()).toEqual(['signature', 'signer', 'signerIndex'])
  })

  it('sign.solanaMessage: an off-chain message signed over all its bytes (preamble included)', () => {
    const message = offchain([bob, alice])
    const params = { keyId: 'sol-1', message: base64.encode(message) }
    expect(spec['sign.solanaMessage'].facts(params as never, signingKeyOf(alice))).toMatchObject({ family: 'solana' })
    const out = spec['sign.solanaMessage'].sign({ privateKey: alice.seed }, params as never, { policy, key: signingKeyOf(alice) }) as { signature: string; signerIndex: number }
    expect(out.signerIndex).toBe(1)
    expect(ed25519.verify(base58.decode(out.signature), message, alice.publicKey)).toBe(true)
  })

  it('refused: a key that is not a signer, a secp256k1 key, a transaction as an off-chain message and the reverse, malformed data', () => {
    const tx = { keyId: 'sol-1', message: base64.encode(twoSigners()) }
    expect(() => spec['sign.solanaTransaction'].sign({ privateKey: carol.seed }, tx as never, { policy, key: signingKeyOf(carol) })).toThrow(/not a required signer/)
    const secp = { ...signingKeyOf(alice), curve: 'secp256k1' as const }
    expect(() => spec['sign.solanaTransaction'].facts(tx as never, secp)).toThrow(/not an ed25519 key/)
    expect(() => spec['sign.solanaMessage'].facts(tx as never, signingKeyOf(alice))).toThrow(/off-chain/)
    const msg = { keyId: 'sol-1', message: base64.encode(offchain([alice])) }
    expect(() => spec['sign.solanaTransaction'].facts(msg as never, signingKeyOf(alice))).toThrow()
    const badData = kitMessageBytes({ version: 'legacy', feePayer: alice.address, blockhash: BLOCKHASH, instructions: [{ ...transfer(alice.address, bob.address, 1n), data: new Uint8Array([2, 0, 0, 0, 1]) }] })
    expect(() => spec['sign.solanaTransaction'].facts({ keyId: 'sol-1', message: base64.encode(badData) } as never, signingKeyOf(alice))).toThrow(/data/)
  })

  it('a secret that is not the record\'s key is an internal error, never a signature under another address', () => {
    const tx = { keyId: 'sol-1', message: base64.encode(twoSigners()) }
    expect(() => spec['sign.solanaTransaction'].sign({ privateKey: bob.seed }, tx as never, { policy, key: signingKeyOf(alice) })).toThrow(/not the key of the record/)
  })
})

type Answer = { signature: string; signerIndex: number; signer: string }
const stamper = newStamper()

/**
 * An in-process enclave whose key reads as `key` (ed25519) and whose Solana answers come from the specs with its
 * seed, then pass through `tamper` (re-signed with the enclave's response key).
 */
function solanaEnclave(key: TestKey, tamper: (a: Answer, message: Uint8Array) => unknown = (a) => a): Transport {
  return signingEnclave({
    edit: (message, response) => {
      if (message.op === 'key.get' && response.ok) {
        const { address: _, publicKey: __, curve: ___, ...rest } = response.result as Record<string, unknown>
        return { ...response, result: { ...rest, kind: 'ed25519', curve: 'ed25519', family: 'solana', address: key.address, publicKey: `0x${Buffer.from(key.publicKey).toString('hex')}` } }
      }
      if (message.op !== 'sign.solanaTransaction' && message.op !== 'sign.solanaMessage') return response
      const params = message.params as { keyId: string; message: string }
      const answer = spec[message.op].sign({ privateKey: key.seed }, params as never, { policy, key: signingKeyOf(key) }) as Answer
      return { v: response.v, id: response.id, ok: true, result: tamper(answer, base64.decode(params.message)) } as typeof response
    },
  })
}

async function connect(transport: Transport) {
  // The key is generated as an EVM key and then read as a Solana one (key.get is edited above): a client that saw
  // the generated key refuses the keyId's other identity (test/hostile-key-rebinding.test.ts), so a fresh client
  // signs, as an application started after the key was made.
  const { keyId } = await createCustodyClient({ transport, stamper }).importKey({ generate: true })
  return { custody: createCustodyClient({ transport, stamper }), keyId }
}

describe('signSolanaTransaction / signSolanaMessage through the SDK', () => {
  it('a compiled message in: the signature in the key\'s slot of a wire transaction that litesvm executes as is', async () => {
    const svm = new LiteSVM()
    svm.airdrop(alice.address, lamports(5_000_000_000n))
    const message = kitMessageBytes({ version: 0, feePayer: alice.address, blockhash: svm.latestBlockhash(), instructions: [transfer(alice.address, bob.address, 1_000_000n)] })
    const { custody, keyId } = await connect(solanaEnclave(alice))
    const signed = await custody.signSolanaTransaction(keyId, { transaction: message })
    expect(signed).toMatchObject({ signerIndex: 0, signer: alice.address })
    const result = svm.sendTransaction(getTransactionDecoder().decode(base64.decode(signed.transaction)))
    expect(result instanceof FailedTransactionMetadata ? String(result.err()) : 'ok').toBe('ok')
    expect(svm.getBalance(bob.address)).toBe(1_000_000n)
  })

  it('a wire transaction in (base64, another signer\'s slot filled): the key\'s slot is filled, the other kept; litesvm executes it', async () => {
    const svm = new LiteSVM()
    svm.airdrop(alice.address, lamports(5_000_000_000n))
    svm.airdrop(bob.address, lamports(5_000_000_000n))
    const message = twoSigners(svm.latestBlockhash(), 'legacy')
    const wire = new Uint8Array([2, ...ed25519.sign(message, bob.seed), ...new Uint8Array(64), ...message])
    const { custody, keyId } = await connect(solanaEnclave(alice))
    const signed = await custody.signSolanaTransaction(keyId, { transaction: base64.encode(wire) })
    expect(signed.signerIndex).toBe(1)
    const bytes = base64.decode(signed.transaction)
    expect(bytes.subarray(1, 65)).toEqual(wire.subarray(1, 65))
    expect(base58.encode(bytes.subarray(65, 129))).toBe(signed.signature)
    const result = svm.sendTransaction(getTransactionDecoder().decode(bytes))
    expect(result instanceof FailedTransactionMetadata ? String(result.err()) : 'ok').toBe('ok')
    expect(svm.getBalance(carol.address)).toBe(2_000_000n)
  })

  it('approvalRequest.signSolanaTransaction carries the message alone (a wire transaction\'s signatures stay with the caller)', async () => {
    const { custody, keyId } = await connect(solanaEnclave(alice))
    const message = twoSigners()
    const wire = new Uint8Array([2, ...new Uint8Array(128), ...message])
    const request = await custody.approvalRequest.signSolanaTransaction(keyId, { transaction: wire })
    expect(request).toMatchObject({ op: 'sign.solanaTransaction', params: { keyId, message: base64.encode(message) } })
  })

  it('an off-chain message: signature, index and signer verified', async () => {
    const { custody, keyId } = await connect(solanaEnclave(alice))
    const message = offchain([bob, alice])
    const signed = await custody.signSolanaMessage(keyId, { message })
    expect(signed).toMatchObject({ signerIndex: 1, signer: alice.address })
    expect(ed25519.verify(base58.decode(signed.signature), message, alice.publicKey)).toBe(true)
  })

  it('refused before anything is sent: not a message, a key that is not a signer', async () => {
    const { custody, keyId } = await connect(solanaEnclave(carol))
    await expect(custody.signSolanaTransaction(keyId, { transaction: new Uint8Array([1, 2, 3]) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'transaction' } })
    await expect(custody.signSolanaTransaction(keyId, { transaction: twoSigners() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'transaction' } })
    await expect(custody.signSolanaMessage(keyId, { message: twoSigners() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'message' } })
  })

  const other = (m: Uint8Array) => {
    const copy = m.slice()
    copy[copy.length - 1]! ^= 1
    return copy
  }
  it.each<[string, 'tx' | 'msg', (a: Answer, m: Uint8Array) => unknown, RegExp]>([
    ['a transaction signature over other bytes', 'tx', (a, m) => ({ ...a, signature: base58.encode(ed25519.sign(other(m), alice.seed)) }), /not the key's ed25519 signature/],
    ['a message signature over other bytes', 'msg', (a, m) => ({ ...a, signature: base58.encode(ed25519.sign(other(m), alice.seed)) }), /not the key's ed25519 signature/],
    ['a signature by another key', 'tx', (a, m) => ({ ...a, signature: base58.encode(ed25519.sign(m, bob.seed)) }), /not the key's ed25519 signature/],
    ['another signer index', 'tx', (a) => ({ ...a, signerIndex: 0 }), /signerIndex/],
    ['another signer', 'msg', (a) => ({ ...a, signer: bob.address }), /"signer"/],
    ['a truncated signature (63 bytes)', 'tx', (a) => ({ ...a, signature: base58.encode(base58.decode(a.signature).subarray(0, 63)) }), /64 bytes of canonical base58/],
  ])('%s → INTEGRITY_ERROR', async (_, kind, tamper, reason) => {
    const { custody, keyId } = await connect(solanaEnclave(alice, tamper))
    const call = kind === 'tx' ? custody.signSolanaTransaction(keyId, { transaction: twoSigners() }) : custody.signSolanaMessage(keyId, { message: offchain([bob, alice]) })
    const error = await call.catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR'), String(error)).toBe(true)
    expect((error as Error).message).toMatch(reason)
  })
})
