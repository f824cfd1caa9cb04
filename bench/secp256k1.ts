/**
 * secp256k1 throughput per backend (libsecp256k1 through the `secp256k1` binding, @noble/curves), against a
 * baseline measured in the same run: ethers' `Wallet.signingKey.sign` over the same digests.
 *
 *   pnpm exec tsx --conditions=@enclave-custody/source bench/secp256k1.ts [--seconds 2]
 *
 * Signing is RFC 6979, low-s, one key, a rotating set of random digests; recovery recovers the uncompressed
 * public key from those signatures. Figures are operations per second and the ratio to the baseline.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { SigningKey, Wallet } from 'ethers'
import { createNobleSecp256k1Backend, type Secp256k1Backend, selectSecp256k1Backend } from '@enclave-custody/sdk/protocol'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, help: { type: 'boolean', short: 'h' } } })
if (values.help) {
  console.log('bench/secp256k1.ts [--seconds N]: secp256k1 signs/s and recovers/s per backend, with ratios to ethers signing')
  process.exit(0)
}
const seconds = Number(values.seconds)
const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const key = Uint8Array.from(Buffer.from(KEY.slice(2), 'hex'))
const digests = Array.from({ length: 1024 }, () => new Uint8Array(randomBytes(32)))
const hexDigests = digests.map((d) => `0x${Buffer.from(d).toString('hex')}`)

/** Run `op` for `seconds` (after a warm-up); returns operations per second. */
function measure(label: string, op: (i: number) => unknown): number {
  for (let i = 0; i < 200; i++) op(i) // warm-up (noble builds its precomputed tables on first use)
  let count = 0
  const started = performance.now()
  const end = started + seconds * 1000
  while (performance.now() < end) {
    for (let j = 0; j < 64; j++) op(count++)
  }
  const rate = count / ((performance.now() - started) / 1000)
  process.stderr.write(`  measured ${label}\n`)
  return rate
}

const rows: [string, number][] = []
const wallet = new Wallet(KEY)
rows.push(['baseline: ethers Wallet.signingKey.sign', measure('ethers sign', (i) => wallet.signingKey.sign(hexDigests[i % 1024]!))])
const ethersSigs = hexDigests.map((d) => wallet.signingKey.sign(d))
rows.push(['ethers SigningKey.recoverPublicKey', measure('ethers recover', (i) => SigningKey.recoverPublicKey(hexDigests[i % 1024]!, ethersSigs[i % 1024]!))])

const selected = selectSecp256k1Backend()
const backends: Secp256k1Backend[] = selected.name === 'native' ? [selected, createNobleSecp256k1Backend()] : [selected]
if (selected.name !== 'native') process.stderr.write(`  native backend unavailable: ${selected.fallbackReason}\n`)
for (const backend of backends) {
  rows.push([`${backend.name}: sign`, measure(`${backend.name} sign`, (i) => backend.sign(digests[i % 1024]!, key))])
  const signatures = digests.map((d) => backend.sign(d, key))
  rows.push([`${backend.name}: recover`, measure(`${backend.name} recover`, (i) => backend.recover(digests[i % 1024]!, signatures[i % 1024]!))])
}

const base = rows[0]![1]
console.log(`\nsecp256k1 throughput (${seconds} s per row, node ${process.version}, ${process.platform}-${process.arch})`)
for (const [label, rate] of rows) console.log(`${label.padEnd(44)} ${rate.toFixed(0).padStart(8)} ops/s  ${(rate / base).toFixed(2).padStart(6)}× ethers sign`)
