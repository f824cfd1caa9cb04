import { CustodyError, InternalError, InvalidArgumentError } from '@enclave-custody/sdk'
import { libcSystemCalls, type NsmSystemCalls } from './createNsmDeviceTransport.js'
import type { NsmAttestationProvider } from './createNsmAttestationProvider.js'

/** Where the kernel's random device is. */
export const KERNEL_RANDOM_DEVICE = '/dev/random'

/**
 * `RNDADDENTROPY` = `_IOW('R', 0x03, int[2])` (`include/uapi/linux/random.h`): mix the bytes of a
 * `struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }` into the input pool and credit
 * `entropy_count` bits, in one call. Needs `CAP_SYS_ADMIN`.
 */
export const RNDADDENTROPY = 0x4008_5203

/** `RNDRESEEDCRNG` = `_IO('R', 0x07)` (Linux ≥ 4.17): reseed the CRNG from the input pool now. Needs `CAP_SYS_ADMIN`. */
export const RNDRESEEDCRNG = 0x5207

/** How many NSM bytes the runtime feeds the kernel at boot by default (8192 bits; the NSM gives ≤ 256 per call). */
export const SEED_BYTES = 1024

/** Options of {@link seedKernelRng}. */
export type SeedKernelRngParameters = {
  /** The entropy source: the NSM provider (its `GetRandom`). */
  source: Pick<NsmAttestationProvider, 'getRandom'>
  /** How many bytes to add, 32..65536. @default {@link SEED_BYTES} */
  bytes?: number
  /** The kernel's random device. @default '/dev/random' */
  devicePath?: string
  /** @internal The system calls; the default is libc through koffi (shared with the NSM transport). */
  systemCalls?: NsmSystemCalls
}

/** What {@link seedKernelRng} resolves to. Counts only: never the bytes. */
export type SeedKernelRngReturnType = {
  /** Bytes from the NSM mixed into the kernel's input pool. */
  bytes: number
  /** Entropy credited to the pool, in bits (8 per byte: the NSM's generator is a hardware source). */
  creditedBits: number
  /** Number of NSM `GetRandom` calls it took. */
  calls: number
  /**
   * Whether the kernel reseeded its CRNG from the pool right away (`RNDRESEEDCRNG`). `false` on a kernel
   * older than 4.17 (ENOTTY/EINVAL), which reseeds on its own schedule instead.
   */
  reseeded: boolean
}

/**
 * Seed the kernel's random number generator from the Nitro Secure Module at enclave boot, as AWS's
 * kmstool (aws-nitro-enclaves-sdk-c `aws_nitro_enclaves_library_seed_entropy`) and other Nitro runtimes do:
 * an enclave has no disk, keyboard or network interrupts to gather entropy from, the NSM has a hardware
 * generator. Bytes from NSM `GetRandom` go into the input pool with `RNDADDENTROPY`, which mixes them in and
 * credits them in one call (a plain `write` to /dev/random would mix without crediting, so a kernel that
 * counts entropy — before Linux 5.18 — would still consider itself unseeded; kmstool writes and then credits
 * with `RNDADDTOENTCNT`, two calls for what this does in one), then `RNDRESEEDCRNG` makes the CRNG reseed
 * from the pool at once rather than at its next scheduled reseed. Every buffer is zeroed afterwards.
 *
 * Run it in a process of its own before the runtime starts (the entrypoint does): Node seeds OpenSSL's
 * generator from the kernel when the process starts, so seeding the kernel from inside the runtime would
 * come after the generator that makes its RSA key was already seeded.
 *
 * Unverified here (no /dev/nsm, and this machine's tests do not run as an enclave's root): the calls
 * against a real enclave kernel. The tests drive it through a fake device and a fake NSM.
 *
 * @param parameters - The NSM, the amount and the device.
 * @returns What was added (counts only).
 * @throws InvalidArgumentError on a bad amount, source or device path.
 * @throws AttestationError / NsmError from the NSM (passed through); InternalError when the NSM returns
 *   the same bytes twice in a row (a stuck generator), or when the device cannot be opened or refuses
 *   `RNDADDENTROPY` (the message names the errno: `EPERM` means the process lacks `CAP_SYS_ADMIN`).
 * @example
 * import { createNsmAttestationProvider } from './createNsmAttestationProvider.js'
 * import { seedKernelRng } from './seedKernelRng.js'
 * const nsm = await createNsmAttestationProvider()
 * const { creditedBits } = await seedKernelRng({ source: nsm }) // 8192
 */
export async function seedKernelRng(parameters: SeedKernelRngParameters): Promise<SeedKernelRngReturnType> {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const { source, bytes = SEED_BYTES, devicePath = KERNEL_RANDOM_DEVICE, systemCalls } = parameters
  if (typeof source !== 'object' || source === null || typeof source.getRandom !== 'function') {
    throw new InvalidArgumentError({ field: 'source', rule: 'must have a getRandom() method (the NSM provider)' })
  }
  if (!Number.isInteger(bytes) || bytes < 32 || bytes > 65_536) throw new InvalidArgumentError({ field: 'bytes', rule: 'must be an integer 32..65536' })
  if (typeof devicePath !== 'string' || !devicePath.startsWith('/')) throw new InvalidArgumentError({ field: 'devicePath', rule: 'must be an absolute path' })
  const sys = systemCalls ?? (await libcSystemCalls())

  const fd = sys.open(devicePath)
  if (fd < 0) throw kernelError(`cannot open ${devicePath}`, sys)
  let added = 0
  let calls = 0
  let previous: Uint8Array | undefined
  try {
    while (added < bytes) {
      calls += 1
      const chunk = await source.getRandom()
      try {
        if (!(chunk instanceof Uint8Array) || chunk.length === 0) throw new InternalError({ reason: 'seeding the kernel RNG failed: the NSM returned no random bytes' })
        if (previous !== undefined && equalBytes(chunk, previous)) {
          throw new InternalError({ reason: 'seeding the kernel RNG failed: the NSM returned the same random bytes twice in a row' })
        }
        const take = Math.min(chunk.length, bytes - added)
        const pool = new Uint8Array(8 + take)
        const view = new DataView(pool.buffer)
        // struct rand_pool_info, native (little-endian) ints on x86_64 and arm64.
        view.setInt32(0, take * 8, true)
        view.setInt32(4, take, true)
        pool.set(chunk.subarray(0, take), 8)
        try {
          if (sys.ioctl(fd, RNDADDENTROPY, pool) !== 0) throw kernelError(`RNDADDENTROPY on ${devicePath} failed`, sys)
        } finally {
          pool.fill(0)
        }
        added += take
        previous?.fill(0)
        previous = Uint8Array.from(chunk)
      } finally {
        if (chunk instanceof Uint8Array) chunk.fill(0)
      }
    }
    let reseeded = true
    if (sys.ioctl(fd, RNDRESEEDCRNG, new Uint8Array(8)) !== 0) {
      const name = sys.errnoName(sys.errno())
      // Kernels before 4.17 do not know the request; 5.18+ answer ENODATA while the CRNG is not ready.
      if (name !== 'ENOTTY' && name !== 'EINVAL' && name !== 'ENODATA') throw kernelError(`RNDRESEEDCRNG on ${devicePath} failed`, sys)
      reseeded = false
    }
    return { bytes: added, creditedBits: added * 8, calls, reseeded }
  } catch (e) {
    throw e instanceof CustodyError ? e : new InternalError({ reason: 'seeding the kernel RNG failed', cause: e })
  } finally {
    previous?.fill(0)
    sys.close(fd)
  }
}

function kernelError(what: string, sys: NsmSystemCalls): InternalError {
  const errno = sys.errno()
  const name = sys.errnoName(errno)
  const hint = name === 'EPERM' || name === 'EACCES' ? ': the process needs CAP_SYS_ADMIN (root inside the enclave)' : name === 'ENOENT' ? ': no such device' : ''
  return new InternalError({ reason: `seeding the kernel RNG failed: ${what} with ${name} (errno ${errno})${hint}` })
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}
