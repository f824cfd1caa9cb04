/**
 * Frame decoding cost however a peer cuts its stream, against a baseline measured in the same run: the
 * same frames decoded from whole chunks (what a well-behaved peer sends).
 *
 *   pnpm bench:framing [--kib 100]
 *
 * Cuts: whole frames; 1 KiB chunks; single bytes (what a hostile peer may send to burn the enclave's CPU).
 * The pre-fix decoder re-joined every pending byte on each chunk: single bytes of a 100 KB frame cost it
 * ~2.4 s (quadratic); the figures below should stay within a small factor of the baseline.
 */
import { parseArgs } from 'node:util'
import { encodeFrame, FrameDecoder } from '@enclave-custody/sdk/protocol'

const { values } = parseArgs({ options: { kib: { type: 'string', default: '100' }, help: { type: 'boolean', short: 'h' } } })
if (values.help) {
  console.log('pnpm bench:framing [--kib N]: frame decoding time by chunk size, with ratios to whole-frame decoding')
  process.exit(0)
}
const kib = Number(values.kib)
if (!Number.isSafeInteger(kib) || kib < 1 || kib > 1000) throw new Error('--kib must be 1..1000')
const frame = encodeFrame({ blob: 'z'.repeat(kib * 1024) })

/** Milliseconds to decode `frame` pushed in pieces of `size` bytes (best of 3). */
function time(size: number): number {
  let best = Number.POSITIVE_INFINITY
  for (let run = 0; run < 3; run++) {
    const decoder = new FrameDecoder()
    const started = performance.now()
    let frames = 0
    for (let i = 0; i < frame.length; i += size) frames += decoder.push(frame.subarray(i, i + size)).length
    best = Math.min(best, performance.now() - started)
    if (frames !== 1) throw new Error('decoder lost the frame')
  }
  return best
}

const baseline = time(frame.length)
console.log(`frame of ${frame.length} bytes; baseline (one chunk): ${baseline.toFixed(2)} ms`)
for (const [name, size] of [['1 KiB chunks', 1024], ['single bytes', 1]] as const) {
  const ms = time(size)
  console.log(`${name.padEnd(13)} ${ms.toFixed(2).padStart(9)} ms  ${(ms / baseline).toFixed(1).padStart(7)}× baseline  ${((frame.length / ms) * 1000 / 1e6).toFixed(1)} MB/s`)
}
