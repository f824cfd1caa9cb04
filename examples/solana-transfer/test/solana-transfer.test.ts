/**
 * The example against the local stack (attested enclave, local KMS + Secrets Manager, parent proxy) and
 * litesvm: the transfer the enclave signed executes, the over-limit one is refused before any signature, the
 * sign-in message verifies; then `pnpm local` itself, as a reader runs it.
 */
import { spawn } from 'node:child_process'
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { apiKeyStamper, type CustodyClient, createCustodyClient, generateApiKey, nitroEnclave } from '@enclave-custody/sdk'
import {
  AccountRole,
  type Address,
  address,
  appendTransactionMessageInstruction,
  compileTransaction,
  createTransactionMessage,
  getAddressDecoder,
  getAddressEncoder,
  getBase58Encoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  getTransactionEncoder,
  lamports,
  pipe,
  type Signature,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from '@solana/kit'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, SOL } from '../src/run.js'

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Solana's fee for one signature, in lamports. */
const FEE = 5_000n

const newAddress = (): Address => getAddressDecoder().decode(generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))

let dataDir: string | undefined
let stack: DevStack | undefined
let custody: CustodyClient

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-example-solana-'))
  stack = await startDevStack({ dataDir, anvil: false })
  custody = createCustodyClient({
    transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
    stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }),
    importer: stack.importer,
  })
})

afterAll(async () => {
  await custody?.close()
  await stack?.close()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

describe('example: solana-transfer', () => {
  it('a Solana account of a wallet created in the enclave pays 0.25 SOL in litesvm, is refused 1.5 SOL, signs a sign-in message', async () => {
    const svm = new LiteSVM()
    const to = newAddress()
    const lines: string[] = []
    const result = await run({ custody, svm, to, log: (l) => lines.push(l) })

    expect(result.wallet).toMatchObject({ kind: 'hd-wallet', address: '' })
    expect(result.account).toMatchObject({ kind: 'hd-account', family: 'solana', curve: 'ed25519', walletId: result.wallet.keyId, path: "m/44'/501'/0'/0'" })
    // litesvm executed it: the recipient got 0.25 SOL, the account paid it and one signature's fee, and nothing
    // else moved (the refused 1.5 SOL was never signed).
    expect(result.recipientBalance).toBe(SOL / 4n)
    expect(svm.getBalance(result.account.address as Address)).toBe(2n * SOL - SOL / 4n - FEE)
    // The transaction's id is the signature the SDK returned, and litesvm recorded it as successful.
    const recorded = svm.getTransaction(result.signature as Signature)
    expect(recorded).not.toBeNull()
    expect(recorded).not.toBeInstanceOf(FailedTransactionMetadata)
    expect(result.refused).toBe('POLICY_DENIED')
    expect(result.messageVerified).toBe(true)
    expect(lines).toHaveLength(6)
    expect(lines[4]).toBe('5. refused 1.5 SOL to the same recipient: POLICY_DENIED (denied: no rule allows)')
  })

  it("the account's signature is the account's own: node:crypto verifies it over the message bytes, and it fails for another address", async () => {
    const wallet = await custody.createWallet({ words: 12 })
    const account = await custody.createAccount(wallet.keyId, { family: 'solana', index: 3 })
    expect(account.path).toBe("m/44'/501'/3'/0'")
    const svm = new LiteSVM()
    const to = newAddress()
    svm.airdrop(account.address as Address, lamports(10_000_000n))
    // No policy on this wallet: it signs anything its owner asks (the policy is opt-in).
    const data = new Uint8Array(12)
    new DataView(data.buffer).setUint32(0, 2, true)
    new DataView(data.buffer).setBigUint64(4, 1_000_000n, true)
    const from = address(account.address)
    const message = pipe(
      createTransactionMessage({ version: 'legacy' }),
      (m) => setTransactionMessageFeePayer(from, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: svm.latestBlockhash() as never, lastValidBlockHeight: 1_000n }, m),
      (m) =>
        appendTransactionMessageInstruction(
          { programAddress: address('11111111111111111111111111111111'), accounts: [{ address: from, role: AccountRole.WRITABLE_SIGNER }, { address: to, role: AccountRole.WRITABLE }], data },
          m,
        ),
    )
    const compiled = compileTransaction(message)
    const signed = await custody.signSolanaTransaction(account.keyId, { transaction: new Uint8Array(getTransactionEncoder().encode(compiled)) })
    const wire = getTransactionDecoder().decode(Buffer.from(signed.transaction, 'base64'))
    expect(getSignatureFromTransaction(wire)).toBe(signed.signature)
    const publicKeyOf = (a: Address) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(getAddressEncoder().encode(a)).toString('base64url') }, format: 'jwk' })
    const signature = new Uint8Array(getBase58Encoder().encode(signed.signature))
    expect(verify(null, new Uint8Array(compiled.messageBytes), publicKeyOf(from), signature)).toBe(true)
    expect(verify(null, new Uint8Array(compiled.messageBytes), publicKeyOf(to), signature)).toBe(false)
    expect(svm.sendTransaction(wire)).not.toBeInstanceOf(FailedTransactionMetadata)
    expect(svm.getBalance(to)).toBe(1_000_000n)
  })

  it('`pnpm local` (src/local.ts) runs the whole example against its own local stack and exits 0', async () => {
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', 'src/local.ts'], { cwd: exampleDir, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(output).toMatch(/^2\. Solana account account-[0-9a-f]+ at m\/44'\/501'\/0'\/0': [1-9A-HJ-NP-Za-km-z]{32,44}$/m)
    expect(output).toMatch(/^4\. sent 0\.25 SOL, signed in the enclave, executed by litesvm: [1-9A-HJ-NP-Za-km-z]{16}… \(recipient now holds 250000000 lamports\)$/m)
    expect(output).toMatch(/^5\. refused 1\.5 SOL to the same recipient: POLICY_DENIED \(denied: no rule allows\)$/m)
    expect(output).toMatch(/^6\. signed a sign-in message: .*: true$/m)
    expect(code).toBe(0)
  }, 90_000)
})
