/**
 * The main job, locally and without AWS: anvil (chain id 11155111), local KMS + Secrets Manager, the
 * enclave runtime with software attestation and the parent proxy; a key generated inside the enclave
 * (or imported from CUSTODY_DEMO_PRIVATE_KEY) under an attested key policy, a signing policy that allows only
 * the demo recipient up to 0.1 ETH, funded from an anvil account, an EIP-1559 transfer of 0.01 ETH signed
 * through the SDK, broadcast with ethers, mined, and a 0.2 ETH transfer the enclave refuses. The SDK
 * attests the enclave (the stack's PCR0, the software NSM's root) before its first request, stamps every
 * request with a fresh API key and accepts only answers the attested enclave signed; it keeps each answer's
 * audit receipt, and at the end the enclave's audit log (as the proxy stored it) is verified against them.
 * Last, a short multi-chain part on an in-process enclave (the same runtime, no proxy; the audit log above stays
 * the EVM flow's): an HD wallet, one EVM, one Bitcoin (regtest) and one Solana account, one signature each, each
 * verified by a library other than the SDK.
 *
 * Usage: pnpm demo [--keep-data] [--help]
 */
// We support Node 20 (engines); the AWS SDK's notice about its future Node 22 requirement is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type DevStack, describeAuditBreak, startDevStack, verifyAuditLogText } from '@enclave-custody/cli'
import { createPublicKey, verify } from 'node:crypto'
import { localEnclave } from '@enclave-custody/enclave-runtime'
import { type AuditReceipt, apiKeyStamper, createCustodyClient, formatEther, generateApiKey, isCustodyError, nitroEnclave, parseEther } from '@enclave-custody/sdk'
import { address, getAddressEncoder, getBase58Encoder, getOffchainMessageV0Codec, type OffchainMessageV0 } from '@solana/kit'
import * as bitcoin from 'bitcoinjs-lib'
import { JsonRpcProvider, SigningKey, Transaction } from 'ethers'

const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, 'keep-data': { type: 'boolean' } } })
if (values.help) {
  console.log(`pnpm demo — sign and broadcast an EIP-1559 transfer through the local custody stack, under a signing policy

  --keep-data   keep the temporary data directory (sealed keys) after the run
  -h, --help    this help

Env: CUSTODY_DEMO_PRIVATE_KEY=0x… imports that key instead of generating one in the enclave.`)
  process.exit(0)
}

const step = (line: string) => console.log(`• ${line}`)
const dataDir = await mkdtemp(join(tmpdir(), 'custody-demo-'))
const abort = new AbortController()
let starting: Promise<DevStack> | undefined
let exiting: Promise<never> | undefined

/** Stop everything once; the first caller's exit code wins (Ctrl-C stays 130 even if the flow then fails). */
function cleanup(code: number): Promise<never> {
  exiting ??= (async () => {
    abort.abort()
    // A start in progress stops what it started itself; a finished one is closed here.
    const stack = await starting?.catch(() => undefined)
    await stack?.close()
    if (!values['keep-data']) await rm(dataDir, { recursive: true, force: true })
    process.exit(code)
  })()
  return exiting
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    if (!exiting) console.error(`\n${signal}: stopping`)
    void cleanup(130)
  })
}

try {
  starting = startDevStack({ dataDir, onProgress: step, signal: abort.signal })
  const stack = await starting
  const provider = new JsonRpcProvider(stack.anvil!.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 100 })
  step(`key policy: Decrypt/GenerateDataKey only for the instance role under PCR0 ${stack.pcr0.slice(0, 16)}…`)
  // The importer role seals keys with KMS and stores their records; the enclave never sees plaintext input.
  // The demo's own API key (in memory, for this run) stamps every request.
  const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
  // The audit receipt of every verified answer: what the enclave's audit log must hold.
  const receipts: AuditReceipt[] = []
  const custody = createCustodyClient({
    transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }),
    stamper,
    importer: stack.importer,
    onReceipt: (receipt) => {
      // The first verified answer: the enclave attested to the stack's PCR0 (the policy allows only that one).
      if (receipts.length === 0) {
        step(`enclave attested: PCR0 ${stack.pcr0.slice(0, 16)}… (software NSM root); every answer verified against its response key ${receipt.responseKeyId.slice(0, 10)}…`)
      }
      receipts.push(receipt)
    },
  })

  const imported = process.env.CUSTODY_DEMO_PRIVATE_KEY
  const key = imported ? await custody.importKey({ privateKey: imported }) : await custody.importKey({ generate: true })
  step(`${imported ? 'imported (KMS Encrypt by the importer role)' : 'generated in the enclave (KMS GenerateDataKey, attested)'}: ${key.keyId} → ${key.address}`)

  // The key's signing policy, approved by its owner (this API key) and enforced by the enclave: only the demo
  // recipient, at most 0.1 ETH a transaction (no rolling limit: this enclave has just booted, and a limit's
  // default refuses for a window after a restart). docs/policies.md has the rule schema.
  const recipient = await (await provider.getSigner(1)).getAddress()
  const signingPolicy = await custody.setSigningPolicy(key.keyId, {
    rules: [{ id: 'demo-recipient', effect: 'allow', when: { to: { in: [recipient] }, value: { lte: parseEther('0.1').toString() } } }],
  })
  step(`signing policy v${signingPolicy.version}: allow only ${recipient}, up to 0.1 ETH (digest ${signingPolicy.digest.slice(0, 10)}…)`)

  const funder = await provider.getSigner(0)
  const fund = await funder.sendTransaction({ to: key.address, value: parseEther('1') })
  await fund.wait()
  step(`funded with 1 ETH from anvil account ${await funder.getAddress()}`)

  const [nonce, block, network] = await Promise.all([provider.getTransactionCount(key.address, 'pending'), provider.getBlock('latest'), provider.getNetwork()])
  const maxPriorityFeePerGas = 1_000_000_000n
  const maxFeePerGas = (block!.baseFeePerGas ?? 0n) * 2n + maxPriorityFeePerGas
  const transfer = (value: bigint) => ({ chainId: network.chainId, nonce, to: recipient, value, gas: 21_000n, maxFeePerGas, maxPriorityFeePerGas })
  const signed = await custody.signEip1559(key.keyId, transfer(parseEther('0.01')))
  step('signed an EIP-1559 transfer of 0.01 ETH in the enclave (key unsealed by KMS Decrypt with attestation)')
  try {
    await custody.signEip1559(key.keyId, transfer(parseEther('0.2')))
    throw new Error('the enclave signed 0.2 ETH although the signing policy allows at most 0.1 ETH')
  } catch (e) {
    if (!isCustodyError(e, 'POLICY_DENIED')) throw e
    step(`refused 0.2 ETH to the same recipient: POLICY_DENIED (${e.shortMessage})`)
  }

  const sent = await provider.broadcastTransaction(signed.rawTransaction)
  const receipt = await sent.wait()
  const balance = await provider.getBalance(key.address)

  // The proxy stored the enclave's signed audit events in <dataDir>/audit.jsonl; stopping the stack flushes it.
  await stack.close()
  const audit = verifyAuditLogText({ text: await readFile(stack.auditLogFile, 'utf8'), pcr0: stack.attestation.pcr0, roots: stack.attestation.roots, receipts })
  if (!audit.ok) throw new Error(describeAuditBreak(audit.error))
  step(`audit log verified: ${audit.events} events, ${audit.receipts} receipts, ${audit.segments.length} boot${audit.segments.length === 1 ? '' : 's'}`)
  console.log(`
key address   ${key.address}
tx hash       ${signed.hash}
status        ${receipt?.status === 1 ? '1 (success)' : String(receipt?.status)}
gas used      ${receipt?.gasUsed}
block         ${receipt?.blockNumber}
balance now   ${formatEther(balance)} ETH`)
  await multiChain()
  await cleanup(receipt?.status === 1 ? 0 : 1)
} catch (e) {
  if (!exiting) {
    const err = e as { code?: string; message?: string }
    console.error(`demo failed: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`)
  }
  await cleanup(1)
}

/**
 * One HD wallet, an account of each family, one signature each: EVM recovered by ethers, Bitcoin checked over
 * bitcoinjs-lib's BIP-143 sighash (ethers' secp256k1 recovers the witness key), Solana by node:crypto's ed25519.
 * On an in-process enclave, after the stack's audit log was verified (it stays the EVM flow's).
 */
async function multiChain(): Promise<void> {
  const custody = createCustodyClient({ transport: localEnclave(), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }) })
  try {
    const wallet = await custody.createWallet()
    const evm = await custody.createAccount(wallet.keyId, { family: 'evm' })
    const btc = await custody.createAccount(wallet.keyId, { family: 'bitcoin', network: 'regtest' })
    const sol = await custody.createAccount(wallet.keyId, { family: 'solana' })
    step(`multi-chain (in-process enclave): HD wallet ${wallet.fingerprint}, its mnemonic drawn in the enclave; accounts ${evm.path}, ${btc.path}, ${sol.path}`)

    const signedTx = await custody.signEip1559(evm.keyId, { chainId: 11155111n, nonce: 0n, to: evm.address, value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })
    const evmOk = Transaction.from(signedTx.rawTransaction).from === evm.address

    // A made-up regtest coin of the account (no bitcoind here), spent back to the account itself.
    const network = bitcoin.networks.regtest
    const script = bitcoin.address.toOutputScript(btc.address, network)
    const coin = new bitcoin.Transaction()
    coin.addInput(new Uint8Array(32).fill(1), 0)
    coin.addOutput(script, 10_000n)
    const psbt = new bitcoin.Psbt({ network })
    psbt.addInput({ hash: coin.getHash(), index: 0, nonWitnessUtxo: coin.toBuffer(), witnessUtxo: { script, value: 10_000n } })
    psbt.addOutput({ address: btc.address, value: 9_000n })
    const signedPsbt = await custody.signBitcoinPsbt(btc.keyId, { psbt: psbt.toBase64(), network: 'regtest', finalize: true })
    const tx = bitcoin.Transaction.fromHex(signedPsbt.transaction!)
    const [der, witnessKey] = tx.ins[0]!.witness
    const { signature } = bitcoin.script.signature.decode(der!)
    const sighash = tx.hashForWitnessV0(0, bitcoin.payments.p2pkh({ pubkey: witnessKey! }).output!, 10_000n, bitcoin.Transaction.SIGHASH_ALL)
    const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`
    const recovered = [27, 28].map((v) => SigningKey.computePublicKey(SigningKey.recoverPublicKey(sighash, { r: hex(signature.subarray(0, 32)), s: hex(signature.subarray(32)), v }), true))
    const btcOk = recovered.includes(hex(witnessKey!)) && bitcoin.payments.p2wpkh({ pubkey: witnessKey!, network }).address === btc.address

    const message = new Uint8Array(
      getOffchainMessageV0Codec().encode({
        version: 0,
        applicationDomain: address(sol.address),
        requiredSignatories: [{ address: address(sol.address) }],
        content: { format: 0, text: 'hello from the enclave' },
      } as unknown as OffchainMessageV0),
    )
    const signedMessage = await custody.signSolanaMessage(sol.keyId, { message })
    const solKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(getAddressEncoder().encode(address(sol.address))).toString('base64url') }, format: 'jwk' })
    const solOk = verify(null, message, solKey, new Uint8Array(getBase58Encoder().encode(signedMessage.signature)))

    step(`EVM ${evm.address}: EIP-1559 transaction signed; ethers recovers the account: ${evmOk}`)
    step(`Bitcoin ${btc.address}: PSBT signed and finalized, txid ${signedPsbt.txid!.slice(0, 16)}…; signature over bitcoinjs-lib's sighash is the account's: ${btcOk}`)
    step(`Solana ${sol.address}: off-chain message signed; node:crypto ed25519 verifies it: ${solOk}`)
    if (!evmOk || !btcOk || !solOk) throw new Error('a multi-chain signature did not verify')
  } finally {
    await custody.close()
  }
}
