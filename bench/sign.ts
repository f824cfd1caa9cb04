/**
 * Signing throughput along the custody path, each stage against a baseline measured in the same run:
 * ethers signing the same transaction in-process with a plaintext key (what a hot wallet does).
 *
 *   pnpm bench [--seconds 3] [--concurrency 16]
 *
 * Stages: a request stamp alone (the client's P-256 signature); the enclave handler alone, fed stamped
 * messages (stamp, stamp check, signing, response signature); the SDK over the in-process enclave (attested
 * once, then validation, stamping and verification of the signed answer); SDK → HTTP proxy → framed socket
 * → enclave on loopback; the attested stack (local KMS, key cache warm). Every client stamps with one API
 * key. Figures are operations per second and the ratio to the baseline.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startDevStack } from '@enclave-custody/cli'
import { createLocalRuntime, localEnclave, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { startParentProxy } from '@enclave-custody/parent-proxy'
import { apiKeyStamper, createCustodyClient, generateApiKey, nitroEnclave, stampRequest } from '@enclave-custody/sdk'
import { parseTrustConfiguration, trustDigest } from '@enclave-custody/sdk/protocol'
import { Wallet } from 'ethers'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '16' }, help: { type: 'boolean', short: 'h' } },
})
if (values.help) {
  console.log('pnpm bench [--seconds N] [--concurrency N]: signing throughput per stage, with ratios to an in-process ethers baseline')
  process.exit(0)
}
const seconds = Number(values.seconds)
const concurrency = Number(values.concurrency)
const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const TO = '0x000000000000000000000000000000000000dEaD'
const tx = (nonce: number) => ({ chainId: 1n, nonce: BigInt(nonce), to: TO, value: 1n, gas: 21000n, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n })

/** Run `op` with `concurrency` workers for `seconds`; returns operations per second. */
async function measure(label: string, op: (i: number) => Promise<unknown>, workers = concurrency): Promise<number> {
  for (let i = 0; i < 20; i++) await op(i) // warm-up
  let count = 0
  const end = performance.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) await op(count++)
    }),
  )
  const rate = count / ((performance.now() - started) / 1000)
  process.stderr.write(`  measured ${label}\n`)
  return rate
}

const rows: [string, number][] = []
const wallet = new Wallet(KEY)
const ethersTx = (i: number) => {
  const { gas, ...rest } = tx(i)
  return { ...rest, nonce: Number(rest.nonce), gasLimit: gas, type: 2 }
}
rows.push(['baseline: ethers Wallet.signTransaction (plaintext key, in-process)', await measure('baseline', (i) => wallet.signTransaction(ethersTx(i)), 1)])

// One API key signs every request of the run (stamp on the way in, the enclave's signature on the way out).
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
rows.push(['a request stamp alone (client side: P-256 sign)', await measure('stamp', () => stampRequest({ stamper, v: 1, op: 'key.get', params: { keyId: 'bench' }, aud: `0x${'00'.repeat(32)}` }), 1)])

const { handler, attestation } = await createLocalRuntime()
// The audience of stamps: the digest of the trust configuration the runtime attests to.
const answer = (await handler.handle({ v: 1, id: 'a', op: 'system.attestation', params: { nonce: `0x${'00'.repeat(32)}` } })) as { ok: boolean; result?: { trust: unknown } }
if (!answer.ok || !answer.result) throw new Error('the runtime did not attest')
const aud = trustDigest(parseTrustConfiguration(answer.result.trust))
/** A raw protocol message with its stamp, as the SDK would send it. */
const stamped = async (id: string, op: string, params: Record<string, unknown>) => ({ v: 1, id, op, params, auth: await stampRequest({ stamper, v: 1, op, params, aud }) })
const imported = (await handler.handle(await stamped('i', 'key.import', { privateKey: KEY, keyId: 'bench' }))) as { ok: boolean }
if (!imported.ok) throw new Error('the runtime refused the bench key')
const wire = (i: number) => ({ chainId: '1', nonce: String(i), to: TO, value: '1', gas: '21000', maxFeePerGas: '30000000000', maxPriorityFeePerGas: '1000000000' })
rows.push([
  'enclave handler alone (stamp, verify it, validate, unseal, sign, sign answer)',
  await measure(
    'handler',
    async (i) => {
      // A refused request would be measured as a fast one: every answer must be a signature.
      const response = (await handler.handle(await stamped('s', 'sign.eip1559', { keyId: 'bench', tx: wire(i) }))) as { ok: boolean; sig?: unknown }
      if (!response.ok || response.sig === undefined) throw new Error('the handler refused a stamped signing request')
    },
    1,
  ),
])

const inProcess = createCustodyClient({ transport: localEnclave(), stamper })
await inProcess.importKey({ privateKey: KEY, keyId: 'bench' })
rows.push(['SDK → in-process enclave (+ SDK validation and verification)', await measure('local', (i) => inProcess.signEip1559('bench', tx(i)), 1)])

const server = await startEnclaveServer({ handler, port: 0 })
const proxy = await startParentProxy({ enclave: { host: server.host, port: server.port } })
const loopback = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation }), stamper })
rows.push([`SDK → HTTP proxy → socket → enclave (loopback, ${concurrency} concurrent)`, await measure('loopback', (i) => loopback.signEip1559('bench', tx(i)))])
await proxy.close()
await server.close()

const dataDir = await mkdtemp(join(tmpdir(), 'custody-bench-'))
const stack = await startDevStack({ dataDir, anvil: false })
const attested = createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }), stamper, importer: stack.importer })
await attested.importKey({ privateKey: KEY, keyId: 'bench' })
rows.push([`attested stack, key cache warm (${concurrency} concurrent)`, await measure('attested', (i) => attested.signEip1559('bench', tx(i)))])
await stack.close()
await rm(dataDir, { recursive: true, force: true })

const base = rows[0]![1]
console.log(`\nsigning throughput (${seconds} s per stage, node ${process.version})`)
for (const [label, rate] of rows) console.log(`${label.padEnd(78)} ${rate.toFixed(0).padStart(7)} ops/s  ${(rate / base).toFixed(2).padStart(6)}× baseline`)
