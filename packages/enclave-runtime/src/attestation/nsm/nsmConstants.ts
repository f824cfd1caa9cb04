/**
 * Facts of the Nitro Secure Module device interface, from the Linux uapi header `linux/nsm.h` and the
 * driver in aws-nitro-enclaves-nsm-api (`src/driver/mod.rs`). Each is checked by a test.
 */

/** Where the NSM driver exposes the device inside an enclave. */
export const NSM_DEVICE_PATH = '/dev/nsm'

/** The ioctl "type" (magic) byte of the NSM driver: `NSM_MAGIC`. */
export const NSM_IOCTL_MAGIC = 0x0a

/** Largest CBOR request the driver accepts: `NSM_REQUEST_MAX_SIZE` (4 KiB). */
export const NSM_REQUEST_MAX_SIZE = 0x1000

/** Largest CBOR response the driver returns: `NSM_RESPONSE_MAX_SIZE` (12 KiB). */
export const NSM_RESPONSE_MAX_SIZE = 0x3000

/**
 * `sizeof(struct nsm_message)` (`struct nsm_raw` in mainline Linux): two `{ address, length }` pairs of
 * 8-byte fields, the request then the response, on both 64-bit targets of Nitro (x86_64 and aarch64).
 */
export const NSM_MESSAGE_SIZE = 32

/** `_IOWR(NSM_MAGIC, 0, struct nsm_message)` = `0xC0200A00`: the one ioctl of the raw NSM interface. */
export const NSM_IOCTL_REQUEST = 0xc020_0a00
