/**
 * `@enclave-custody/sdk/solana` end to end through the in-process enclave: `createEnclaveSolanaSigner` as a
 * @solana/kit signer — fee payer of a transaction message signed with kit's `signTransactionMessageWithSigners`
 * (alone, and beside a kit key-pair signer), executed by a real SVM (litesvm): balances move. A plain ed25519 key
 * and an HD wallet's Solana account. Off-chain messages through kit's `signOffchainMessageWithSigners`, verified
 * by kit; raw message bytes, a transaction or message that does not name the key, and keys of other families
 * are refused.
 */
import { createCustodyClient, type CustodyClient, isCustodyError } from '@enclave-custody/sdk'
import { createEnclaveSolanaSigner, type EnclaveSolanaSignerClient, type EnclaveSolanaTransaction } from '@enclave-custody/sdk/solana'
import { ed25519 } from '@noble/curves/ed25519.js'
import { base58 } from '@scure/base'
import {
  AccountRole,
  type Address,
  appendTransactionMessageInstructions,
  assertIsTransactionWithinSizeLimit,
  type Blockhash,
  compileTransaction,
  createSignableMessage,
  createTransactionMessage,
  generateKeyPairSigner,
  getSignatureFromTransaction,
  type Instruction,
  isMessagePartialSigner,
  isTransactionPartialSigner,
  lamports,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signOffchainMessageWithSigners,
  signTransactionMessageWithSigners,
  type TransactionSigner,
  verifyOffchainMessageEnvelope,
} from '@solana/kit'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { beforeAll, describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { sharedSoftwareNsm } from './support/session.js'
import { newStamper } from './support/stamps.js'
import { systemTransferData } from './solanaSupport.js'

const SYSTEM_PROGRAM = '11111111111111111111111111111111' as Address
const SOL = 1_000_000_000n

let custody: CustodyClient

beforeAll(async () => {
  custody = createCustodyClient({ transport: localEnclave({ attestation: await sharedSoftwareNsm() }), stamper: newStamper() })
})

/** A System Program transfer whose `from` is a kit signer (so that kit collects it from the instruction too). */
const transferIx = (from: TransactionSigner, to: Address, amount: bigint): Instruction =>
  ({
    programAddress: SYSTEM_PROGRAM,
    accounts: [
      { address: from.address, role: AccountRole.WRITABLE_SIGNER, signer: from },
      { address: to, role: AccountRole.WRITABLE },
    ],
    data: systemTransferData(amount),
  }) as Instruction

function send(svm: LiteSVM, tx: Parameters<LiteSVM['sendTransaction']>[0]) {
  const result = svm.sendTransaction(tx)
  return result instanceof FailedTransactionMetadata ? { ok: false as const, err: String(result.err()) } : { ok: true as const }
}

const lifetime = (svm: LiteSVM) => ({ blockhash: svm.latestBlockhash() as Blockhash, lastValidBlockHeight: 1_000n })

/** A client that counts the signing calls the adapter makes. */
function counting(client: CustodyClient) {
  const calls = { transactions: 0, messages: 0 }
  const wrapped: EnclaveSolanaSignerClient = {
    getKey: (keyId) => client.getKey(keyId),
    signSolanaTransaction: (keyId, params) => {
      calls.transactions++
      return client.signSolanaTransaction(keyId, params)
    },
    signSolanaMessage: (keyId, params) => {
      calls.messages++
      return client.signSolanaMessage(keyId, params)
    },
  }
  return { wrapped, calls }
}

async function codeAndField(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    return isCustodyError(e) ? `${e.code} ${String(e.details?.field ?? '')}` : `foreign: ${(e as Error).message}`
  }
}

describe('createEnclaveSolanaSigner (in-process enclave, litesvm)', () => {
  for (const version of ['legacy', 0] as const) {
    it(`is the fee payer of a ${version === 0 ? 'v0' : 'legacy'} kit transaction signed with signTransactionMessageWithSigners: litesvm executes it, balances move`, async () => {
      const { keyId } = await custody.importKey({ generate: true, kind: 'ed25519' })
      const signer = await createEnclaveSolanaSigner(custody, keyId)
      expect(isTransactionPartialSigner(signer)).toBe(true)
      expect(isMessagePartialSigner(signer)).toBe(true)
      expect(signer.address).toBe((await custody.getKey(keyId)).address)
      const bob = (await generateKeyPairSigner()).address

      const svm = new LiteSVM()
      svm.airdrop(signer.address, lamports(5n * SOL))
      const message = pipe(
        createTransactionMessage({ version }),
        (m) => setTransactionMessageFeePayerSigner(signer, m),
        (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime(svm), m),
        (m) => appendTransactionMessageInstructions([transferIx(signer, bob, SOL)], m),
      )
      const signed = await signTransactionMessageWithSigners(message)
      const signature = signed.signatures[signer.address]!
      expect(ed25519.verify(signature, new Uint8Array(signed.messageBytes), base58.decode(signer.address))).toBe(true)
      expect(getSignatureFromTransaction(signed)).toBe(base58.encode(signature))

      expect(send(svm, signed)).toEqual({ ok: true })
      expect(svm.getBalance(bob)).toBe(SOL)
      expect(svm.getBalance(signer.address)).toBe(5n * SOL - SOL - 5000n)
    })
  }

  it('signs beside a kit key-pair signer (each its own slot): both transfers execute', async () => {
    const { keyId } = await custody.importKey({ generate: true, kind: 'ed25519' })
    const signer = await createEnclaveSolanaSigner(custody, keyId)
    const alice = await generateKeyPairSigner()
    const bob = (await generateKeyPairSigner()).address
    const svm = new LiteSVM()
    svm.airdrop(signer.address, lamports(2n * SOL))
    svm.airdrop(alice.address, lamports(2n * SOL))
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(alice, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime(svm), m),
      (m) => appendTransactionMessageInstructions([transferIx(signer, bob, 300_000_000n), transferIx(alice, bob, 200_000_000n)], m),
    )
    const signed = await signTransactionMessageWithSigners(message)
    expect(Object.keys(signed.signatures)).toEqual([alice.address, signer.address])
    expect(send(svm, signed)).toEqual({ ok: true })
    expect(svm.getBalance(bob)).toBe(500_000_000n)
    expect(svm.getBalance(signer.address)).toBe(2n * SOL - 300_000_000n)
  })

  it("an HD wallet's Solana account signs as the fee payer; litesvm executes it", async () => {
    const { keyId: walletId } = await custody.createWallet()
    const account = await custody.createAccount(walletId, { family: 'solana' })
    const signer = await createEnclaveSolanaSigner(custody, account.keyId)
    expect(signer.address).toBe(account.address)
    const bob = (await generateKeyPairSigner()).address
    const svm = new LiteSVM()
    svm.airdrop(signer.address, lamports(SOL))
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(signer, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime(svm), m),
      (m) => appendTransactionMessageInstructions([transferIx(signer, bob, 1_000_000n)], m),
    )
    expect(send(svm, await signTransactionMessageWithSigners(message))).toEqual({ ok: true })
    expect(svm.getBalance(bob)).toBe(1_000_000n)
  })

  it('a transaction that does not list the key among its signers is refused before anything is sent', async () => {
    const { keyId } = await custody.importKey({ generate: true, kind: 'ed25519' })
    const { wrapped, calls } = counting(custody)
    const signer = await createEnclaveSolanaSigner(wrapped, keyId)
    const alice = await generateKeyPairSigner()
    const svm = new LiteSVM()
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayer(alice.address, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime(svm), m),
      (m) => appendTransactionMessageInstructions([transferIx(alice, signer.address, 1n)], m),
    )
    const transaction = compileTransaction(message)
    assertIsTransactionWithinSizeLimit(transaction)
    await expect(signer.signTransactions([transaction])).rejects.toThrowErrorMatchingInlineSnapshot(
      `[InvalidArgumentError: "transactions[0]" does not list the signer ${signer.address} among its required signers]`,
    )
    // Hand-edited so that the signature map names the key while the message does not: the custody client refuses it.
    const forged = { ...transaction, signatures: { ...transaction.signatures, [signer.address]: null } } as EnclaveSolanaTransaction
    expect(await codeAndField(signer.signTransactions([forged]))).toBe('INVALID_ARGUMENT transaction')
    expect(calls.transactions).toBe(1)
    expect(await codeAndField(signer.signTransactions([{ messageBytes: 'AAAA', signatures: {} }] as never))).toBe('INVALID_ARGUMENT transactions[0].messageBytes')
    expect(calls.transactions).toBe(1)
  })

  it('an aborted signal stops before signing', async () => {
    const { keyId } = await custody.importKey({ generate: true, kind: 'ed25519' })
    const { wrapped, calls } = counting(custody)
    const signer = await createEnclaveSolanaSigner(wrapped, keyId)
    const svm = new LiteSVM()
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(signer, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime(svm), m),
    )
    const controller = new AbortController()
    controller.abort()
    const transaction = compileTransaction(message)
    assertIsTransactionWithinSizeLimit(transaction)
    await expect(signer.signTransactions([transaction], { abortSignal: controller.signal })).rejects.toThrow()
    expect(calls.transactions).toBe(0)
  })

  it("signs an off-chain message through kit's signOffchainMessageWithSigners; kit verifies the envelope", async () => {
    const { keyId } = await custody.importKey({ generate: true, kind: 'ed25519' })
    const signer = await createEnclaveSolanaSigner(custody, keyId)
    const envelope = await signOffchainMessageWithSigners({
      version: 0,
      applicationDomain: SYSTEM_PROGRAM as never,
      content: { format: 0, text: 'Sign in to example.com' } as never,
      requiredSignatories: [signer],
    } as never)
    await verifyOffchainMessageEnvelope(envelope)
    const signature = envelope.signatures[signer.address]!
    expect(ed25519.verify(signature, new Uint8Array(envelope.content), base58.decode(signer.address))).toBe(true)
  })

  it('refuses message content that is not an off-chain message naming the key, before anything is sent', async () => {
    const { keyId } = await custody.importKey({ generate: true, kind: 'ed25519' })
    const { wrapped, calls } = counting(custody)
    const signer = await createEnclaveSolanaSigner(wrapped, keyId)
    await expect(signer.signMessages([createSignableMessage('hello')])).rejects.toThrowErrorMatchingInlineSnapshot(
      `[InvalidArgumentError: "messages[0].content" must be a Solana off-chain message (starting with the signing domain "\\xffsolana offchain", as signOffchainMessageWithSigners compiles it): the enclave does not sign arbitrary bytes with a Solana key]`,
    )
    // A transaction message is no off-chain message either.
    const svm = new LiteSVM()
    const txMessage = compileTransaction(
      pipe(
        createTransactionMessage({ version: 0 }),
        (m) => setTransactionMessageFeePayerSigner(signer, m),
        (m) => setTransactionMessageLifetimeUsingBlockhash(lifetime(svm), m),
      ),
    ).messageBytes
    expect(await codeAndField(signer.signMessages([createSignableMessage(new Uint8Array(txMessage))]))).toBe('INVALID_ARGUMENT messages[0].content')
    expect(calls.messages).toBe(0)
    // An off-chain message whose only signatory is another key: the custody client refuses it, named in the batch.
    const other = await generateKeyPairSigner()
    const { getOffchainMessageV0Codec } = await import('@solana/kit')
    const foreign = getOffchainMessageV0Codec().encode({
      version: 0,
      applicationDomain: SYSTEM_PROGRAM,
      content: { format: 0, text: 'not yours' },
      requiredSignatories: [{ address: other.address }],
    } as never)
    expect(await codeAndField(signer.signMessages([createSignableMessage(new Uint8Array(foreign))]))).toBe('INVALID_ARGUMENT messages[0].content')
  })

  it('refuses keys that are not Solana keys; isAvailable reports whether the service answers for the key', async () => {
    const secp = await custody.importKey({ generate: true })
    expect(await codeAndField(createEnclaveSolanaSigner(custody, secp.keyId))).toBe('INVALID_ARGUMENT keyId')
    const { keyId: walletId } = await custody.createWallet()
    expect(await codeAndField(createEnclaveSolanaSigner(custody, walletId))).toBe('INVALID_ARGUMENT keyId')
    const evm = await custody.createAccount(walletId, { family: 'evm' })
    expect(await codeAndField(createEnclaveSolanaSigner(custody, evm.keyId))).toBe('INVALID_ARGUMENT keyId')
    expect(await codeAndField(createEnclaveSolanaSigner(custody, 'no-such-key'))).toBe('KEY_NOT_FOUND ')
    expect(await codeAndField(createEnclaveSolanaSigner(custody, ''))).toBe('INVALID_ARGUMENT keyId')

    const { keyId } = await custody.importKey({ generate: true, kind: 'ed25519' })
    let down = false
    const flaky: EnclaveSolanaSignerClient = {
      getKey: async (id) => {
        if (down) throw new Error('unreachable')
        return custody.getKey(id)
      },
      signSolanaTransaction: (id, p) => custody.signSolanaTransaction(id, p),
      signSolanaMessage: (id, p) => custody.signSolanaMessage(id, p),
    }
    const signer = await createEnclaveSolanaSigner(flaky, keyId)
    expect(await signer.isAvailable()).toBe(true)
    down = true
    expect(await signer.isAvailable()).toBe(false)
    expect(Object.isFrozen(signer)).toBe(true)
  })
})
