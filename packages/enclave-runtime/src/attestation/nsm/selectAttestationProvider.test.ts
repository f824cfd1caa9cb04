import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AttestationError, InvalidArgumentError } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Logger } from '@enclave-custody/sdk/server'
import type { NsmAttestationProvider } from './createNsmAttestationProvider.js'
import { selectAttestationProvider } from './selectAttestationProvider.js'

let dir: string
let missing: string
let present: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'select-attestation-'))
  missing = join(dir, 'nsm')
  // A regular file stands in for the device: it exists and opens, though its ioctl fails (ENOTTY).
  present = join(dir, 'fake-nsm')
  await writeFile(present, '')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function recordingLogger(): Logger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = []
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg })
  }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

const message = (e: unknown) => (e as AttestationError).shortMessage.replaceAll(dir, '<dir>')

describe('selectAttestationProvider', () => {
  it.runIf(process.platform === 'linux')('takes the NSM whenever the device exists, in either mode', async () => {
    for (const mode of ['production', 'development'] as const) {
      const provider = (await selectAttestationProvider({ mode, devicePath: present })) as NsmAttestationProvider
      expect(provider.kind).toBe('nsm')
      // The stand-in is not an NSM: the first request fails with the errno, not silently.
      await expect(provider.getRandom()).rejects.toThrow(/failed with ENOTTY/)
      provider.close()
    }
  })

  it('refuses the software NSM in production when there is no device', async () => {
    const e = await selectAttestationProvider({ mode: 'production', devicePath: missing }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(AttestationError)
    expect(message(e)).toMatchInlineSnapshot(
      `"attestation failed: there is no NSM device at <dir>/nsm (not inside a Nitro Enclave), and the software NSM is refused in production mode: run inside a Nitro Enclave, or use development mode (allowSoftwareAttestation only for a staging stack)"`,
    )
  })

  it('refuses an explicit software request in production too', async () => {
    const e = await selectAttestationProvider({ mode: 'production', attestation: 'software', devicePath: missing }).catch((x: unknown) => x)
    expect(message(e)).toMatch(/^attestation failed: the software NSM was requested, and the software NSM is refused in production mode/)
  })

  it('uses the software NSM in development, and in production only with the explicit flag (with a warning)', async () => {
    const dev = recordingLogger()
    expect((await selectAttestationProvider({ mode: 'development', devicePath: missing, logger: dev, softwareNsm: { moduleId: 'i-dev-enc1' } })).kind).toBe('software')
    expect(dev.lines.map((l) => l.level)).toEqual(['info'])

    const prod = recordingLogger()
    const provider = await selectAttestationProvider({ mode: 'production', allowSoftwareAttestation: true, devicePath: missing, logger: prod })
    expect(provider.kind).toBe('software')
    expect(prod.lines).toEqual([
      { level: 'warn', obj: { attestation: 'software' }, msg: 'software attestation in production mode: its documents prove nothing about isolation' },
    ])
  })

  it('attestation "nsm" requires the device, even in development', async () => {
    const e = await selectAttestationProvider({ mode: 'development', attestation: 'nsm', devicePath: missing }).catch((x: unknown) => x)
    expect(message(e)).toBe('attestation failed: the NSM device <dir>/nsm does not exist: this process is not running inside a Nitro Enclave')
  })

  it.runIf(process.platform === 'linux')('attestation "software" in development takes the software NSM even where a device exists', async () => {
    expect((await selectAttestationProvider({ mode: 'development', attestation: 'software', devicePath: present })).kind).toBe('software')
  })

  it('checks its options', async () => {
    const bad: unknown[] = [
      null,
      {},
      { mode: 'prod' },
      { mode: 'production', attestation: 'tpm' },
      { mode: 'production', allowSoftwareAttestation: 'yes' },
      { mode: 'production', devicePath: 'dev/nsm' },
    ]
    for (const parameters of bad) {
      await expect(selectAttestationProvider(parameters as Parameters<typeof selectAttestationProvider>[0])).rejects.toBeInstanceOf(InvalidArgumentError)
    }
  })
})
