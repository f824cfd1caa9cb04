import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AttestationError, InvalidArgumentError, verifyAttestationDocument } from '@enclave-custody/sdk'
import { Decoder, Encoder } from 'cbor-x'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSoftwareNsm, type SoftwareNsm } from '../softwareNsm.js'
import { createNsmAttestationProvider } from './createNsmAttestationProvider.js'
import { NsmError } from './NsmError.js'

/** cbor-x, independent of the encoder and decoder under test. */
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0])
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false } as ConstructorParameters<typeof Encoder>[0])
const encode = (value: unknown) => new Uint8Array(encoder.encode(value))
const bytesOf = (v: unknown) => (v === null ? undefined : new Uint8Array(v as Uint8Array))

let software: SoftwareNsm
let dir: string
beforeAll(async () => {
  software = await createSoftwareNsm()
  dir = await mkdtemp(join(tmpdir(), 'nsm-provider-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/**
 * A fake Nitro Secure Module speaking the NSM CBOR protocol: it decodes each request with cbor-x and
 * answers like the device (documents from the software NSM, 32 PCRs with PCR0..4 and 8 locked, 256
 * random bytes, `InvalidIndex` beyond PCR31).
 */
function fakeNsm() {
  const requests: unknown[] = []
  const transport = (request: Uint8Array): Uint8Array => {
    const decoded = decoder.decode(Buffer.from(request)) as string | Map<string, Map<string, unknown>>
    requests.push(decoded)
    if (decoded === 'GetRandom') return encode(new Map([['GetRandom', new Map([['random', new Uint8Array(256).fill(7)]])]]))
    const [variant, fields] = [...(decoded as Map<string, Map<string, unknown>>)][0]!
    if (variant === 'DescribePCR') {
      const index = fields.get('index') as number
      if (index > 31) return encode(new Map([['Error', 'InvalidIndex']]))
      return encode(new Map([['DescribePCR', new Map<string, unknown>([['lock', [0, 1, 2, 3, 4, 8].includes(index)], ['data', new Uint8Array(48).fill(index)]])]]))
    }
    throw new Error(`the fake NSM does not answer ${String(variant)}`)
  }
  return { transport, requests }
}

describe('createNsmAttestationProvider', () => {
  it('attest sends the fields as NSM Attestation and returns the document, which verifies', async () => {
    const requests: unknown[] = []
    const publicKey = Uint8Array.from({ length: 294 }, (_, i) => i & 0xff)
    const nonce = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
    // The software NSM signs the document in advance; the fake NSM hands it out for the request it expects.
    // (As a plain Uint8Array, which the provider returns: toEqual tells a Buffer from a Uint8Array.)
    const document = Uint8Array.from(await software.attest({ publicKey, nonce }))
    const nsm = await createNsmAttestationProvider({
      transport: (request) => {
        requests.push(decoder.decode(Buffer.from(request)))
        return encode(new Map([['Attestation', new Map([['document', document]])]]))
      },
    })
    expect(nsm.kind).toBe('nsm')
    const returned = await nsm.attest({ publicKey, nonce })
    expect(returned).toEqual(document)
    const fields = (requests[0] as Map<string, Map<string, unknown>>).get('Attestation')!
    expect(fields.get('user_data')).toBeNull()
    expect(bytesOf(fields.get('nonce'))).toEqual(nonce)
    expect(bytesOf(fields.get('public_key'))).toEqual(publicKey)
    const verified = verifyAttestationDocument(returned, { roots: [software.rootCertificatePem], nonce })
    expect(verified.publicKey).toEqual(publicKey)
  })

  it('describePcr reads a PCR and its lock; getRandom returns the NSM’s entropy', async () => {
    const { transport, requests } = fakeNsm()
    const nsm = await createNsmAttestationProvider({ transport })
    expect(await nsm.describePcr(0)).toEqual({ locked: true, value: new Uint8Array(48).fill(0) })
    expect(await nsm.describePcr(16)).toEqual({ locked: false, value: new Uint8Array(48).fill(16) })
    expect(await nsm.getRandom()).toEqual(new Uint8Array(256).fill(7))
    expect(requests).toEqual([new Map([['DescribePCR', new Map([['index', 0]])]]), new Map([['DescribePCR', new Map([['index', 16]])]]), 'GetRandom'])
  })

  it('turns an NSM error into an NsmError', async () => {
    const nsm = await createNsmAttestationProvider({ transport: fakeNsm().transport })
    const e = await nsm.describePcr(32).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(NsmError)
    expect((e as NsmError).nsmErrorCode).toBe('InvalidIndex')
    expect(e).toMatchInlineSnapshot(`[NsmError: attestation failed: NSM DescribePCR returned InvalidIndex: the PCR index is out of range]`)
  })

  it('wraps a failing transport with the cause, and passes custody errors through unchanged', async () => {
    const cause = new Error('device gone')
    const failing = await createNsmAttestationProvider({
      transport: () => {
        throw cause
      },
    })
    const e = (await failing.getRandom().catch((x: unknown) => x)) as AttestationError
    expect(e).toBeInstanceOf(AttestationError)
    expect(e.shortMessage).toBe('attestation failed: the NSM GetRandom request failed')
    expect(e.cause).toBe(cause)

    const own = new NsmError({ code: 'InputTooLarge', operation: 'ioctl' })
    const passing = await createNsmAttestationProvider({
      transport: () => {
        throw own
      },
    })
    expect(await passing.getRandom().catch((x: unknown) => x)).toBe(own)
  })

  it('refuses an oversized or missing response from the transport', async () => {
    const oversized = await createNsmAttestationProvider({ transport: () => new Uint8Array(0x3001) })
    expect(await oversized.getRandom().catch((x: unknown) => x)).toMatchInlineSnapshot(
      `[AttestationError: attestation failed: the NSM GetRandom response is 12289 bytes, more than the 12288 the driver can return]`,
    )
    const nothing = await createNsmAttestationProvider({ transport: (() => undefined) as unknown as (r: Uint8Array) => Uint8Array })
    expect(await nothing.getRandom().catch((x: unknown) => x)).toBeInstanceOf(AttestationError)
  })

  it('checks attest arguments before any device call', async () => {
    const { transport, requests } = fakeNsm()
    const nsm = await createNsmAttestationProvider({ transport })
    const bad: unknown[] = [
      null,
      'nonce',
      { nonce: 'abc' },
      { nonce: new Uint8Array(513) },
      { userData: [1, 2] },
      { publicKey: new Uint8Array(0) },
      { publicKey: new Uint8Array(1025) },
      { publicKey: new Uint8Array(4), extra: 1 },
      { public_key: new Uint8Array(4) },
    ]
    for (const request of bad) {
      await expect(nsm.attest(request as Parameters<typeof nsm.attest>[0])).rejects.toBeInstanceOf(InvalidArgumentError)
    }
    for (const index of [-1, 1.5, '0', 65536]) await expect(nsm.describePcr(index as number)).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(requests).toEqual([])
  })

  it('after close, every call fails and close is idempotent', async () => {
    const nsm = await createNsmAttestationProvider({ transport: fakeNsm().transport })
    nsm.close()
    nsm.close()
    await expect(nsm.getRandom()).rejects.toThrowErrorMatchingInlineSnapshot(`[AttestationError: attestation failed: the NSM provider is closed]`)
  })

  it('checks its own options', async () => {
    await expect(createNsmAttestationProvider(null as unknown as object)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(createNsmAttestationProvider({ transport: 'x' as unknown as () => Uint8Array })).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it.runIf(process.platform === 'linux')('fails at creation, clearly, when the device is missing', async () => {
    const e = (await createNsmAttestationProvider({ devicePath: join(dir, 'nsm') }).catch((x: unknown) => x)) as AttestationError
    expect(e).toBeInstanceOf(AttestationError)
    expect(e.shortMessage.replace(dir, '<dir>')).toBe(
      'attestation failed: cannot open the NSM device <dir>/nsm: it does not exist: this process is not running inside a Nitro Enclave',
    )
  })
})
