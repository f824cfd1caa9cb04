/**
 * Endurance (issue 14 point 7): N attested clients × T seconds against the stack as on an instance — local AWS,
 * the enclave runtime and the parent proxy each in its own process, on loopback — with stamps, attestation and a
 * signing policy on every key. Every signature is verified by ethers, not by the SDK; memory of every process is
 * sampled and must stay flat after the warm-up. Stops by itself; exit code 1 on any error or memory growth.
 *
 *   pnpm test:load [--clients 8] [--seconds 60] [--json]
 *
 * (`pnpm test:load` runs Node with --expose-gc: the client heap is measured after forced collections.)
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { parseArgs } from 'node:util'
import { formatEndurance, runEndurance } from '../test/support/endurance.js'

const USAGE = `pnpm test:load [--clients N] [--seconds T] [--json]

  N attested clients (default 8) for T seconds (default 60) against local AWS, the enclave runtime and the parent
  proxy, each its own process, on loopback. Each client stamps with its own API key and signs with its own key
  (imported through KMS + Secrets Manager) under a signing policy (two listed recipients, at most 1 ether); one
  request in ten must be refused by the policy. Every signature is checked with ethers. Prints progress every 5 s
  (requests, errors, rps, heap/RSS of each process), then the figures and the memory verdict.

  --clients N   concurrent clients, 1-256 (default 8)
  --seconds T   length of the run, 2-86400 (default 60)
  --json        print the result as JSON on stdout (progress stays on stderr)
  --help        this text

  Exit code 0 when every request succeeded or was refused as it must be, every signature verified and no process
  grew beyond its memory bound; 1 otherwise; 2 for bad arguments.`

let values: { clients?: string; seconds?: string; json?: boolean; help?: boolean }
try {
  values = parseArgs({
    options: { clients: { type: 'string', default: '8' }, seconds: { type: 'string', default: '60' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  }).values
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}\n`)
  process.exit(2)
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const clients = Number(values.clients)
const seconds = Number(values.seconds)
if (!Number.isSafeInteger(clients) || clients < 1 || clients > 256 || !Number.isFinite(seconds) || seconds < 2 || seconds > 86_400) {
  process.stderr.write(`--clients must be 1-256 and --seconds 2-86400\n\n${USAGE}\n`)
  process.exit(2)
}

const progress = (line: string) => process.stderr.write(`  ${line}\n`)
// Bounded: whatever happens, the run ends (start-up, the run, one request timeout and the shutdown at most).
const watchdog = setTimeout(() => {
  process.stderr.write(`load: still running ${seconds + 180} s after the start; giving up (the servers are killed)\n`)
  process.exit(1)
}, (seconds + 180) * 1000)
watchdog.unref()
process.once('SIGINT', () => process.exit(130))
process.once('SIGTERM', () => process.exit(143))

try {
  const result = await runEndurance({ clients, seconds, onProgress: progress })
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  else process.stdout.write(`${formatEndurance(result)}\n`)
  process.exit(result.ok ? 0 : 1)
} catch (e) {
  process.stderr.write(`load: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
}
