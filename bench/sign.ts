/**
 * The product's performance record: signing along the custody path, each figure beside a baseline measured in
 * the same run — ethers signing the same transaction in-process with a plaintext key (what a hot wallet does).
 *
 *   pnpm bench [--seconds 2] [--keys 10000] [--out bench/results.json] [--quick]
 *
 * (`pnpm bench` runs Node with --expose-gc, so that memory per cached key is measured after collections.)
 *
 * Prints a table and writes bench/results.json (machine, Node version, date, every figure). Stages, each at
 * concurrency 1, 8, 16 and 64 (throughput, p50, p99): the enclave handler alone (fed stamped messages), the SDK over
 * the in-process enclave, SDK → HTTP proxy → framed socket → enclave on loopback in one process and in three
 * processes (the proxy and the enclave runtime as their own executables) — each of these two also with
 * `signBatch` of 16 transactions at concurrency 1, 8 and 16 (signatures/s, latency per batch) —, the attested
 * stack (local KMS and Secrets Manager, key cache warm). Then: KMS calls per 1,000 signatures with the key cache
 * against decrypt-per-request (local KMS with 15 ms injected latency); cold start (process start → first
 * signature); import latency; throughput with 1, 100 and --keys keys; memory per cached key.
 * --quick: one concurrency level (8), 100 keys at most, shorter stages (for a smoke run).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { spawn } from 'node:child_process'
import { createServer, request, type Server } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startDevStack } from '@enclave-custody/cli'
import { createLocalRuntime, createSoftwareNsm, localEnclave, SOFTWARE_NSM_ROOT_CERT_FILE, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { startParentProxy } from '@enclave-custody/parent-proxy'
import { apiKeyStamper, createCustodyClient, generateApiKey, nitroEnclave, stampRequest } from '@enclave-custody/sdk'
import { parseTrustConfiguration, trustDigest } from '@enclave-custody/sdk/protocol'
import { Wallet } from 'ethers'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    keys: { type: 'string', default: '10000' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), 'results.json') },
    quick: { type: 'boolean', default: false },
    'cold-start-child': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(`pnpm bench [--seconds N] [--keys N] [--out FILE] [--quick]
  signing throughput and latency per stage (concurrency 1/8/16/64) as ratios to an in-process ethers baseline,
  KMS calls per 1,000 signatures, cold start, import latency, scaling with the number of keys, memory per key;
  writes FILE (default bench/results.json)`)
  process.exit(0)
}

const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const TO = '0x000000000000000000000000000000000000dEaD'
const tx = (nonce: number) => ({ chainId: 1n, nonce: BigInt(nonce), to: TO, value: 1n, gas: 21000n, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n })

// The cold-start child: a fresh process that starts the in-process enclave and signs once, then reports.
if (values['cold-start-child']) {
  const started = Number(process.env.BENCH_SPAWNED_AT)
  const custody = createCustodyClient({ transport: localEnclave(), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }) })
  await custody.importKey({ privateKey: KEY, keyId: 'cold' })
  await custody.signEip1559('cold', tx(0))
  process.stdout.write(JSON.stringify({ ms: Date.now() - started }))
  process.exit(0)
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const seconds = Number(values.seconds) * (values.quick ? 0.5 : 1)
const levels = values.quick ? [8] : [1, 8, 16, 64]
const progress = (line: string) => process.stderr.write(`  ${line}\n`)

type Figures = { opsPerSec: number; p50Ms: number; p99Ms: number }

/** Run `op` with `concurrency` workers for `seconds`, after a warm-up; throughput and latency percentiles. */
async function measure(op: (i: number) => Promise<unknown>, concurrency: number, duration = seconds): Promise<Figures> {
  for (let i = 0; i < 20; i++) await op(i)
  const latencies: number[] = []
  let count = 0
  const started = performance.now()
  const end = started + duration * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now()
        await op(count++)
        latencies.push(performance.now() - t)
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!
  return { opsPerSec: latencies.length / elapsed, p50Ms: at(0.5), p99Ms: at(0.99) }
}

type Row = { stage: string; concurrency: number } & Figures & { ratio: number }
const rows: Row[] = []
const wallet = new Wallet(KEY)
const ethersTx = (i: number) => {
  const { gas, ...rest } = tx(i)
  return { ...rest, nonce: Number(rest.nonce), gasLimit: gas, type: 2 }
}
progress('baseline: ethers Wallet.signTransaction')
const baseline = await measure((i) => wallet.signTransaction(ethersTx(i)), 1)
const record = (stage: string, concurrency: number, f: Figures) => rows.push({ stage, concurrency, ...f, ratio: f.opsPerSec / baseline.opsPerSec })
record('baseline: ethers Wallet (plaintext key, in-process)', 1, baseline)

async function stage(name: string, op: (i: number) => Promise<unknown>) {
  for (const c of levels) {
    progress(`${name} (concurrency ${c})`)
    record(name, c, await measure(op, c))
  }
}

/** Items per batch of the batch stages, and their concurrency levels. */
const BATCH_SIZE = 16
const batchLevels = values.quick ? [8] : [1, 8, 16]

/**
 * A `signBatch` stage: batches of {@link BATCH_SIZE} EIP-1559 transactions of key `bench`. Throughput is in
 * signatures per second (batches × 16, so that the ratio to ethers compares signatures); p50/p99 are per batch.
 */
async function batchStage(name: string, client: ReturnType<typeof createCustodyClient>) {
  const op = async (i: number) => {
    const out = await client.signBatch('bench', Array.from({ length: BATCH_SIZE }, (_, j) => ({ kind: 'eip1559' as const, tx: tx(i * BATCH_SIZE + j) })))
    // A refused item would be measured as a fast one: every item must be a signature.
    if (!out.every((o) => o.ok)) throw new Error('the enclave refused an item of a batch')
  }
  for (const c of batchLevels) {
    progress(`${name} (concurrency ${c})`)
    const f = await measure(op, c)
    record(name, c, { ...f, opsPerSec: f.opsPerSec * BATCH_SIZE })
  }
}

// One API key stamps every request of the run.
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })

const { handler, attestation } = await createLocalRuntime()
const answer = (await handler.handle({ v: 1, id: 'a', op: 'system.attestation', params: { nonce: `0x${'00'.repeat(32)}` } })) as { ok: boolean; result?: { trust: unknown } }
if (!answer.ok || !answer.result) throw new Error('the runtime did not attest')
const aud = trustDigest(parseTrustConfiguration(answer.result.trust))
const stamped = async (id: string, op: string, params: Record<string, unknown>) => ({ v: 1, id, op, params, auth: await stampRequest({ stamper, v: 1, op, params, aud }) })
if (!((await handler.handle(await stamped('i', 'key.import', { privateKey: KEY, keyId: 'bench' }))) as { ok: boolean }).ok) throw new Error('the runtime refused the bench key')
const wire = (i: number) => ({ chainId: '1', nonce: String(i), to: TO, value: '1', gas: '21000', maxFeePerGas: '30000000000', maxPriorityFeePerGas: '1000000000' })
await stage('enclave handler (+ the caller\'s stamp)', async (i) => {
  // A refused request would be measured as a fast one: every answer must be a signature.
  const response = (await handler.handle(await stamped('s', 'sign.eip1559', { keyId: 'bench', tx: wire(i) }))) as { ok: boolean; sig?: unknown }
  if (!response.ok || response.sig === undefined) throw new Error('the handler refused a stamped signing request')
})

const inProcess = createCustodyClient({ transport: localEnclave(), stamper })
const importStarted = performance.now()
await inProcess.importKey({ privateKey: KEY, keyId: 'bench' })
const importMs = performance.now() - importStarted
await stage('SDK → in-process enclave', (i) => inProcess.signEip1559('bench', tx(i)))

const server = await startEnclaveServer({ handler, port: 0 })
const proxy = await startParentProxy({ enclave: { host: server.host, port: server.port } })
const loopback = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation }), stamper })
await stage('SDK → HTTP proxy → socket → enclave (loopback, one process)', (i) => loopback.signEip1559('bench', tx(i)))
await batchStage('signBatch ×16: SDK → HTTP proxy → socket → enclave (one process)', loopback)
await loopback.close()
await proxy.close()
await server.close()

/** A workspace executable in its own Node process; resolves with its output once `ready` matches. */
async function spawnBin(script: string, args: string[], ready: RegExp): Promise<{ match: RegExpMatchArray; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', join(repoRoot, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const stop = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null) return r()
      child.once('exit', () => r())
      child.kill('SIGTERM')
    })
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${output.slice(-500)}`)), 30_000)
    const onData = (d: Buffer) => {
      output = (output + d).slice(-4096)
      const m = output.match(ready)
      if (m) {
        clearTimeout(timer)
        resolve(m)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}: ${output.slice(-500)}`)))
  })
  return { match, stop }
}

{
  // SDK here, the parent proxy and the enclave runtime each in its own process, as on an instance.
  const dir = await mkdtemp(join(tmpdir(), 'custody-bench-procs-'))
  // Dev sealing keeps the software NSM's CA under <data dir>/nsm: made here first, to know its root and PCR0.
  const nsmDir = join(dir, 'enclave', 'nsm')
  const nsm = await createSoftwareNsm({ ca: { dataDir: nsmDir } })
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const enclavePort = (probe.address() as { port: number }).port
  await new Promise((r) => probe.close(r))
  const enclave = await spawnBin(
    'packages/enclave-runtime/src/bin/enclave.ts',
    ['--port', String(enclavePort), '--sealing', 'dev', '--data-dir', join(dir, 'enclave'), '--mode', 'development'],
    /enclave server listening/,
  )
  const proxyProcess = await spawnBin('packages/parent-proxy/src/bin/proxy.ts', ['--port', '0', '--enclave-port', String(enclavePort)], /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
  const attestation = { pcr0: [nsm.pcrs[0]!], roots: [await readFile(join(nsmDir, SOFTWARE_NSM_ROOT_CERT_FILE), 'utf8')] }
  const client = createCustodyClient({ transport: nitroEnclave({ url: proxyProcess.match[1]!, attestation }), stamper })
  await client.importKey({ privateKey: KEY, keyId: 'bench' })
  // Freshly spawned processes: a second of load first (JIT, caches), as the in-process stages get from the ones before.
  progress('three processes: warm-up')
  await measure((i) => client.signEip1559('bench', tx(i)), 8, 1)
  await stage('SDK → proxy process → enclave process (loopback, three processes)', (i) => client.signEip1559('bench', tx(i)))
  await batchStage('signBatch ×16: SDK → proxy process → enclave process (3 processes)', client)
  await client.close()
  await proxyProcess.stop()
  await enclave.stop()
  await rm(dir, { recursive: true, force: true })
}

/** The attested stack with a KMS tap: counts Decrypt and GenerateDataKey calls. */
async function attestedStack(options: { awsLatencyMs?: number; keyCacheTtlMs?: number }) {
  const dataDir = await mkdtemp(join(tmpdir(), 'custody-bench-'))
  const kmsCalls = { n: 0 }
  const stack = await startDevStack({
    dataDir,
    anvil: false,
    ...options,
    // A pass-through in front of local AWS that counts the KMS calls which release key material.
    tapAws: async (endpoint) => {
      const target = new URL(endpoint)
      const tap = createServer((req, res) => {
        if (/TrentService\.(Decrypt|GenerateDataKey)$/.test(String(req.headers['x-amz-target'] ?? ''))) kmsCalls.n++
        const forward = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        forward.on('error', () => res.destroy())
        req.pipe(forward)
      })
      await new Promise<void>((r) => tap.listen(0, '127.0.0.1', r))
      taps.push(tap)
      return `http://127.0.0.1:${(tap.address() as { port: number }).port}`
    },
  })
  const client = createCustodyClient({ transport: nitroEnclave({ url: stack.proxyUrl, attestation: stack.attestation }), stamper, importer: stack.importer })
  return {
    client,
    kmsCalls,
    async close() {
      await client.close()
      await stack.close()
      for (const tap of taps.splice(0)) await new Promise((r) => tap.close(r))
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
const taps: Server[] = []

{
  const attested = await attestedStack({})
  await attested.client.importKey({ privateKey: KEY, keyId: 'bench' })
  await stage('attested stack (local KMS, key cache warm)', (i) => attested.client.signEip1559('bench', tx(i)))
  await attested.close()
}

// KMS calls per 1,000 signatures: the key cache against decrypt-per-request, KMS 15 ms away.
const kms: Record<string, { kmsCallsPer1000: number; opsPerSec: number }> = {}
for (const [label, keyCacheTtlMs] of [
  ['key cache (TTL 5 min)', undefined],
  ['decrypt per request', 1],
] as const) {
  progress(`KMS calls per 1,000 signatures: ${label}`)
  const attested = await attestedStack({ awsLatencyMs: 15, ...(keyCacheTtlMs === undefined ? {} : { keyCacheTtlMs }) })
  await attested.client.importKey({ privateKey: KEY, keyId: 'bench' })
  await attested.client.signEip1559('bench', tx(0))
  const before = attested.kmsCalls.n
  const n = values.quick ? 100 : 1000
  const started = performance.now()
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = w; i < n; i += 8) await attested.client.signEip1559('bench', tx(i))
  }))
  kms[label] = { kmsCallsPer1000: ((attested.kmsCalls.n - before) * 1000) / n, opsPerSec: n / ((performance.now() - started) / 1000) }
  await attested.close()
}

// Cold start: a fresh Node process (tsx) from spawn to its first signature.
progress('cold start')
const coldStartMs = await new Promise<number>((resolve, reject) => {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--cold-start-child'], {
    env: { ...process.env, BENCH_SPAWNED_AT: String(Date.now()) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.on('exit', (code) => (code === 0 ? resolve((JSON.parse(out) as { ms: number }).ms) : reject(new Error(`cold-start child exited ${code}`))))
})

// Scaling with the number of keys (in-process enclave, every key cached once before measuring) and memory per key.
const keyCounts = [...new Set([1, 100, values.quick ? 100 : Number(values.keys)])]
const scaling: { keys: number; opsPerSec: number; ratioToOneKey: number; heapBytesPerCachedKey?: number }[] = []
for (const n of keyCounts) {
  progress(`throughput with ${n} keys (importing and caching them)`)
  const client = createCustodyClient({ transport: localEnclave(), stamper })
  const ids = Array.from({ length: n }, (_, i) => `k${i}`)
  for (let i = 0; i < n; i++) await client.importKey({ generate: true, keyId: ids[i]! })
  globalThis.gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  for (const id of ids) await client.signEip1559(id, tx(0))
  globalThis.gc?.()
  // Per key only where keys dominate the difference (one key is below the heap's noise).
  const heapBytesPerCachedKey = globalThis.gc && n >= 100 ? Math.round((process.memoryUsage().heapUsed - heapBefore) / n) : undefined
  const f = await measure((i) => client.signEip1559(ids[(i * 7919) % n]!, tx(i)), 8)
  scaling.push({ keys: n, opsPerSec: f.opsPerSec, ratioToOneKey: f.opsPerSec / (scaling[0]?.opsPerSec ?? f.opsPerSec), ...(heapBytesPerCachedKey === undefined ? {} : { heapBytesPerCachedKey }) })
  await client.close()
}

const fmt = (n: number, d = 0) => n.toFixed(d)
console.log(`\nsigning (${seconds} s per figure, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'})`)
console.log(`${'stage'.padEnd(68)} ${'conc'.padStart(4)} ${'ops/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'× ethers'.padStart(8)}`)
for (const r of rows) console.log(`${r.stage.padEnd(68)} ${String(r.concurrency).padStart(4)} ${fmt(r.opsPerSec).padStart(7)} ${fmt(r.p50Ms, 2).padStart(7)} ${fmt(r.p99Ms, 2).padStart(7)} ${fmt(r.ratio, 2).padStart(8)}`)
console.log('\nKMS calls per 1,000 signatures (local KMS, 15 ms latency, concurrency 8)')
for (const [label, k] of Object.entries(kms)) console.log(`  ${label.padEnd(28)} ${fmt(k.kmsCallsPer1000, 1).padStart(7)} calls  ${fmt(k.opsPerSec).padStart(6)} ops/s`)
console.log(`\ncold start (process start → first signature, in-process enclave): ${coldStartMs} ms`)
console.log(`import latency (SDK → in-process enclave, HPKE-free local path): ${fmt(importMs, 1)} ms`)
console.log('\nthroughput by number of keys (in-process enclave, concurrency 8, keys cached)')
for (const s of scaling) console.log(`  ${String(s.keys).padStart(6)} keys ${fmt(s.opsPerSec).padStart(7)} ops/s  ${fmt(s.ratioToOneKey, 2)}× one key${s.heapBytesPerCachedKey === undefined ? '' : `  ${s.heapBytesPerCachedKey} heap bytes per cached key`}`)

const results = {
  date: new Date().toISOString(),
  node: process.version,
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memoryBytes: totalmem(), platform: `${process.platform}-${process.arch}` },
  secondsPerFigure: seconds,
  baseline: { label: 'ethers Wallet.signTransaction, in-process plaintext key', ...baseline },
  stages: rows.slice(1),
  kms,
  coldStartMs,
  importMs,
  scaling,
}
await writeFile(values.out!, `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nwrote ${values.out}`)
process.exit(0)
