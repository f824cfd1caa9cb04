import { UnavailableError } from '@enclave-custody/sdk'
import { fileSystemCause } from '@enclave-custody/sdk/server'

/**
 * A failed write of the data directory as the caller should see it: an `UnavailableError` naming the cause and
 * its errno code (`cannot store the key record: no space left on device (ENOSPC)`) — no path, no stack, no
 * data; the fs error stays as `cause` for the logs. Anything that is not an fs error (no errno `code`) is
 * returned unchanged.
 *
 * @param e - what the write threw
 * @param what - what was being written, for the message ("the key record")
 */
export function storageWriteError(e: unknown, what: string): unknown {
  const fs = fileSystemCause(e)
  if (!fs) return e
  return new UnavailableError({ reason: `cannot store ${what}: ${fs.cause} (${fs.code})`, cause: e })
}
