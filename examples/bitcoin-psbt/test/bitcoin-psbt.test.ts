/**
 * The example against the local stack (attested enclave, local KMS + Secrets Manager, parent proxy): the
 * transaction bitcoinjs-lib finalized from the enclave's signed PSBT pays what was asked, its witness signature
 * verifies (noble) over the BIP-143 sighash bitcoinjs-lib computes, under the account's key; a payment to an
 * unlisted address is refused; then `pnpm local` itself, as a reader runs it.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { apiKeyStamper, type CustodyClient, createCustodyClient, generateApiKey, nitroEnclave } from '@enclave-custody/sdk'
import * as bitcoin from 'bitcoinjs-lib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nobleValidator } from '../../../packages/enclave-runtime/test/bitcoinFixtures.js'
import { COIN_VALUE, FEE, NETWORK, PAYMENT, run } from '../src/run.js'

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const PAYEE = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080'
const OTHER = 'bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qzf4jry'

let dataDir: string | undefined
let stack: DevStack | undefined
let custody: CustodyClient

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-example-bitcoin-'))
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

describe('example: bitcoin-psbt', () => {
  it('a regtest P2WPKH account of a wallet created in the enclave signs a PSBT bitcoinjs-lib finalizes; an unlisted payee is refused', async () => {
    const lines: string[] = []
    const result = await run({ custody, to: PAYEE, other: OTHER, log: (l) => lines.push(l) })
    expect(result.account).toMatchObject({ kind: 'hd-account', family: 'bitcoin', network: 'regtest', format: 'p2wpkh', path: "m/84'/1'/0'/0/0", walletId: result.wallet.keyId })
    expect(result.account.address).toMatch(/^bcrt1q[02-9ac-hj-np-z]{38}$/)
    expect(result.sameAsEnclaveFinalized).toBe(true)
    expect(result.refused).toBe('POLICY_DENIED')

    // The transaction pays the payee, returns the change to the account, and leaves the fee.
    const tx = bitcoin.Transaction.fromHex(result.transaction)
    expect(tx.getId()).toBe(result.txid)
    const accountScript = bitcoin.address.toOutputScript(result.account.address, NETWORK)
    expect(tx.outs.map((o) => [bitcoin.address.fromOutputScript(o.script, NETWORK), o.value])).toEqual([
      [PAYEE, PAYMENT],
      [result.account.address, COIN_VALUE - PAYMENT - FEE],
    ])
    // Its witness is [signature, public key]: the key hashes to the account's script, and the signature verifies
    // (noble) over the BIP-143 sighash that bitcoinjs-lib computes for the coin.
    const [sig, pubkey] = tx.ins[0]!.witness
    expect(bitcoin.payments.p2wpkh({ pubkey: pubkey!, network: NETWORK }).output).toEqual(accountScript)
    const decoded = bitcoin.script.signature.decode(sig!)
    expect(decoded.hashType).toBe(bitcoin.Transaction.SIGHASH_ALL)
    const scriptCode = bitcoin.payments.p2pkh({ pubkey: pubkey!, network: NETWORK }).output!
    const sighash = tx.hashForWitnessV0(0, scriptCode, COIN_VALUE, bitcoin.Transaction.SIGHASH_ALL)
    expect(nobleValidator(pubkey!, sighash, decoded.signature)).toBe(true)
    const other = tx.hashForWitnessV0(0, scriptCode, COIN_VALUE + 1n, bitcoin.Transaction.SIGHASH_ALL)
    expect(nobleValidator(pubkey!, other, decoded.signature)).toBe(false)
    expect(lines).toHaveLength(6)
  })

  it('`pnpm local` (src/local.ts) runs the whole example against its own local stack and exits 0', async () => {
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', 'src/local.ts'], { cwd: exampleDir, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(output).toMatch(/^2\. Bitcoin account account-[0-9a-f]+ at m\/84'\/1'\/0'\/0\/0 \(regtest, p2wpkh\): bcrt1q[02-9ac-hj-np-z]{38}$/m)
    expect(output).toMatch(/^4\. signed input\(s\) 0 in the enclave; bitcoinjs-lib finalized it: txid [0-9a-f]{64}, fee 1000 sats \(7 sat\/vB\)$/m)
    expect(output).toMatch(/^ {3}the enclave's own finalize: true gives the same transaction: true$/m)
    expect(output).toMatch(/^5\. refused a PSBT paying bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qzf4jry: POLICY_DENIED \(denied: no rule allows\)$/m)
    expect(code).toBe(0)
  }, 90_000)
})
