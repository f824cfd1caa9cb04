/**
 * custody-seed-rng (src/bin/seedRng.ts) outside an enclave: it must fail loudly — exit 1, one JSON line
 * naming the problem, no random bytes — so that the entrypoint starts no runtime on an unseeded kernel.
 * Its success path needs /dev/nsm and root in an enclave (unverified here; the logic is tested in
 * src/attestation/nsm/seedKernelRng.test.ts against fakes).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killStarted, runTs } from '../../../test/support/processes.js'

const SEED_RNG = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bin', 'seedRng.ts')
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seed-rng-bin-'))
})
afterAll(async () => {
  killStarted()
  await rm(dir, { recursive: true, force: true })
})

const lastLine = (output: string) => JSON.parse(output.trim().split('\n').at(-1)!) as Record<string, unknown>

describe.runIf(process.platform === 'linux')('custody-seed-rng outside an enclave', { timeout: 60_000 }, () => {
  it('exits 1 when there is no NSM device', async () => {
    const { exited, output } = runTs(SEED_RNG, [], { CUSTODY_NSM_DEVICE: join(dir, 'nsm') })
    expect(await exited).toBe(1)
    expect({ ...lastLine(output()), time: 0 }).toEqual({
      level: 'error',
      time: 0,
      svc: 'seed-rng',
      msg: 'seeding the kernel RNG from the NSM failed',
      errName: 'AttestationError',
      error: `attestation failed: cannot open the NSM device ${join(dir, 'nsm')}: it does not exist: this process is not running inside a Nitro Enclave`,
    })
  })

  it('exits 1 when the device is not an NSM (the GetRandom ioctl fails), before touching the kernel pool', async () => {
    const notNsm = join(dir, 'not-nsm')
    const randomStandIn = join(dir, 'random')
    await writeFile(notNsm, '')
    await writeFile(randomStandIn, '')
    const { exited, output } = runTs(SEED_RNG, [], { CUSTODY_NSM_DEVICE: notNsm, CUSTODY_RANDOM_DEVICE: randomStandIn })
    expect(await exited).toBe(1)
    expect(lastLine(output()).error).toBe(`attestation failed: the NSM ioctl on ${notNsm} failed with ENOTTY (errno 25)`)
  })
})
