import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InternalError, InvalidArgumentError } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NsmSystemCalls } from './createNsmDeviceTransport.js'
import { createNsmAttestationProvider } from './createNsmAttestationProvider.js'
import { ioctlRequestNumber } from './ioctlRequestNumber.js'
import { NsmError } from './NsmError.js'
import { RNDADDENTROPY, RNDRESEEDCRNG, SEED_BYTES, seedKernelRng } from './seedKernelRng.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seed-rng-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const ERRNO: Record<string, number> = { EPERM: 1, ENOENT: 2, EINVAL: 22, ENOTTY: 25, ENODATA: 61 }

/**
 * A fake /dev/random: records each ioctl (request number and a copy of the argument, taken during the call)
 * and keeps a reference to the argument buffer, so that a test can see it was zeroed afterwards.
 */
function fakeKernel(fail: { open?: string; addEntropy?: string; reseed?: string } = {}) {
  const calls: { request: number; argument: Uint8Array; buffer: Uint8Array }[] = []
  const state = { errno: 0, opened: '', closed: 0 }
  const failWith = (name: string) => {
    state.errno = ERRNO[name]!
    return -1
  }
  const sys: NsmSystemCalls = {
    open(path) {
      state.opened = path
      return fail.open ? failWith(fail.open) : 7
    },
    ioctl(fd, request, argument) {
      expect(fd).toBe(7)
      calls.push({ request, argument: Uint8Array.from(argument), buffer: argument })
      const failure = request === RNDADDENTROPY ? fail.addEntropy : request === RNDRESEEDCRNG ? fail.reseed : 'EINVAL'
      return failure ? failWith(failure) : 0
    },
    close(fd) {
      expect(fd).toBe(7)
      state.closed += 1
      return 0
    },
    errno: () => state.errno,
    allocate: () => {
      throw new Error('not used')
    },
    errnoName: (errno) => Object.entries(ERRNO).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`,
  }
  return { sys, calls, state }
}

/** An NSM stand-in handing out distinct chunks (chunk i is bytes i, i+1, … mod 256), and keeping them to check zeroing. */
function fakeNsm(chunkSize = 256) {
  const handedOut: Uint8Array[] = []
  return {
    handedOut,
    async getRandom() {
      const chunk = Uint8Array.from({ length: chunkSize }, (_, j) => (handedOut.length * 31 + j) & 0xff)
      handedOut.push(chunk)
      return chunk
    },
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const rejection = (p: Promise<unknown>) => p.then(
  () => {
    throw new Error('expected a rejection')
  },
  (e: unknown) => e,
)

describe('seedKernelRng', () => {
  it('uses the kernel’s request numbers: RNDADDENTROPY = _IOW(R, 3, int[2]), RNDRESEEDCRNG = _IO(R, 7)', () => {
    expect(ioctlRequestNumber({ direction: 'write', type: 'R'.charCodeAt(0), number: 3, size: 8 })).toBe(RNDADDENTROPY)
    expect(ioctlRequestNumber({ direction: 'none', type: 'R'.charCodeAt(0), number: 7, size: 0 })).toBe(RNDRESEEDCRNG)
    expect(RNDADDENTROPY.toString(16)).toBe('40085203')
  })

  it('adds 1024 NSM bytes in struct rand_pool_info records, credits 8 bits a byte, reseeds, closes', async () => {
    const kernel = fakeKernel()
    const nsm = fakeNsm()
    const expected = [0, 1, 2, 3].map((i) => Uint8Array.from({ length: 256 }, (_, j) => (i * 31 + j) & 0xff))
    const result = await seedKernelRng({ source: nsm, systemCalls: kernel.sys })

    expect(result).toEqual({ bytes: SEED_BYTES, creditedBits: 8192, calls: 4, reseeded: true })
    expect(kernel.state.opened).toBe('/dev/random')
    expect(kernel.calls.map((c) => c.request)).toEqual([RNDADDENTROPY, RNDADDENTROPY, RNDADDENTROPY, RNDADDENTROPY, RNDRESEEDCRNG])
    for (const [i, call] of kernel.calls.slice(0, 4).entries()) {
      // entropy_count = 2048 bits, buf_size = 256 bytes (little-endian ints), then the NSM's bytes.
      expect(hex(call.argument.subarray(0, 8))).toBe('0008000000010000')
      expect(hex(call.argument.subarray(8))).toBe(hex(expected[i]!))
    }
    expect(kernel.state.closed).toBe(1)
  })

  it('zeroes every buffer that held NSM bytes: the ioctl arguments and the chunks it was given', async () => {
    const kernel = fakeKernel()
    const nsm = fakeNsm()
    await seedKernelRng({ source: nsm, systemCalls: kernel.sys })
    for (const call of kernel.calls) expect(call.buffer.every((b) => b === 0)).toBe(true)
    for (const chunk of nsm.handedOut) expect(chunk.every((b) => b === 0)).toBe(true)
  })

  it('takes only what it needs from the last chunk', async () => {
    const kernel = fakeKernel()
    const result = await seedKernelRng({ source: fakeNsm(256), bytes: 300, systemCalls: kernel.sys })
    expect(result).toEqual({ bytes: 300, creditedBits: 2400, calls: 2, reseeded: true })
    expect(hex(kernel.calls[1]!.argument.subarray(0, 8))).toBe('600100002c000000') // 352 bits, 44 bytes
    expect(kernel.calls[1]!.argument.length).toBe(8 + 44)
  })

  it('refuses a stuck generator (the same bytes twice in a row) and still closes the device', async () => {
    const kernel = fakeKernel()
    const stuck = { getRandom: async () => new Uint8Array(256).fill(0x5a) }
    const e = await rejection(seedKernelRng({ source: stuck, systemCalls: kernel.sys }))
    expect(e).toBeInstanceOf(InternalError)
    expect(e).toMatchInlineSnapshot(`[InternalError: seeding the kernel RNG failed: the NSM returned the same random bytes twice in a row]`)
    expect(kernel.calls.map((c) => c.request)).toEqual([RNDADDENTROPY])
    expect(kernel.state.closed).toBe(1)
  })

  it('fails loudly without CAP_SYS_ADMIN (EPERM), naming the request and the fix', async () => {
    const kernel = fakeKernel({ addEntropy: 'EPERM' })
    expect(await rejection(seedKernelRng({ source: fakeNsm(), systemCalls: kernel.sys }))).toMatchInlineSnapshot(
      `[InternalError: seeding the kernel RNG failed: RNDADDENTROPY on /dev/random failed with EPERM (errno 1): the process needs CAP_SYS_ADMIN (root inside the enclave)]`,
    )
    expect(kernel.state.closed).toBe(1)
  })

  it('fails when the device does not open', async () => {
    const kernel = fakeKernel({ open: 'ENOENT' })
    expect(await rejection(seedKernelRng({ source: fakeNsm(), devicePath: '/nonexistent/random', systemCalls: kernel.sys }))).toMatchInlineSnapshot(
      `[InternalError: seeding the kernel RNG failed: cannot open /nonexistent/random with ENOENT (errno 2): no such device]`,
    )
    expect(kernel.calls).toEqual([])
  })

  it('accepts a kernel without RNDRESEEDCRNG (reseeded: false), but not another reseed failure', async () => {
    for (const errno of ['ENOTTY', 'EINVAL', 'ENODATA']) {
      const result = await seedKernelRng({ source: fakeNsm(), systemCalls: fakeKernel({ reseed: errno }).sys })
      expect(result.reseeded).toBe(false)
      expect(result.creditedBits).toBe(8192)
    }
    const e = await rejection(seedKernelRng({ source: fakeNsm(), systemCalls: fakeKernel({ reseed: 'EPERM' }).sys }))
    expect((e as InternalError).shortMessage).toMatch(/^seeding the kernel RNG failed: RNDRESEEDCRNG on \/dev\/random failed with EPERM/)
  })

  it('passes an NSM error through, from the real provider over a fake NSM transport', async () => {
    // {"Error": "InternalError"}
    const nsm = await createNsmAttestationProvider({ transport: () => Buffer.from('a1654572726f726d496e7465726e616c4572726f72', 'hex') })
    const kernel = fakeKernel()
    const e = await rejection(seedKernelRng({ source: nsm, systemCalls: kernel.sys }))
    expect(e).toBeInstanceOf(NsmError)
    expect(e).toMatchInlineSnapshot(`[NsmError: attestation failed: NSM GetRandom returned InternalError: the NSM had an internal error]`)
    expect(kernel.calls).toEqual([])
    expect(kernel.state.closed).toBe(1)
  })

  it('seeds from the real provider decoding a GetRandom response (golden bytes) over a fake NSM transport', async () => {
    let n = 0
    // {"GetRandom": {"random": h'<32 bytes, first byte the call number>'}}
    const nsm = await createNsmAttestationProvider({
      transport: (request) => {
        expect(hex(request)).toBe('6947657452616e646f6d') // "GetRandom"
        n += 1
        return Buffer.from(`a169${hex(Buffer.from('GetRandom'))}a166${hex(Buffer.from('random'))}5820${n.toString(16).padStart(2, '0')}${'ab'.repeat(31)}`, 'hex')
      },
    })
    const kernel = fakeKernel()
    expect(await seedKernelRng({ source: nsm, bytes: 64, systemCalls: kernel.sys })).toEqual({ bytes: 64, creditedBits: 512, calls: 2, reseeded: true })
    expect(hex(kernel.calls[0]!.argument)).toBe(`000100002000000001${'ab'.repeat(31)}`)
    expect(hex(kernel.calls[1]!.argument)).toBe(`000100002000000002${'ab'.repeat(31)}`)
  })

  it('checks its options before opening anything', async () => {
    const kernel = fakeKernel()
    const bad: unknown[] = [
      null,
      {},
      { source: {} },
      { source: fakeNsm(), bytes: 31 },
      { source: fakeNsm(), bytes: 65_537 },
      { source: fakeNsm(), bytes: 1.5 },
      { source: fakeNsm(), devicePath: 'dev/random' },
    ]
    for (const parameters of bad) {
      const e = await rejection(seedKernelRng({ systemCalls: kernel.sys, ...(parameters as object) } as Parameters<typeof seedKernelRng>[0]))
      expect(e).toBeInstanceOf(InvalidArgumentError)
    }
    expect(kernel.state.opened).toBe('')
  })

  it.runIf(process.platform === 'linux')('reaches the real ioctl through libc: a regular file as the device answers ENOTTY', async () => {
    // Never the real /dev/random here: crediting entropy on the test machine's kernel is not a test's business.
    const file = join(dir, 'not-a-random-device')
    await writeFile(file, '')
    const e = await rejection(seedKernelRng({ source: fakeNsm(), devicePath: file }))
    expect((e as InternalError).shortMessage.replace(dir, '<dir>')).toBe('seeding the kernel RNG failed: RNDADDENTROPY on <dir>/not-a-random-device failed with ENOTTY (errno 25)')
  })
})
