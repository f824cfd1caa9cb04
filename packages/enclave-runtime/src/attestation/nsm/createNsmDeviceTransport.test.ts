import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AttestationError, InvalidArgumentError } from '@enclave-custody/sdk'
import koffi from 'koffi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNsmDeviceTransport, libcSystemCalls, type NsmSystemCalls } from './createNsmDeviceTransport.js'
import { ioctlRequestNumber } from './ioctlRequestNumber.js'
import { NsmError } from './NsmError.js'
import { NSM_IOCTL_MAGIC, NSM_IOCTL_REQUEST, NSM_MESSAGE_SIZE, NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE } from './nsmConstants.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nsm-device-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}
function thrown(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('expected a throw')
}

describe('the ioctl request number', () => {
  it('_IOWR(0x0A, 0, struct nsm_message) computed from the _IOC formula is the documented 0xC0200A00', () => {
    const computed = ioctlRequestNumber({ direction: 'readWrite', type: NSM_IOCTL_MAGIC, number: 0, size: NSM_MESSAGE_SIZE })
    expect(computed).toBe(0xc020_0a00)
    expect(NSM_IOCTL_REQUEST).toBe(computed)
    // dir 3 (read|write) << 30, size 32 << 16, type 0x0A << 8, nr 0.
    expect(computed).toBe(3 * 2 ** 30 + 32 * 2 ** 16 + 0x0a * 2 ** 8 + 0)
  })

  it('agrees with well-known Linux ioctl numbers (x86_64 and arm64 values)', () => {
    // FS_IOC_GETFLAGS = _IOR('f', 1, long), 8-byte long on LP64.
    expect(ioctlRequestNumber({ direction: 'read', type: 0x66, number: 1, size: 8 })).toBe(0x8008_6601)
    // TUNSETIFF = _IOW('T', 202, int).
    expect(ioctlRequestNumber({ direction: 'write', type: 0x54, number: 202, size: 4 })).toBe(0x4004_54ca)
    // VHOST_SET_OWNER = _IO(0xAF, 0x01).
    expect(ioctlRequestNumber({ direction: 'none', type: 0xaf, number: 1, size: 0 })).toBe(0xaf01)
  })

  it('rejects fields that do not fit their bits', () => {
    expect(() => ioctlRequestNumber({ direction: 'readWrite', type: 256, number: 0, size: 32 })).toThrow(RangeError)
    expect(() => ioctlRequestNumber({ direction: 'readWrite', type: 1, number: -1, size: 32 })).toThrow(RangeError)
    expect(() => ioctlRequestNumber({ direction: 'readWrite', type: 1, number: 0, size: 0x4000 })).toThrow(RangeError)
    expect(() => ioctlRequestNumber({ direction: 'sideways' as 'read', type: 1, number: 0, size: 1 })).toThrow(RangeError)
  })
})

describe('the struct nsm_message layout', () => {
  // The two Nitro targets are LP64 Linux: pointers and size_t are 8 bytes with 8-byte alignment, so
  // struct iovec { void *iov_base; size_t iov_len; } is 16 bytes and the message 32, with no padding.
  const abi = { x64: { pointer: 8, sizeT: 8 }, arm64: { pointer: 8, sizeT: 8 } } as const
  const layout = ({ pointer, sizeT }: { pointer: number; sizeT: number }) => {
    const align = (offset: number, to: number) => Math.ceil(offset / to) * to
    const lenOffset = align(pointer, sizeT)
    const iovecAlign = Math.max(pointer, sizeT)
    const iovecSize = align(lenOffset + sizeT, iovecAlign)
    return { iovecSize, lenOffset, responseOffset: iovecSize, messageSize: 2 * iovecSize }
  }

  it.each(Object.entries(abi))('on %s: iovec 16 bytes (length at 8), message 32 bytes (response at 16)', (_, sizes) => {
    expect(layout(sizes)).toEqual({ iovecSize: 16, lenOffset: 8, responseOffset: 16, messageSize: NSM_MESSAGE_SIZE })
  })

  it('koffi computes the same layout on this host, for libc’s iovec and for the uapi nsm_raw', () => {
    const HostIovec = koffi.struct({ iov_base: 'void *', iov_len: 'size_t' })
    const HostMessage = koffi.struct({ request: HostIovec, response: HostIovec })
    const UapiIovec = koffi.struct({ addr: 'uint64_t', len: 'uint64_t' })
    const UapiMessage = koffi.struct({ request: UapiIovec, response: UapiIovec })
    const here = abi[process.arch as keyof typeof abi]
    if (here === undefined) {
      console.warn(`[nsm layout] host arch ${process.arch} is not a Nitro target; checking koffi against the LP64 model anyway`)
    }
    const expected = layout(here ?? abi.x64)
    expect(koffi.sizeof(HostIovec)).toBe(expected.iovecSize)
    expect(koffi.offsetof(HostIovec, 'iov_len')).toBe(expected.lenOffset)
    expect(koffi.sizeof(HostMessage)).toBe(expected.messageSize)
    expect(koffi.offsetof(HostMessage, 'response')).toBe(expected.responseOffset)
    expect(koffi.sizeof(UapiMessage)).toBe(koffi.sizeof(HostMessage))
    expect(koffi.offsetof(UapiMessage, 'response')).toBe(koffi.offsetof(HostMessage, 'response'))
    expect(koffi.offsetof(UapiIovec, 'len')).toBe(koffi.offsetof(HostIovec, 'iov_len'))
  })
})

describe.runIf(process.platform === 'linux')('the libc binding (real system calls)', () => {
  it('a missing device fails with a message that says this is not an enclave', async () => {
    const e = await rejection(createNsmDeviceTransport({ devicePath: join(dir, 'nsm') }))
    expect(e).toBeInstanceOf(AttestationError)
    expect((e as AttestationError).shortMessage.replace(dir, '<dir>')).toMatchInlineSnapshot(
      `"attestation failed: cannot open the NSM device <dir>/nsm: it does not exist: this process is not running inside a Nitro Enclave"`,
    )
  })

  it('an ioctl failure becomes an error naming the errno (ENOTTY from /dev/null)', async () => {
    const device = await createNsmDeviceTransport({ devicePath: '/dev/null' })
    try {
      expect(thrown(() => device.request(Uint8Array.of(0x69, 0x47)))).toMatchInlineSnapshot(
        `[AttestationError: attestation failed: the NSM ioctl on /dev/null failed with ENOTTY (errno 25)]`,
      )
    } finally {
      device.close()
    }
  })

  it('the variadic ioctl passes the message by address and sees what the kernel writes back (FIONREAD)', async () => {
    const sys = await libcSystemCalls()
    const file = join(dir, 'twelve-bytes')
    await writeFile(file, 'hello world!')
    const fd = sys.open(file)
    expect(fd).toBeGreaterThanOrEqual(0)
    try {
      const message = new Uint8Array(NSM_MESSAGE_SIZE).fill(0xff)
      // FIONREAD = 0x541B on x86_64 and arm64: the kernel stores an int (bytes left to read) at the address.
      expect(sys.ioctl(fd, 0x541b, message)).toBe(0)
      expect(new DataView(message.buffer).getInt32(0, true)).toBe(12)
    } finally {
      sys.close(fd)
    }
  })

  it('allocates native memory whose address and view agree', async () => {
    const sys = await libcSystemCalls()
    const buffer = sys.allocate(16)
    try {
      buffer.bytes.set([1, 2, 3])
      expect(new Uint8Array(koffi.view(buffer.address, 3))).toEqual(Uint8Array.of(1, 2, 3))
    } finally {
      buffer.free()
    }
    expect(sys.errnoName(koffi.os.errno.ENOENT!)).toBe('ENOENT')
    expect(sys.errnoName(-7)).toBe('errno -7')
  })
})

/**
 * A fake /dev/nsm at the system-call level: it reads the request through the addresses in the message,
 * as the driver does, writes a response into the response buffer and shrinks the response length.
 */
function fakeDevice(behaviour: { reply?: (request: Uint8Array) => Uint8Array; errno?: number; reportLength?: (written: number) => bigint } = {}) {
  const memory = new Map<bigint, Uint8Array>()
  let next = 0x1000n
  const seen: { request?: Uint8Array; fdClosed?: boolean; requestNumber?: number } = {}
  let lastErrno = 0
  const sys: NsmSystemCalls = {
    open(path) {
      if (path === '/dev/nsm') return 7
      lastErrno = 2
      return -1
    },
    ioctl(fd, request, message) {
      expect(fd).toBe(7)
      seen.requestNumber = request
      if (behaviour.errno !== undefined) {
        lastErrno = behaviour.errno
        return -1
      }
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength)
      const req = memory.get(view.getBigUint64(0, true))!
      const reqLen = Number(view.getBigUint64(8, true))
      const resp = memory.get(view.getBigUint64(16, true))!
      const capacity = Number(view.getBigUint64(24, true))
      expect(capacity).toBe(resp.length)
      seen.request = req.slice(0, reqLen)
      const reply = (behaviour.reply ?? (() => Uint8Array.of(0xa0)))(seen.request)
      resp.set(reply.subarray(0, capacity))
      view.setBigUint64(24, behaviour.reportLength?.(reply.length) ?? BigInt(Math.min(reply.length, capacity)), true)
      return 0
    },
    close: () => {
      seen.fdClosed = true
      return 0
    },
    errno: () => lastErrno,
    allocate(size) {
      const address = next
      next += 0x10000n
      const bytes = new Uint8Array(size)
      memory.set(address, bytes)
      return { address, bytes, free: () => memory.delete(address) }
    },
    errnoName: (n) => ({ 1: 'EPERM', 2: 'ENOENT', 90: 'EMSGSIZE', 16: 'EBUSY' })[n] ?? `errno ${n}`,
  }
  return { sys, seen, memory }
}

describe('createNsmDeviceTransport with a fake device', () => {
  it('sends the request through the message and returns exactly the bytes the driver reported', async () => {
    const { sys, seen, memory } = fakeDevice({ reply: () => Uint8Array.of(0xa1, 0x69, 1, 2, 3) })
    const device = await createNsmDeviceTransport({ systemCalls: sys })
    const request = Uint8Array.of(0x69, 0x47, 0x65, 0x74)
    expect(device.request(request)).toEqual(Uint8Array.of(0xa1, 0x69, 1, 2, 3))
    expect(seen.request).toEqual(request)
    expect(seen.requestNumber).toBe(0xc020_0a00)
    // Both native buffers are zeroed after the call.
    for (const buffer of memory.values()) expect(buffer.every((b) => b === 0)).toBe(true)
    expect([...memory.values()].map((b) => b.length).sort((a, b) => a - b)).toEqual([NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE])
    device.close()
    device.close()
    expect(seen.fdClosed).toBe(true)
    expect(memory.size).toBe(0)
    expect(thrown(() => device.request(request))).toMatchInlineSnapshot(`[AttestationError: attestation failed: the NSM device /dev/nsm is closed]`)
  })

  it('refuses a response length larger than the buffer it offered', async () => {
    const { sys } = fakeDevice({ reportLength: () => BigInt(NSM_RESPONSE_MAX_SIZE + 1) })
    const device = await createNsmDeviceTransport({ systemCalls: sys })
    expect(thrown(() => device.request(Uint8Array.of(0x69)))).toMatchInlineSnapshot(
      `[AttestationError: attestation failed: the NSM driver reported a 12289-byte response, more than the 12288-byte buffer]`,
    )
  })

  it('refuses an empty response', async () => {
    const { sys } = fakeDevice({ reportLength: () => 0n })
    const device = await createNsmDeviceTransport({ systemCalls: sys })
    expect(thrown(() => device.request(Uint8Array.of(0x69)))).toMatchInlineSnapshot(`[AttestationError: attestation failed: the NSM driver returned an empty response]`)
  })

  it('maps EMSGSIZE to InputTooLarge, as the AWS library does, and other errnos to their name', async () => {
    const tooLarge = await createNsmDeviceTransport({ systemCalls: fakeDevice({ errno: 90 }).sys })
    const e = thrown(() => tooLarge.request(Uint8Array.of(0x69)))
    expect(e).toBeInstanceOf(NsmError)
    expect((e as NsmError).nsmErrorCode).toBe('InputTooLarge')
    const busy = await createNsmDeviceTransport({ systemCalls: fakeDevice({ errno: 16 }).sys })
    expect(thrown(() => busy.request(Uint8Array.of(0x69)))).toMatchInlineSnapshot(`[AttestationError: attestation failed: the NSM ioctl on /dev/nsm failed with EBUSY (errno 16)]`)
    const denied = await createNsmDeviceTransport({ systemCalls: fakeDevice({ errno: 1 }).sys })
    expect(thrown(() => denied.request(Uint8Array.of(0x69)))).toMatchInlineSnapshot(
      `[AttestationError: attestation failed: the NSM ioctl on /dev/nsm failed with EPERM (errno 1): the raw NSM request needs CAP_SYS_ADMIN (run the runtime as root in the enclave)]`,
    )
  })

  it('refuses requests the driver would refuse, before the ioctl', async () => {
    const { sys, seen } = fakeDevice()
    const device = await createNsmDeviceTransport({ systemCalls: sys })
    expect((thrown(() => device.request(new Uint8Array(NSM_REQUEST_MAX_SIZE + 1))) as NsmError).nsmErrorCode).toBe('InputTooLarge')
    expect(thrown(() => device.request(new Uint8Array(0)))).toBeInstanceOf(InvalidArgumentError)
    expect(thrown(() => device.request('GetRandom' as unknown as Uint8Array))).toBeInstanceOf(InvalidArgumentError)
    expect(seen.requestNumber).toBeUndefined()
  })

  it('checks the device path', async () => {
    expect(await rejection(createNsmDeviceTransport({ devicePath: 'dev/nsm' }))).toBeInstanceOf(InvalidArgumentError)
    const e = await rejection(createNsmDeviceTransport({ devicePath: '/dev/nsm-missing', systemCalls: fakeDevice().sys }))
    expect((e as AttestationError).shortMessage).toBe(
      'attestation failed: cannot open the NSM device /dev/nsm-missing: it does not exist: this process is not running inside a Nitro Enclave',
    )
  })
})
