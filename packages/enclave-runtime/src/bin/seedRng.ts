#!/usr/bin/env node
/**
 * custody-seed-rng (dist/bin/seed-rng.js): seed the kernel's RNG from the Nitro Secure Module once, at
 * enclave boot. The entrypoint runs it before anything else and starts the runtime only when it exits 0:
 * Node seeds OpenSSL's generator from the kernel when a process starts, so the runtime — whose first act
 * is to generate the RSA key KMS encrypts to — must start after the kernel has the NSM's entropy, not seed
 * it itself.
 *
 * One JSON line on stderr (counts only), exit 0; or exit 1 with one JSON line naming the failure (no NSM:
 * not inside an enclave; EPERM: not root). Environment, for tests only: CUSTODY_NSM_DEVICE [/dev/nsm],
 * CUSTODY_RANDOM_DEVICE [/dev/random].
 *
 * Unverified: a run inside a real enclave (the calls are tested against fakes; see seedKernelRng).
 */
import { isCustodyError } from '@enclave-custody/sdk'
import { createNsmAttestationProvider } from '../attestation/nsm/createNsmAttestationProvider.js'
import { seedKernelRng } from '../attestation/nsm/seedKernelRng.js'

const line = (level: 'info' | 'error', msg: string, fields: Record<string, unknown>) =>
  process.stderr.write(`${JSON.stringify({ level, time: Date.now(), svc: 'seed-rng', msg, ...fields })}\n`)

try {
  const nsm = await createNsmAttestationProvider(process.env.CUSTODY_NSM_DEVICE ? { devicePath: process.env.CUSTODY_NSM_DEVICE } : {})
  try {
    const seeded = await seedKernelRng({ source: nsm, ...(process.env.CUSTODY_RANDOM_DEVICE ? { devicePath: process.env.CUSTODY_RANDOM_DEVICE } : {}) })
    line('info', 'kernel RNG seeded from the NSM', seeded)
  } finally {
    nsm.close()
  }
  process.exitCode = 0
} catch (e) {
  // Custody errors carry fixed text naming the device and errno, never random bytes.
  line('error', 'seeding the kernel RNG from the NSM failed', { errName: (e as Error)?.name, error: isCustodyError(e) ? e.shortMessage : 'unexpected error' })
  process.exitCode = 1
}
