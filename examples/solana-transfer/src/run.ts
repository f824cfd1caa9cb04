/**
 * The example's flow, on any custody client and any litesvm instance (a real SVM in-process: the System
 * Program, rent, fees and signature checks are the validator's own):
 *
 * 1. an HD wallet whose BIP-39 entropy the enclave draws (the mnemonic never leaves it);
 * 2. its first Solana account, derived in the enclave at m/44'/501'/0'/0';
 * 3. the wallet's signing policy (every account of the wallet is bound by it): System transfers to one
 *    recipient only, at most 1 SOL each, nothing undecoded, no lookup tables; off-chain messages allowed;
 * 4. a 0.25 SOL transfer compiled with @solana/kit, signed in the enclave, executed by litesvm;
 * 5. a 1.5 SOL transfer to the same recipient, refused by the enclave (POLICY_DENIED) before any signature;
 * 6. an off-chain sign-in message (version 0), signed and checked with Node's own ed25519.
 */
import { createPublicKey, verify } from 'node:crypto'
import { type CustodyClient, isCustodyError, type KeyInfo } from '@enclave-custody/sdk'
import {
  AccountRole,
  type Address,
  address,
  appendTransactionMessageInstruction,
  compileTransaction,
  createTransactionMessage,
  getAddressEncoder,
  getBase58Encoder,
  getBase64Encoder,
  getOffchainMessageV0Codec,
  getTransactionDecoder,
  getTransactionEncoder,
  type Instruction,
  lamports,
  type OffchainMessageV0,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from '@solana/kit'
import { FailedTransactionMetadata, type LiteSVM } from 'litesvm'

export const SYSTEM_PROGRAM = address('11111111111111111111111111111111')
/** 1 SOL in lamports. */
export const SOL = 1_000_000_000n

export type RunParameters = {
  /** A custody client (`createCustodyClient`) whose API key owns what it creates. */
  custody: CustodyClient
  /** The SVM the transfer executes in (`new LiteSVM()`). */
  svm: LiteSVM
  /** Who the wallet may pay (the policy's only recipient). */
  to: Address
  log?: (line: string) => void
}

export type RunResult = {
  wallet: KeyInfo
  account: KeyInfo
  /** The transfer's signature (its transaction id), base58. */
  signature: string
  /** Lamports the recipient holds after the transfer. */
  recipientBalance: bigint
  /** The refusal of the 1.5 SOL transfer: its error code. */
  refused: string
  /** The off-chain message's signature verifies for the account's address (node:crypto). */
  messageVerified: boolean
}

/** A System Program `transfer` (instruction 2: u32 LE discriminator, u64 LE lamports). */
function transfer(from: Address, to: Address, amount: bigint): Instruction {
  const data = new Uint8Array(12)
  new DataView(data.buffer).setUint32(0, 2, true)
  new DataView(data.buffer).setBigUint64(4, amount, true)
  return {
    programAddress: SYSTEM_PROGRAM,
    accounts: [
      { address: from, role: AccountRole.WRITABLE_SIGNER },
      { address: to, role: AccountRole.WRITABLE },
    ],
    data,
  }
}

/** The wire transaction of a transfer paid by `from`, unsigned (its signature slot zero): what the SDK takes. */
function transferTransaction(svm: LiteSVM, from: Address, to: Address, amount: bigint): Uint8Array {
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayer(from, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: svm.latestBlockhash() as never, lastValidBlockHeight: 1_000n }, m),
    (m) => appendTransactionMessageInstruction(transfer(from, to, amount), m),
  )
  return new Uint8Array(getTransactionEncoder().encode(compileTransaction(message)))
}

/** Whether `signature` (base58) is the ed25519 signature of `message` by `signer` (base58 address), by Node's own crypto. */
function ed25519Verify(signer: string, message: Uint8Array, signature: string): boolean {
  const x = Buffer.from(getAddressEncoder().encode(address(signer))).toString('base64url')
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
  return verify(null, message, key, new Uint8Array(getBase58Encoder().encode(signature)))
}

export async function run({ custody, svm, to, log = console.log }: RunParameters): Promise<RunResult> {
  const wallet = await custody.createWallet()
  log(`1. wallet ${wallet.keyId} (master fingerprint ${wallet.fingerprint}): its mnemonic was drawn in the enclave and never left it`)

  const account = await custody.createAccount(wallet.keyId, { family: 'solana' })
  const from = address(account.address)
  log(`2. Solana account ${account.keyId} at ${account.path}: ${from}`)

  // The policy is the wallet's: it binds every account derived from it (setting it on an account is refused).
  const policy = await custody.setSigningPolicy(wallet.keyId, {
    rules: [
      { id: 'no-lookup-tables', effect: 'deny', when: { usesLookupAccounts: { eq: true } } },
      {
        id: 'pay-the-recipient',
        effect: 'allow',
        when: {
          family: { eq: 'solana' },
          kind: { eq: 'solanaTransaction' },
          programIds: { allIn: [SYSTEM_PROGRAM] },
          undecodedInstructions: { eq: '0' },
          solRecipients: { allIn: [to] },
          lamports: { lte: SOL.toString() },
        },
      },
      { id: 'sign-in', effect: 'allow', when: { family: { eq: 'solana' }, kind: { eq: 'solanaMessage' } } },
    ],
  })
  log(`3. wallet signing policy v${policy.version}: System transfers to ${to} only, at most 1 SOL each; off-chain messages`)

  svm.airdrop(from, lamports(2n * SOL))
  const amount = SOL / 4n
  // The SDK reads the transaction before it leaves, and checks the answer: the signer's slot and the ed25519
  // signature over the exact message bytes. `transaction` is the wire transaction with the signature in place.
  const signed = await custody.signSolanaTransaction(account.keyId, { transaction: transferTransaction(svm, from, to, amount) })
  const result = svm.sendTransaction(getTransactionDecoder().decode(getBase64Encoder().encode(signed.transaction)))
  if (result instanceof FailedTransactionMetadata) throw new Error(`litesvm refused the transfer: ${result.err()}`)
  const recipientBalance = svm.getBalance(to) ?? 0n
  log(`4. sent 0.25 SOL, signed in the enclave, executed by litesvm: ${signed.signature.slice(0, 16)}… (recipient now holds ${recipientBalance} lamports)`)

  let refused = 'signed'
  try {
    await custody.signSolanaTransaction(account.keyId, { transaction: transferTransaction(svm, from, to, (3n * SOL) / 2n) })
  } catch (e) {
    if (!isCustodyError(e, 'POLICY_DENIED')) throw e
    refused = e.code
    log(`5. refused 1.5 SOL to the same recipient: ${e.code} (${e.shortMessage})`)
  }
  if (refused === 'signed') throw new Error('the enclave signed 1.5 SOL although the policy allows at most 1 SOL')

  const message = new Uint8Array(
    getOffchainMessageV0Codec().encode({
      version: 0,
      applicationDomain: SYSTEM_PROGRAM,
      requiredSignatories: [{ address: from }],
      content: { format: 0, text: `Sign in to example.com as ${from}` },
    } as unknown as OffchainMessageV0),
  )
  const signedMessage = await custody.signSolanaMessage(account.keyId, { message })
  const messageVerified = ed25519Verify(from, message, signedMessage.signature)
  log(`6. signed a sign-in message: ${signedMessage.signature.slice(0, 16)}…; verifies for ${from}: ${messageVerified}`)

  return { wallet, account, signature: signed.signature, recipientBalance, refused, messageVerified }
}
