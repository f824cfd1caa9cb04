/**
 * Real execution of transactions signed by the Solana family's signer, in a real SVM in-process (litesvm,
 * with its built-in System and SPL Token programs): a SOL transfer (legacy and v0) and an SPL token
 * transfer (mint and token accounts created on-chain by hand-encoded instructions, every signer through
 * `signSolanaTransaction`), a plain transfer and an approveChecked, whose facts match what the program did. Balances move; a signature by the wrong key is refused by the SVM; a key that is
 * not a required signer is refused before signing.
 */
import { AccountRole, type Address, type Instruction, lamports, type SignatureBytes, type Transaction, type TransactionMessageBytes } from '@solana/kit'
import { base58 } from '@scure/base'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { describe, expect, it } from 'vitest'
import { SYSTEM_PROGRAM, solanaFacts, TOKEN_PROGRAM } from '../src/families/solana/facts.js'
import { signSolanaTransaction } from '../src/families/solana/sign.js'
import { createRng } from './rng.js'
import { kitMessageBytes, keyFromSeed, systemTransferData, type TestKey, tokenAmountData } from './solanaSupport.js'

const rng = createRng(0x501a_0002)
const newKey = () => keyFromSeed(rng.bytes(32))

/**
 * A transaction of `messageBytes` with each key's signature from `signSolanaTransaction`, in kit's shape (kit
 * serialises the signatures in the map's insertion order: each goes at its `signerIndex`).
 */
function signedTransaction(messageBytes: Uint8Array, keys: readonly TestKey[]): Transaction {
  const slots: [string, SignatureBytes][] = []
  for (const key of keys) {
    const { signature, signerIndex } = signSolanaTransaction({ privateKey: key.seed, message: messageBytes })
    slots[signerIndex] = [key.address, signature as SignatureBytes]
  }
  expect(slots.filter(Boolean)).toHaveLength(keys.length)
  return { messageBytes: messageBytes as unknown as TransactionMessageBytes, signatures: Object.fromEntries(slots) } as Transaction
}

function send(svm: LiteSVM, tx: Transaction) {
  const result = svm.sendTransaction(tx)
  return result instanceof FailedTransactionMetadata ? { ok: false as const, err: String(result.err()) } : { ok: true as const }
}

const transferIx = (from: Address, to: Address, amount: bigint): Instruction => ({
  programAddress: SYSTEM_PROGRAM as Address,
  accounts: [
    { address: from, role: AccountRole.WRITABLE_SIGNER },
    { address: to, role: AccountRole.WRITABLE },
  ],
  data: systemTransferData(amount),
})

function createAccountIx(payer: Address, account: Address, rent: bigint, space: bigint, owner: Address): Instruction {
  const data = new Uint8Array(52)
  const view = new DataView(data.buffer)
  view.setUint32(0, 0, true) // CreateAccount
  view.setBigUint64(4, rent, true)
  view.setBigUint64(12, space, true)
  data.set(keyFromAddress(owner), 20)
  return {
    programAddress: SYSTEM_PROGRAM as Address,
    accounts: [
      { address: payer, role: AccountRole.WRITABLE_SIGNER },
      { address: account, role: AccountRole.WRITABLE_SIGNER },
    ],
    data,
  }
}

const keyFromAddress = (a: Address) => base58.decode(a)

/** The `amount` of an SPL token account (u64 LE at offset 64 of its 165 bytes). */
function tokenBalance(svm: LiteSVM, account: Address): bigint {
  const info = svm.getAccount(account)
  if (!info.exists) throw new Error(`no account ${account}`)
  return new DataView(info.data.buffer, info.data.byteOffset).getBigUint64(64, true)
}

describe('Solana signer: real execution in litesvm', () => {
  for (const version of ['legacy', 0] as const) {
    it(`a SOL transfer (${version}) signed by the module moves lamports; the wrong key's signature fails`, () => {
      const svm = new LiteSVM()
      const alice = newKey()
      const bob = newKey()
      const mallory = newKey()
      svm.airdrop(alice.address, lamports(5_000_000_000n))
      const blockhash = svm.latestBlockhash()

      // Mallory signs the same transfer as fee payer of her own message, then puts her signature in Alice's slot.
      const bytes = kitMessageBytes({ version, feePayer: alice.address, blockhash, instructions: [transferIx(alice.address, bob.address, 1_000_000_000n)] })
      const malloryMessage = kitMessageBytes({ version, feePayer: mallory.address, blockhash, instructions: [transferIx(mallory.address, bob.address, 1_000_000_000n)] })
      const forged = signSolanaTransaction({ privateKey: mallory.seed, message: malloryMessage }).signature
      const wrong = send(svm, { messageBytes: bytes, signatures: { [alice.address]: forged } } as unknown as Transaction)
      expect(wrong.ok).toBe(false)
      expect(svm.getBalance(bob.address)).toBeNull()

      // Mallory is not a required signer of Alice's message: refused before signing.
      expect(() => signSolanaTransaction({ privateKey: mallory.seed, message: bytes })).toThrow(/not a required signer/)

      expect(send(svm, signedTransaction(bytes, [alice]))).toEqual({ ok: true })
      expect(svm.getBalance(bob.address)).toBe(1_000_000_000n)
      expect(svm.getBalance(alice.address)).toBe(5_000_000_000n - 1_000_000_000n - 5000n)
      const [fact] = solanaFacts(bytes).instructions
      expect(fact).toEqual({
        index: 0,
        program: SYSTEM_PROGRAM,
        type: 'systemTransfer',
        lamports: 1_000_000_000n,
        from: { known: true, address: alice.address },
        to: { known: true, address: bob.address },
      })
    })
  }

  it('SPL token transferChecked, transfer and approveChecked signed by the module move tokens and set the delegate', () => {
    const svm = new LiteSVM()
    const alice = newKey()
    const bob = newKey()
    const mint = newKey()
    const aliceToken = newKey()
    const bobToken = newKey()
    svm.airdrop(alice.address, lamports(5_000_000_000n))
    const token = TOKEN_PROGRAM as Address
    const mintRent = svm.minimumBalanceForRentExemption(82n)
    const accountRent = svm.minimumBalanceForRentExemption(165n)

    const initializeMint2 = new Uint8Array(35) // [20, decimals, mint authority (32), no freeze authority]
    initializeMint2[0] = 20
    initializeMint2[1] = 6
    initializeMint2.set(alice.publicKey, 2)
    const initializeAccount3 = (owner: TestKey) => Uint8Array.of(18, ...owner.publicKey)
    const setup: Instruction[] = [
      createAccountIx(alice.address, mint.address, mintRent, 82n, token),
      { programAddress: token, accounts: [{ address: mint.address, role: AccountRole.WRITABLE }], data: initializeMint2 },
      createAccountIx(alice.address, aliceToken.address, accountRent, 165n, token),
      {
        programAddress: token,
        accounts: [
          { address: aliceToken.address, role: AccountRole.WRITABLE },
          { address: mint.address, role: AccountRole.READONLY },
        ],
        data: initializeAccount3(alice),
      },
      createAccountIx(alice.address, bobToken.address, accountRent, 165n, token),
      {
        programAddress: token,
        accounts: [
          { address: bobToken.address, role: AccountRole.WRITABLE },
          { address: mint.address, role: AccountRole.READONLY },
        ],
        data: initializeAccount3(bob),
      },
      {
        programAddress: token,
        accounts: [
          { address: mint.address, role: AccountRole.WRITABLE },
          { address: aliceToken.address, role: AccountRole.WRITABLE },
          { address: alice.address, role: AccountRole.READONLY_SIGNER },
        ],
        data: tokenAmountData(7, 1_000_000n), // MintTo
      },
    ]
    const setupBytes = kitMessageBytes({ version: 0, feePayer: alice.address, blockhash: svm.latestBlockhash(), instructions: setup })
    expect(send(svm, signedTransaction(setupBytes, [alice, mint, aliceToken, bobToken]))).toEqual({ ok: true })
    expect(tokenBalance(svm, aliceToken.address)).toBe(1_000_000n)

    const transfer: Instruction = {
      programAddress: token,
      accounts: [
        { address: aliceToken.address, role: AccountRole.WRITABLE },
        { address: mint.address, role: AccountRole.READONLY },
        { address: bobToken.address, role: AccountRole.WRITABLE },
        { address: alice.address, role: AccountRole.READONLY_SIGNER },
      ],
      data: tokenAmountData(12, 250_000n, 6), // TransferChecked
    }
    const bytes = kitMessageBytes({ version: 'legacy', feePayer: alice.address, blockhash: svm.latestBlockhash(), instructions: [transfer] })
    expect(solanaFacts(bytes).instructions).toEqual([
      {
        index: 0,
        program: TOKEN_PROGRAM,
        type: 'tokenTransfer',
        instruction: 'transferChecked',
        source: { known: true, address: aliceToken.address },
        mint: { known: true, address: mint.address },
        destination: { known: true, address: bobToken.address },
        authority: { known: true, address: alice.address },
        amount: 250_000n,
        decimals: 6,
      },
    ])
    // Bob owns a token account here but is not a signer of the transfer.
    expect(() => signSolanaTransaction({ privateKey: bob.seed, message: bytes })).toThrow(/not a required signer/)
    expect(send(svm, signedTransaction(bytes, [alice]))).toEqual({ ok: true })
    expect(tokenBalance(svm, aliceToken.address)).toBe(750_000n)
    expect(tokenBalance(svm, bobToken.address)).toBe(250_000n)

    // Bob pays back with a plain transfer and approves Alice as delegate (approveChecked), in one v0 transaction.
    const payBack: Instruction = {
      programAddress: token,
      accounts: [
        { address: bobToken.address, role: AccountRole.WRITABLE },
        { address: aliceToken.address, role: AccountRole.WRITABLE },
        { address: bob.address, role: AccountRole.READONLY_SIGNER },
      ],
      data: tokenAmountData(3, 50_000n), // Transfer
    }
    const approve: Instruction = {
      programAddress: token,
      accounts: [
        { address: bobToken.address, role: AccountRole.WRITABLE },
        { address: mint.address, role: AccountRole.READONLY },
        { address: alice.address, role: AccountRole.READONLY },
        { address: bob.address, role: AccountRole.READONLY_SIGNER },
      ],
      data: tokenAmountData(13, 70_000n, 6), // ApproveChecked
    }
    svm.airdrop(bob.address, lamports(1_000_000_000n))
    const bobBytes = kitMessageBytes({ version: 0, feePayer: bob.address, blockhash: svm.latestBlockhash(), instructions: [payBack, approve] })
    const known = (address: Address) => ({ known: true, address })
    expect(solanaFacts(bobBytes).instructions).toEqual([
      { index: 0, program: TOKEN_PROGRAM, type: 'tokenTransfer', instruction: 'transfer', source: known(bobToken.address), destination: known(aliceToken.address), authority: known(bob.address), amount: 50_000n },
      {
        index: 1,
        program: TOKEN_PROGRAM,
        type: 'tokenApprove',
        instruction: 'approveChecked',
        source: known(bobToken.address),
        mint: known(mint.address),
        delegate: known(alice.address),
        owner: known(bob.address),
        amount: 70_000n,
        decimals: 6,
      },
    ])
    expect(send(svm, signedTransaction(bobBytes, [bob]))).toEqual({ ok: true })
    expect(tokenBalance(svm, aliceToken.address)).toBe(800_000n)
    expect(tokenBalance(svm, bobToken.address)).toBe(200_000n)
    // The token account's delegate (COption<Pubkey> at 72) and delegated amount (u64 at 121) are what the facts said.
    const bobAccount = svm.getAccount(bobToken.address)
    if (!bobAccount.exists) throw new Error('no token account')
    expect(bobAccount.data.slice(72, 108)).toEqual(Uint8Array.of(1, 0, 0, 0, ...alice.publicKey))
    expect(new DataView(bobAccount.data.buffer, bobAccount.data.byteOffset).getBigUint64(121, true)).toBe(70_000n)
  })
})
