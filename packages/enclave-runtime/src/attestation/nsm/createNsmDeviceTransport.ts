import { AttestationError, InvalidArgumentError } from '@enclave-custody/sdk'
import { NsmError } from './NsmError.js'
import { NSM_DEVICE_PATH, NSM_IOCTL_REQUEST, NSM_MESSAGE_SIZE, NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE } from './nsmConstants.js'

/** Moves one CBOR request to the NSM and returns its CBOR response. Synchronous, like the ioctl. */
export type NsmTransport = (request: Uint8Array) => Uint8Array

/**
 * The system calls the device transport makes. The default binds libc's `open`, `ioctl` and `close`
 * through koffi; tests substitute a fake device.
 *
 * @internal
 */
export type NsmSystemCalls = {
  /** `open(path, O_RDWR | O_CLOEXEC)`: a descriptor, or -1 with `errno()` set. */
  open(path: string): number
  /** `ioctl(fd, request, message)`: 0, or -1 with `errno()` set. `message` is the 32-byte `struct nsm_message`. */
  ioctl(fd: number, request: number, message: Uint8Array): number
  close(fd: number): number
  /** The calling thread's errno after the last call. */
  errno(): number
  /** Native memory whose address does not move: `address` goes into the message, `bytes` views it. */
  allocate(size: number): { address: bigint; bytes: Uint8Array; free(): void }
  /** Errno name by number, for messages (`ENOENT`). */
  errnoName(errno: number): string
}

/** Options of {@link createNsmDeviceTransport}. */
export type CreateNsmDeviceTransportParameters = {
  /** The NSM device. @default '/dev/nsm' */
  devicePath?: string
  /** @internal The system calls; the default is libc through koffi. */
  systemCalls?: NsmSystemCalls
}

/** What {@link createNsmDeviceTransport} resolves to: the transport and a way to close the device. */
export type CreateNsmDeviceTransportReturnType = {
  request: NsmTransport
  /** Close the device descriptor and free the buffers. Later requests throw. Idempotent. */
  close(): void
}

/** Linux `O_RDWR | O_CLOEXEC` (the same values on x86_64 and arm64). */
const O_RDWR_CLOEXEC = 0o2 | 0o2_000_000

/**
 * Open the Nitro Secure Module device and return a transport that sends each CBOR request with one
 * `ioctl(fd, 0xC0200A00, struct nsm_message *)`, as aws-nitro-enclaves-nsm-api's driver does: the message
 * holds two `{ address, length }` pairs (request, then a 12 KiB response buffer), each field 8 bytes, and
 * the driver writes the response and shrinks the response length to what it wrote.
 *
 * The call blocks the event loop for the NSM round trip (milliseconds); the attested runtime asks for a
 * document only every few minutes. The response buffer is zeroed after each call.
 *
 * @param parameters - The device path.
 * @returns The transport and `close`.
 * @throws AttestationError when the device does not exist (not inside a Nitro Enclave), cannot be opened,
 *   or the platform is not Linux; each message names the path and the errno.
 * @example
 * import { createNsmDeviceTransport } from '@enclave-custody/enclave-runtime'
 * const device = await createNsmDeviceTransport()
 * const response = device.request(requestBytes) // CBOR in, CBOR out
 * device.close()
 */
export async function createNsmDeviceTransport(parameters: CreateNsmDeviceTransportParameters = {}): Promise<CreateNsmDeviceTransportReturnType> {
  const { devicePath = NSM_DEVICE_PATH, systemCalls } = parameters
  if (typeof devicePath !== 'string' || !devicePath.startsWith('/')) throw new InvalidArgumentError({ field: 'devicePath', rule: 'must be an absolute path' })
  const sys = systemCalls ?? (await libcSystemCalls())

  const fd = sys.open(devicePath)
  if (fd < 0) {
    const errno = sys.errno()
    const name = sys.errnoName(errno)
    const hint =
      name === 'ENOENT'
        ? 'it does not exist: this process is not running inside a Nitro Enclave'
        : name === 'EACCES' || name === 'EPERM'
          ? 'permission denied: the enclave runtime must run as root inside the enclave'
          : `open failed with ${name}`
    throw new AttestationError({ reason: `cannot open the NSM device ${devicePath}: ${hint}` })
  }

  const requestBuffer = sys.allocate(NSM_REQUEST_MAX_SIZE)
  const responseBuffer = sys.allocate(NSM_RESPONSE_MAX_SIZE)
  let open = true

  const request: NsmTransport = (bytes) => {
    if (!open) throw new AttestationError({ reason: `the NSM device ${devicePath} is closed` })
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new InvalidArgumentError({ field: 'request', rule: 'must be a non-empty Uint8Array' })
    if (bytes.length > NSM_REQUEST_MAX_SIZE) throw new NsmError({ code: 'InputTooLarge', operation: 'request' })
    requestBuffer.bytes.set(bytes)
    // struct nsm_message { struct iovec request; struct iovec response; }, little-endian (x86_64, arm64).
    const message = new Uint8Array(NSM_MESSAGE_SIZE)
    const view = new DataView(message.buffer)
    view.setBigUint64(0, requestBuffer.address, true)
    view.setBigUint64(8, BigInt(bytes.length), true)
    view.setBigUint64(16, responseBuffer.address, true)
    view.setBigUint64(24, BigInt(NSM_RESPONSE_MAX_SIZE), true)
    try {
      if (sys.ioctl(fd, NSM_IOCTL_REQUEST, message) !== 0) {
        const errno = sys.errno()
        const name = sys.errnoName(errno)
        // The AWS library reports EMSGSIZE as InputTooLarge and every other errno as InternalError.
        if (name === 'EMSGSIZE') throw new NsmError({ code: 'InputTooLarge', operation: 'ioctl' })
        // Linux's nsm driver documents the raw request as needing CAP_SYS_ADMIN.
        const hint = name === 'EPERM' || name === 'EACCES' ? ': the raw NSM request needs CAP_SYS_ADMIN (run the runtime as root in the enclave)' : ''
        throw new AttestationError({ reason: `the NSM ioctl on ${devicePath} failed with ${name} (errno ${errno})${hint}` })
      }
      const length = view.getBigUint64(24, true)
      if (length > BigInt(NSM_RESPONSE_MAX_SIZE)) {
        throw new AttestationError({ reason: `the NSM driver reported a ${length}-byte response, more than the ${NSM_RESPONSE_MAX_SIZE}-byte buffer` })
      }
      if (length === 0n) throw new AttestationError({ reason: 'the NSM driver returned an empty response' })
      return responseBuffer.bytes.slice(0, Number(length))
    } finally {
      requestBuffer.bytes.fill(0, 0, bytes.length)
      responseBuffer.bytes.fill(0)
    }
  }

  return {
    request,
    close() {
      if (!open) return
      open = false
      sys.close(fd)
      requestBuffer.free()
      responseBuffer.free()
    },
  }
}

let libc: Promise<NsmSystemCalls> | undefined

/**
 * libc's calls through koffi, loaded on first use so that importing the package loads no native code.
 *
 * @internal Exported for tests of the binding itself.
 */
export function libcSystemCalls(): Promise<NsmSystemCalls> {
  libc ??= (async () => {
    if (process.platform !== 'linux') throw new AttestationError({ reason: `the NSM device exists only on Linux (this is ${process.platform})` })
    let koffi: typeof import('koffi').default
    try {
      koffi = (await import('koffi')).default
    } catch (cause) {
      throw new AttestationError({ reason: 'the koffi FFI module could not be loaded, so the NSM device cannot be reached', cause })
    }
    const lib = koffi.load('libc.so.6')
    // open and ioctl are variadic in C: declared so, and called with the extra argument's type.
    const open = lib.func('int open(const char *path, int flags, ...)')
    const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)')
    const close = lib.func('int close(int fd)')
    const names = new Map(Object.entries(koffi.os.errno).map(([name, value]) => [value, name]))
    return {
      open: (path) => open(path, O_RDWR_CLOEXEC) as number,
      ioctl: (fd, request, message) => ioctl(fd, request, 'void *', message) as number,
      close: (fd) => close(fd) as number,
      errno: () => koffi.errno(),
      allocate(size) {
        const pointer = koffi.alloc('uint8_t', size)
        const bytes = new Uint8Array(koffi.view(pointer, size))
        bytes.fill(0)
        return { address: koffi.address(pointer), bytes, free: () => koffi.free(pointer) }
      },
      errnoName: (errno) => names.get(errno) ?? `errno ${errno}`,
    }
  })()
  // A failed load is not cached: the next caller gets a fresh attempt and its own clear error.
  libc.catch(() => {
    libc = undefined
  })
  return libc
}
