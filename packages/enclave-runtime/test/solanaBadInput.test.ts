/**
 * Hostile Solana transaction messages (the case table is solanaBadInputCases.ts, shared with the served test
 * hostilePayloadsServed.test.ts): each is refused by `signSolanaTransaction` with an InvalidArgumentError
 * naming the field, and nothing is signed (the module's ed25519.sign, counted through a module mock, is never
 * called). Messages built by hand from a valid
 * SOL transfer that litesvm executes; where the rule is the runtime's own, the same bytes sent to litesvm
 * (signature checks off, so that only the message decides) are refused there too: the parser is not stricter
 * by accident nor laxer than the network.
 */
import { isCustodyError } from '@enclave-custody/sdk'
import { base58 } from '@scure/base'
import { lamports } from '@solana/kit'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { solanaFacts } from '../src/families/solana/facts.js'
import { parseSolanaMessage } from '../src/families/solana/message.js'
import { signSolanaTransaction } from '../src/families/solana/sign.js'
import { createRng } from './rng.js'
import { SYSTEM, shortU16, solanaBadInputCases, TOKEN } from './solanaBadInputCases.js'
import { keyFromSeed, systemTransferData, tokenAmountData } from './solanaSupport.js'

/** Calls of ed25519.sign made by the module under test. */
const signCalls = vi.hoisted(() => ({ count: 0 }))
vi.mock('@noble/curves/ed25519.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/curves/ed25519.js')>()
  const sign: typeof original.ed25519.sign = (...args) => {
    signCalls.count++
    return original.ed25519.sign(...args)
  }
  return { ...original, ed25519: { ...original.ed25519, sign } }
})

const rng = createRng(0x501a_0004)
const payer = keyFromSeed(rng.bytes(32))
const recipient = rng.bytes(32)
const svm = new LiteSVM().withSigverify(false)
svm.airdrop(payer.address, lamports(10_000_000_000n))
const blockhash = base58.decode(svm.latestBlockhash())

type Inner = { sendLegacyTransaction(tx: Uint8Array): unknown; sendVersionedTransaction(tx: Uint8Array): unknown }
/**
 * What litesvm makes of the message (one zero signature per required signer; signature checks are off):
 * 'ok', or the transaction error's name. Only for messages that deserialize: litesvm aborts the process on
 * bytes it cannot deserialize.
 */
function svmOutcome(message: Uint8Array): string {
  const sigs = Math.max(1, message[0]! & 0x80 ? message[1]! : message[0]!)
  const tx = Uint8Array.from([...shortU16(sigs), ...new Uint8Array(64 * sigs), ...message])
  const inner = (svm as unknown as { inner: Inner }).inner
  try {
    const result = message[0]! & 0x80 ? inner.sendVersionedTransaction(tx) : inner.sendLegacyTransaction(tx)
    if (!(result instanceof FailedTransactionMetadata)) return 'ok'
    const err = result.err()
    return typeof err === 'number' ? (TX_ERRORS[err] ?? String(err)) : String(err)
  } catch (e) {
    return `threw ${String(e)}`
  }
}
/** litesvm's TransactionErrorFieldless values that the runtime's message checks produce. */
const TX_ERRORS: Record<number, string> = { 1: 'AccountLoadedTwice', 13: 'SanitizeFailure', 22: 'AddressLookupTableNotFound' }

/** The case table (solanaBadInputCases.ts) around the payer, on litesvm's blockhash. */
const { cases, m, legacy, v0, fresh } = solanaBadInputCases({ payer: payer.publicKey, recipient, blockhash, rng })

describe('Solana bad input: hostile messages refused, nothing signed', () => {
  afterEach(() => {
    expect(signCalls.count).toBe(0)
  })

  it('the base messages are valid: litesvm executes them and the module signs them', () => {
    expect(svmOutcome(fresh({}))).toBe('ok')
    expect(svmOutcome(fresh({ version: 0x80 }))).toBe('ok')
    expect(signSolanaTransaction({ privateKey: payer.seed, message: legacy }).signerIndex).toBe(0)
    expect(signSolanaTransaction({ privateKey: payer.seed, message: v0 }).signerIndex).toBe(0)
    expect(signCalls.count).toBe(2)
    signCalls.count = 0
  })

  it.each(cases)('refuses $name (field $field)', ({ message, field, svm: runtimeError }) => {
    let error: unknown
    try {
      signSolanaTransaction({ privateKey: payer.seed, message })
    } catch (e) {
      error = e
    }
    expect(isCustodyError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe(field)
    if (runtimeError !== undefined) expect(svmOutcome(message as Uint8Array)).toBe(runtimeError)
  })

  it('refuses a key that is a static key but not a signer, a bad private key and a non-message', () => {
    const recipientKey = keyFromSeed(rng.bytes(32))
    const message = m({ keys: [payer.publicKey, recipientKey.publicKey, SYSTEM] })
    expect(() => signSolanaTransaction({ privateKey: recipientKey.seed, message })).toThrow(/"message.staticAccountKeys" .*not a required signer/)
    expect(() => signSolanaTransaction({ privateKey: payer.seed.subarray(1), message })).toThrow(/"privateKey" must be a 32-byte ed25519 seed/)
    expect(() => signSolanaTransaction({ privateKey: payer.seed, message: 42 as unknown as string })).toThrow(/"message" must be bytes/)
    expect(() => signSolanaTransaction(null as never)).toThrow(/"parameters" must be an object/)
    // Inherited options are not read.
    expect(() => signSolanaTransaction(Object.create({ privateKey: payer.seed, message }))).toThrow(/"privateKey"/)
  })

  it('facts refuse instructions with a known discriminator that do not decode strictly', () => {
    const keys = [payer.publicKey, recipient, SYSTEM, TOKEN]
    const transfer13 = Uint8Array.of(...systemTransferData(1n), 0)
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 2, accounts: [0, 1], data: transfer13 }] }))).toThrow(
      /"message.instructions\[0\].data" is 13 bytes for System transfer/,
    )
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 2, accounts: [0], data: systemTransferData(1n) }] }))).toThrow(/"message.instructions\[0\].accountIndices"/)
    // An unknown System instruction and a parsed message are facts, not errors.
    expect(solanaFacts(parseSolanaMessage(m({ keys, instructions: [{ program: 2, accounts: [0, 1], data: Uint8Array.of(9, 0, 0, 0) }] }))).instructions).toEqual([
      { index: 0, program: '11111111111111111111111111111111', type: 'unknown' },
    ])
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 3, accounts: [1, 0], data: tokenAmountData(12, 5n, 6) }] }))).toThrow(
      /"message.instructions\[0\].accountIndices" name 2 account\(s\) for token transferChecked, which needs 4/,
    )
    expect(() => solanaFacts(m({ keys, instructions: [{ program: 3, accounts: [1, 0, 0], data: tokenAmountData(3, 5n, 6) }] }))).toThrow(
      /"message.instructions\[0\].data" is 10 bytes for token transfer, which takes exactly 9/,
    )
  })
})
