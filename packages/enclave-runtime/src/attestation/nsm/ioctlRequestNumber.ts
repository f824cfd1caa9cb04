/** Options of {@link ioctlRequestNumber}. */
export type IoctlRequestNumberParameters = {
  /** `none` = `_IO`, `write` = `_IOW`, `read` = `_IOR`, `readWrite` = `_IOWR` (directions as seen from user space). */
  direction: 'none' | 'write' | 'read' | 'readWrite'
  /** The driver's magic byte (0..255). */
  type: number
  /** The command number within the driver (0..255). */
  number: number
  /** `sizeof` the argument structure (0..16383). */
  size: number
}

const DIRECTION = { none: 0, write: 1, read: 2, readWrite: 3 } as const

/**
 * Compute an ioctl request number the way Linux's generic `_IOC(dir, type, nr, size)` macro does
 * (`include/uapi/asm-generic/ioctl.h`: 8 bits of number, 8 of type, 14 of size, 2 of direction), which is
 * the encoding of both x86_64 and arm64. (Alpha, MIPS, PowerPC and SPARC use other layouts.)
 *
 * @param parameters - Direction, type, number and argument size.
 * @returns The request number, an unsigned 32-bit integer.
 * @throws RangeError when a field does not fit its bits.
 * @example
 * import { ioctlRequestNumber } from './ioctlRequestNumber.js'
 * ioctlRequestNumber({ direction: 'readWrite', type: 0x0a, number: 0, size: 32 }) // 0xc0200a00
 *
 * @internal Used to check NSM_IOCTL_REQUEST; not part of the package's public surface.
 */
export function ioctlRequestNumber({ direction, type, number, size }: IoctlRequestNumberParameters): number {
  const dir = DIRECTION[direction]
  if (dir === undefined) throw new RangeError('ioctlRequestNumber: unknown direction')
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError('ioctlRequestNumber: type must be 0..255')
  if (!Number.isInteger(number) || number < 0 || number > 0xff) throw new RangeError('ioctlRequestNumber: number must be 0..255')
  if (!Number.isInteger(size) || size < 0 || size > 0x3fff) throw new RangeError('ioctlRequestNumber: size must be 0..16383')
  // `>>> 0` keeps the result unsigned once the direction occupies bit 31.
  return ((dir << 30) | (size << 16) | (type << 8) | number) >>> 0
}
