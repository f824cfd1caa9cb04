import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AttestationError, InvalidArgumentError, verifyAttestationDocument } from '@enclave-custody/sdk'
import { Decoder } from 'cbor-x'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { computeRuntimeMeasurement } from './computeRuntimeMeasurement.js'
import { createSoftwareNsmCa, loadOrCreateSoftwareNsmCa, SOFTWARE_NSM_CA_FILE, SOFTWARE_NSM_ROOT_CERT_FILE } from './createSoftwareNsmCa.js'
import { createSoftwareNsm, type SoftwareNsm } from './softwareNsm.js'

/** An independent CBOR decoder to cross-check the exact wire shape. */
const cbor = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0])

let dataDir: string
let nsm: SoftwareNsm
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'software-nsm-'))
  nsm = await createSoftwareNsm()
})
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true })
})

describe('createSoftwareNsm', () => {
  it('issues documents that verify with its root and not with the AWS root', async () => {
    const publicKey = Uint8Array.from({ length: 294 }, (_, i) => i & 0xff)
    const userData = new TextEncoder().encode('hello')
    const nonce = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
    const doc = await nsm.attest({ publicKey, userData, nonce })
    const result = verifyAttestationDocument(doc, { roots: [nsm.rootCertificatePem], nonce, expectedPcrs: { 0: nsm.pcrs[0]! }, maxAgeMs: 60_000 })
    expect(result.moduleId).toBe(nsm.moduleId)
    expect(result.digest).toBe('SHA384')
    expect(result.publicKey).toEqual(publicKey)
    expect(result.userData).toEqual(userData)
    expect(result.nonce).toEqual(nonce)
    expect(Math.abs(result.timestamp.getTime() - Date.now())).toBeLessThan(10_000)
    expect(result.pcrs).toEqual(nsm.pcrs)
    expect(result.cabundle).toHaveLength(2)

    const error = (() => {
      try {
        verifyAttestationDocument(doc)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(AttestationError)
    expect((error as AttestationError).shortMessage).toBe('attestation failed: cabundle[0] is not a trusted root certificate')
  })

  it('uses the exact AWS wire shape: untagged COSE_Sign1, {1: -35}, field order, nulls, 16 PCRs of 48 bytes', async () => {
    const doc = await nsm.attest({})
    expect(doc[0]).toBe(0x84)
    const [protectedHeader, unprotected, payload, signature] = cbor.decode(doc) as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array]
    expect(Buffer.from(protectedHeader).toString('hex')).toBe('a1013822')
    expect(unprotected).toEqual(new Map())
    expect(signature).toHaveLength(96)
    const fields = cbor.decode(payload) as Map<string, unknown>
    expect([...fields.keys()]).toEqual(['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce'])
    expect(fields.get('module_id')).toMatch(/^i-0[0-9a-f]{16}-enc[0-9a-f]{16}$/)
    expect(fields.get('digest')).toBe('SHA384')
    expect(Number(fields.get('timestamp'))).toBeGreaterThan(1_700_000_000_000)
    const pcrs = fields.get('pcrs') as Map<number, Uint8Array>
    expect([...pcrs.keys()]).toEqual(Array.from({ length: 16 }, (_, i) => i))
    for (const value of pcrs.values()) expect(value).toHaveLength(48)
    expect(fields.get('public_key')).toBeNull()
    expect(fields.get('user_data')).toBeNull()
    expect(fields.get('nonce')).toBeNull()
    const verified = verifyAttestationDocument(doc, { roots: [nsm.rootCertificatePem] })
    expect(verified.publicKey).toBeUndefined()
    expect(verified.nonce).toBeUndefined()
  })

  it('defaults PCR0 to the runtime measurement, derives PCR1/PCR2 from it, zeroes the rest', async () => {
    const measurement = await computeRuntimeMeasurement()
    expect(nsm.pcrs[0]).toBe(measurement.hex)
    expect(nsm.pcrs[1]).toMatch(/^[0-9a-f]{96}$/)
    expect(nsm.pcrs[2]).toMatch(/^[0-9a-f]{96}$/)
    expect(new Set([nsm.pcrs[0], nsm.pcrs[1], nsm.pcrs[2]]).size).toBe(3)
    for (let i = 3; i < 16; i++) expect(nsm.pcrs[i]).toBe('00'.repeat(48))
    const other = await createSoftwareNsm({ pcrs: { 0: 'ab'.repeat(48) } })
    expect(other.pcrs[0]).toBe('ab'.repeat(48))
    expect(other.pcrs[1]).not.toBe(nsm.pcrs[1])
    const again = await createSoftwareNsm({ pcrs: { 0: `0x${'AB'.repeat(48)}`, 8: new Uint8Array(48).fill(8) } })
    expect(again.pcrs[1]).toBe(other.pcrs[1])
    expect(again.pcrs[2]).toBe(other.pcrs[2])
    expect(again.pcrs[8]).toBe('08'.repeat(48))
  })

  it('describes its PCRs', async () => {
    expect(nsm.describePcr(0)).toMatch(/^PCR0: SHA-384 of the enclave-runtime code \(\d+ files under .+\)$/)
    expect(nsm.describePcr(1)).toMatch(/^PCR1: SHA-384\("enclave-custody\/software-nsm\/PCR1" ‖ PCR0\)/)
    expect(nsm.describePcr(2)).toMatch(/^PCR2: /)
    expect(nsm.describePcr(5)).toBe('PCR5: zero (not used by the software NSM)')
    expect(nsm.describePcr(16)).toBe('PCR16: not present (the software NSM has PCR0..PCR15)')
    const configured = await createSoftwareNsm({ pcrs: { 0: new Uint8Array(48) } })
    expect(configured.describePcr(0)).toBe('PCR0: set by configuration')
  })

  it('keeps trust across restarts with persisted CA material, and not across CAs', async () => {
    const ca = createSoftwareNsmCa()
    const first = await createSoftwareNsm({ ca, pcrs: { 0: new Uint8Array(48) } })
    const second = await createSoftwareNsm({ ca, pcrs: { 0: new Uint8Array(48) } })
    expect(second.rootCertificatePem).toBe(first.rootCertificatePem)
    const doc = await second.attest({ userData: new Uint8Array(1) })
    expect(() => verifyAttestationDocument(doc, { roots: [first.rootCertificatePem] })).not.toThrow()
    const stranger = await createSoftwareNsm({ pcrs: { 0: new Uint8Array(48) } })
    expect(() => verifyAttestationDocument(doc, { roots: [stranger.rootCertificatePem] })).toThrow(AttestationError)
  })

  it('loads or creates its CA in a data directory', async () => {
    const a = await createSoftwareNsm({ ca: { dataDir }, pcrs: { 0: new Uint8Array(48) } })
    const b = await createSoftwareNsm({ ca: { dataDir }, pcrs: { 0: new Uint8Array(48) } })
    expect(b.rootCertificatePem).toBe(a.rootCertificatePem)
    expect((await stat(join(dataDir, SOFTWARE_NSM_CA_FILE))).mode & 0o777).toBe(0o600)
    expect(await readFile(join(dataDir, SOFTWARE_NSM_ROOT_CERT_FILE), 'utf8')).toBe(a.rootCertificatePem)
    expect(await loadOrCreateSoftwareNsmCa(dataDir)).toEqual(JSON.parse(await readFile(join(dataDir, SOFTWARE_NSM_CA_FILE), 'utf8')))
    const doc = await b.attest({})
    expect(verifyAttestationDocument(doc, { roots: [a.rootCertificatePem] }).moduleId).toBe(b.moduleId)
  })

  it('rejects corrupt persisted CA material', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'software-nsm-bad-'))
    try {
      const ca = createSoftwareNsmCa()
      const other = createSoftwareNsmCa()
      await writeFile(join(dir, SOFTWARE_NSM_CA_FILE), JSON.stringify({ rootKeyPem: other.rootKeyPem, rootCertPem: ca.rootCertPem }))
      await expect(loadOrCreateSoftwareNsmCa(dir)).rejects.toThrow('"ca" rootKeyPem does not match rootCertPem')
      await writeFile(join(dir, SOFTWARE_NSM_CA_FILE), '{')
      await expect(loadOrCreateSoftwareNsmCa(dir)).rejects.toThrow(InvalidArgumentError)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('shapes its chain like the AWS PKI', async () => {
    const doc = await nsm.attest({})
    const { certificate, cabundle } = verifyAttestationDocument(doc, { roots: [nsm.rootCertificatePem] })
    const [root, intermediate] = cabundle.map((der) => new X509Certificate(der))
    const leaf = new X509Certificate(certificate)
    expect(root!.ca && intermediate!.ca).toBe(true)
    expect(leaf.ca).toBe(false)
    expect(leaf.subject).toContain(`CN=${nsm.moduleId}`)
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
    const lifetime = new Date(leaf.validTo).getTime() - Date.now()
    expect(lifetime).toBeGreaterThan(2 * 3600_000)
    expect(lifetime).toBeLessThanOrEqual(3 * 3600_000)
  })

  it('renews its leaf before it expires, and documents stay valid at their timestamps', async () => {
    let clock = Date.UTC(2030, 0, 1)
    const timed = await createSoftwareNsm({ now: () => clock, pcrs: { 0: new Uint8Array(48) } })
    const leafOf = async () => {
      const doc = await timed.attest({})
      return { doc, leaf: verifyAttestationDocument(doc, { roots: [timed.rootCertificatePem], now: new Date(clock) }).certificate }
    }
    const first = await leafOf()
    clock += 90 * 60_000
    expect((await leafOf()).leaf).toEqual(first.leaf)
    clock += 90 * 60_000 // 3 h after the first: less than an hour left on the first leaf
    const renewed = await leafOf()
    expect(renewed.leaf).not.toEqual(first.leaf)
    clock += 8 * 24 * 3600_000 // past the intermediate's lifetime
    const later = await leafOf()
    expect(verifyAttestationDocument(later.doc, { roots: [timed.rootCertificatePem], now: new Date(clock) }).cabundle[1]).not.toEqual(
      verifyAttestationDocument(first.doc, { roots: [timed.rootCertificatePem], now: new Date(Date.UTC(2030, 0, 1)) }).cabundle[1],
    )
  })

  it('lets the verifier reject documents from the future under maxAgeMs', async () => {
    const t = Date.UTC(2031, 5, 1)
    const timed = await createSoftwareNsm({ now: () => t, pcrs: { 0: new Uint8Array(48) } })
    const doc = await timed.attest({})
    const verify = (now: number) => verifyAttestationDocument(doc, { roots: [timed.rootCertificatePem], now: new Date(now), maxAgeMs: 300_000 })
    expect(() => verify(t + 299_000)).not.toThrow()
    expect(() => verify(t + 301_000)).toThrow('the document is older than 300000 ms')
    expect(() => verify(t - 120_000)).toThrow('the document timestamp is in the future')
  })

  it.each([
    ['an oversized public key', { publicKey: new Uint8Array(1025) }, '"publicKey" must be a Uint8Array of 1..1024 bytes'],
    ['an empty public key', { publicKey: new Uint8Array(0) }, '"publicKey" must be a Uint8Array of 1..1024 bytes'],
    ['oversized user data', { userData: new Uint8Array(513) }, '"userData" must be a Uint8Array of 0..512 bytes'],
    ['a hex nonce', { nonce: 'abcd' }, '"nonce" must be a Uint8Array of 0..512 bytes'],
    ['an unknown field', { pcr: 1 }, '"request" has unknown field "pcr"'],
  ])('refuses to attest %s', async (_name, request, message) => {
    await expect(nsm.attest(request as never)).rejects.toThrow(InvalidArgumentError)
    await expect(nsm.attest(request as never)).rejects.toThrow(message)
  })

  it.each([
    ['a PCR index 16', { pcrs: { 16: new Uint8Array(48) } }, '"pcrs.16" must be a PCR index 0..15'],
    ['a 32-byte PCR', { pcrs: { 3: new Uint8Array(32) } }, '"pcrs.3" must be 48 bytes (Uint8Array or 96 hex digits)'],
    ['a module id with spaces', { moduleId: 'i-1 enc' }, '"moduleId" must be 1..128 characters of [A-Za-z0-9.-]'],
    ['a CA without key', { ca: { rootCertPem: 'x' } }, '"ca.rootKeyPem" must be a PKCS#8 PEM string'],
    ['a CA given as a string', { ca: 'pem' }, '"ca" must be { rootKeyPem, rootCertPem }'],
    ['an empty dataDir', { ca: { dataDir: '' } }, '"ca.dataDir" must be a directory path'],
  ])('rejects %s', async (_name, parameters, message) => {
    await expect(createSoftwareNsm(parameters as never)).rejects.toThrow(message)
  })
})
