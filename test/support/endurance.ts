/**
 * The endurance run (issue 14 point 7), shared by `pnpm test:load` (scripts/load.ts) and its short form in CI
 * (test/load.slow.test.ts): N attested clients for T seconds against the stack as on an instance, every server its
 * own process (test/support/processStack.ts: local AWS, the enclave runtime, the parent proxy), on loopback.
 *
 * Each client has its own API key (every request stamped), its own key (imported through the KMS importer: sealed
 * to the attested KMS key, stored in Secrets Manager) and a signing policy on it: transfers only to two listed
 * addresses, at most 1 ether. One request in ten goes to an address not on the list and must be refused with
 * POLICY_DENIED. Every signature is checked independently of the SDK (ethers `Transaction.from(raw)`: the
 * recovered sender is the address ethers derives from the key the client imported; to, value, nonce, chain id and
 * hash are the ones asked for).
 *
 * Memory: the resident set of every server process (/proc/<pid>/status VmRSS) and the heap and resident set of
 * this process are sampled each second. After the warm-up, the median of the first half of the samples is the
 * baseline and the median of the second half the end (halves, not short windows: a server's resident set is a
 * saw-tooth of some 30 MiB between collections, which short windows would read as growth or shrinkage); growth
 * above the bound fails the run (see MEMORY_BOUND). A steady leak shows as half the run's worth of growth.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, type CustodyClient, generateApiKey, isCustodyError } from '@enclave-custody/sdk'
import { Transaction, Wallet } from 'ethers'
import { type ProcessStack, rssOf, startProcessStack } from './processStack.js'

export type EnduranceOptions = {
  clients: number
  seconds: number
  /** A line every `progressEveryMs` (and a few more). @default none */
  onProgress?: (line: string) => void
  /** @default 5000 */
  progressEveryMs?: number
}

export type MemoryVerdict = {
  process: string
  metric: 'rss' | 'heapUsed'
  /** Median of the first half of the samples after the warm-up. */
  startBytes: number
  /** Median of the second half. */
  endBytes: number
  growthBytes: number
  boundBytes: number
  ok: boolean
}

export type EnduranceResult = {
  ok: boolean
  clients: number
  seconds: number
  warmupSeconds: number
  /** Requests made after set-up (signatures and refusals). */
  requests: number
  signed: number
  /** Refused with POLICY_DENIED, as they must be. */
  denied: number
  errors: number
  /** The first few errors, as `op: CODE message`. */
  errorSamples: string[]
  requestsPerSecond: number
  latencyMs: { p50: number; p99: number; max: number }
  memory: MemoryVerdict[]
  /** Why the run failed (empty when ok). */
  failures: string[]
  boundNote: string
}

const LISTED = ['0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'] as const
const UNLISTED = '0x000000000000000000000000000000000000dEaD'
const MAX_VALUE = 10n ** 18n
const CHAIN_ID = 11155111n
const MiB = 1024 * 1024

/**
 * Memory bound of one process over a run: 24 MiB + 10 % of its baseline. Why: a Node process's resident set moves
 * by tens of MiB with no leak at all (V8 grows and shrinks its spaces in page-sized steps, malloc arenas of
 * OpenSSL and libuv are kept), so a tighter bound on RSS flags noise; the heap of this process is measured after
 * a forced collection when Node runs with --expose-gc (`pnpm test:load` does): live objects only, so its bound
 * is 4 MiB + 10 % (a few thousand requests' worth of session state would exceed it).
 * What it can see depends on the run's length: a leak of b bytes per request shows after requests × b > bound,
 * so the output states the smallest per-request leak the run could detect (bound ÷ requests).
 */
export const MEMORY_BOUND = { fixedBytes: 24 * MiB, fraction: 0.1, heapAfterGcFixedBytes: 4 * MiB } as const

type Sample = { t: number; values: Record<string, number> }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!
}
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`

/** Run the endurance load; resolves with figures and a verdict (never throws for a failed run, only for a failed start). */
export async function runEndurance({ clients: n, seconds, onProgress = () => {}, progressEveryMs = 5_000 }: EnduranceOptions): Promise<EnduranceResult> {
  if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new RangeError('clients must be an integer from 1 to 256')
  if (!(seconds >= 2 && seconds <= 86_400)) throw new RangeError('seconds must be from 2 to 86400')
  const dir = await mkdtemp(join(tmpdir(), 'custody-load-'))
  let stack: ProcessStack | undefined
  const clients: CustodyClient[] = []
  try {
    onProgress(`starting local AWS, the enclave runtime and the parent proxy (each its own process) in ${dir}`)
    stack = await startProcessStack({ dir, sealing: 'kms' })
    const s = stack
    onProgress(`importing ${n} keys through KMS + Secrets Manager and setting a signing policy on each`)
    const workers = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
        const client = s.client(stamper)
        clients.push(client)
        const wallet = Wallet.createRandom()
        const keyId = `load-${i}-${randomBytes(3).toString('hex')}`
        const info = await client.importKey({ privateKey: wallet.privateKey as `0x${string}`, keyId })
        if (info.address !== wallet.address) throw new Error(`import of ${keyId}: the enclave reports ${info.address}, ethers derives ${wallet.address}`)
        await client.setSigningPolicy(keyId, {
          rules: [{ id: 'listed-and-small', effect: 'allow', when: { to: { in: [...LISTED] }, value: { lte: MAX_VALUE.toString() } } }],
        })
        return { client, keyId, address: wallet.address }
      }),
    )

    const warmupSeconds = Math.min(30, Math.max(2, Math.round(seconds * 0.2)))
    const started = performance.now()
    const end = started + seconds * 1000
    const stats = { requests: 0, signed: 0, denied: 0, errors: 0 }
    const errorSamples: string[] = []
    const latencies: number[] = []
    const fail = (what: string) => {
      stats.errors++
      if (errorSamples.length < 20) errorSamples.push(what)
    }
    const samples: Sample[] = []
    const sample = () => {
      globalThis.gc?.()
      const mem = process.memoryUsage()
      const values: Record<string, number> = { 'client heapUsed': mem.heapUsed, 'client rss': mem.rss }
      for (const p of s.processes()) {
        const rss = rssOf(p.pid())
        if (rss !== undefined) values[`${p.name} rss`] = rss
      }
      samples.push({ t: (performance.now() - started) / 1000, values })
    }
    sample()
    const sampler = setInterval(sample, 1_000)
    let lastReport = { t: performance.now(), requests: 0 }
    const reporter = setInterval(() => {
      const now = performance.now()
      const rps = ((stats.requests - lastReport.requests) * 1000) / (now - lastReport.t)
      lastReport = { t: now, requests: stats.requests }
      const last = samples.at(-1)?.values ?? {}
      const mem = Object.entries(last)
        .map(([k, v]) => `${k} ${mib(v)}`)
        .join(', ')
      onProgress(`${((now - started) / 1000).toFixed(0)} s: ${stats.requests} requests, ${stats.errors} errors, ${rps.toFixed(0)} rps; ${mem}`)
    }, progressEveryMs)

    await Promise.all(
      workers.map(async ({ client, keyId, address }, w) => {
        for (let nonce = 0; performance.now() < end; nonce++) {
          const refused = nonce % 10 === 9
          const to = refused ? UNLISTED : LISTED[nonce % 2]!
          const value = BigInt(1 + ((nonce * 7919 + w) % 1_000_000))
          const t = performance.now()
          stats.requests++
          try {
            const signed = await client.signEip1559(keyId, { chainId: CHAIN_ID, nonce: BigInt(nonce), to, value, gas: 21_000n, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n })
            latencies.push(performance.now() - t)
            if (refused) {
              fail(`sign to an unlisted address was signed (${keyId}, nonce ${nonce})`)
              continue
            }
            // Independent of the SDK: ethers parses the raw transaction and recovers its sender.
            const parsed = Transaction.from(signed.rawTransaction)
            const wrong =
              parsed.from !== address
                ? `recovered sender ${parsed.from}, expected ${address}`
                : parsed.to?.toLowerCase() !== to.toLowerCase() || parsed.value !== value || parsed.nonce !== nonce || parsed.chainId !== CHAIN_ID || parsed.type !== 2
                  ? 'the signed transaction is not the one asked for'
                  : parsed.hash !== signed.hash
                    ? 'the hash returned is not the hash of the raw transaction'
                    : undefined
            if (wrong) fail(`${keyId} nonce ${nonce}: ${wrong}`)
            else stats.signed++
          } catch (e) {
            latencies.push(performance.now() - t)
            if (refused && isCustodyError(e, 'POLICY_DENIED')) stats.denied++
            else fail(`${keyId} nonce ${nonce}: ${isCustodyError(e) ? `${e.code} ${e.message}` : String(e)}`)
          }
        }
      }),
    )
    const elapsed = (performance.now() - started) / 1000
    clearInterval(reporter)
    clearInterval(sampler)
    sample()

    // Memory verdicts.
    const after = samples.filter((x) => x.t >= warmupSeconds)
    const half = Math.max(1, Math.floor(after.length / 2))
    const memory: MemoryVerdict[] = []
    const failures: string[] = []
    const names = Object.keys(samples[0]?.values ?? {})
    for (const name of names) {
      const series = after.map((x) => x.values[name]).filter((v): v is number => v !== undefined)
      if (series.length < 2) continue
      const startBytes = median(series.slice(0, half))
      const endBytes = median(series.slice(-half))
      const precise = name === 'client heapUsed' && globalThis.gc !== undefined
      const boundBytes = (precise ? MEMORY_BOUND.heapAfterGcFixedBytes : MEMORY_BOUND.fixedBytes) + MEMORY_BOUND.fraction * startBytes
      const growthBytes = endBytes - startBytes
      const [process, metric] = name.split(' ') as [string, 'rss' | 'heapUsed']
      const verdict = { process, metric, startBytes, endBytes, growthBytes, boundBytes, ok: growthBytes <= boundBytes }
      memory.push(verdict)
      if (!verdict.ok) failures.push(`${name} grew ${mib(growthBytes)} after the warm-up (bound ${mib(boundBytes)})`)
    }
    if (after.length < 3) failures.push(`too few memory samples after the ${warmupSeconds} s warm-up: the run is too short for a memory verdict`)
    if (stats.errors > 0) failures.push(`${stats.errors} errors`)
    if (stats.signed === 0) failures.push('nothing was signed')
    if (stats.denied === 0 && stats.requests >= 10 * n) failures.push('no request was refused by the signing policy')
    for (const p of s.processes()) if (!p.running()) failures.push(`${p.name} is not running at the end of the run`)

    latencies.sort((a, b) => a - b)
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN
    // The smallest steady leak per request each verdict could see: growth between the halves' medians is about
    // half the run's leak, so 2 × bound ÷ requests.
    const perRequest = (ms: MemoryVerdict[]) => (ms.length === 0 || stats.requests === 0 ? '∞' : String(Math.ceil((2 * Math.max(...ms.map((m) => m.boundBytes))) / stats.requests)))
    const servers = memory.filter((m) => m.process !== 'client')
    const clientHeap = memory.filter((m) => m.process === 'client' && m.metric === 'heapUsed')
    return {
      ok: failures.length === 0,
      clients: n,
      seconds,
      warmupSeconds,
      ...stats,
      errorSamples,
      requestsPerSecond: stats.requests / elapsed,
      latencyMs: { p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? Number.NaN },
      memory,
      failures,
      boundNote:
        `memory bound per process: ${mib(MEMORY_BOUND.fixedBytes)} + ${MEMORY_BOUND.fraction * 100} % of its baseline (Node's resident set moves by tens of MiB without a leak)` +
        `${globalThis.gc ? `, client heap after forced GC ${mib(MEMORY_BOUND.heapAfterGcFixedBytes)} + ${MEMORY_BOUND.fraction * 100} %` : ''}; ` +
        `comparing halves over ${stats.requests} requests, this run detects a steady leak of about ${perRequest(servers)} bytes per request or more in a server process, ${perRequest(clientHeap)} in the client heap` +
        (globalThis.gc ? '; client heap measured after forced GC' : '; client heap measured without forced GC (run Node with --expose-gc for a precise figure)'),
    }
  } finally {
    for (const c of clients) await c.close().catch(() => {})
    await stack?.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** A human-readable summary of a result. */
export function formatEndurance(r: EnduranceResult): string {
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'}: ${r.clients} clients × ${r.seconds} s (warm-up ${r.warmupSeconds} s): ${r.requests} requests, ${r.signed} signed and verified by ethers, ${r.denied} refused by the policy as they must be, ${r.errors} errors`,
    `throughput ${r.requestsPerSecond.toFixed(1)} rps; latency p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, max ${r.latencyMs.max.toFixed(1)} ms`,
    'memory (median of the first and of the second half of the samples after the warm-up):',
    ...r.memory.map((m) => `  ${`${m.process} ${m.metric}`.padEnd(18)} ${mib(m.startBytes).padStart(10)} → ${mib(m.endBytes).padStart(10)}  growth ${mib(m.growthBytes).padStart(9)}  bound ${mib(m.boundBytes)}  ${m.ok ? 'ok' : 'EXCEEDED'}`),
    r.boundNote,
    ...r.errorSamples.map((e) => `  error: ${e}`),
    ...r.failures.map((f) => `failure: ${f}`),
  ]
  return lines.join('\n')
}
