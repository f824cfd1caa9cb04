import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate } from '@peculiar/asn1-x509'
import { describe, expect, it } from 'vitest'
import { AttestationError, InvalidArgumentError, isCustodyError } from '../errors/CustodyError.js'
import { AWS_NITRO_ENCLAVES_ROOT_G1_PEM, AWS_NITRO_ENCLAVES_ROOT_G1_SHA256 } from './awsNitroRootCertificate.js'
import { verifyAttestationDocument } from './verifyAttestationDocument.js'
import { vectorsDir } from '../../../../test/vectors.js'

/** Real AWS attestation documents, in the repository (test/vectors/SOURCES.md §1): never skipped. */
const NITRO = join(vectorsDir, 'nitro')

type DecodedDocument = {
  file: string
  module_id: string
  timestamp_ms: number
  pcrs: Record<string, string>
  public_key_hex: string | null
  user_data_hex: string | null
  nonce_hex: string | null
  leafCertificate: { validFrom: string; validTo: string; sha256Fingerprint: string }
  cabundle: { sha256Fingerprint: string }[]
}

function loadDocuments(): { expected: DecodedDocument; bytes: Uint8Array }[] {
  const decoded = JSON.parse(readFileSync(join(NITRO, 'attestation-docs-decoded.json'), 'utf8')) as { documents: DecodedDocument[] }
  return decoded.documents.map((expected) => {
    const raw = readFileSync(join(NITRO, expected.file))
    const bytes = expected.file.endsWith('.b64') ? Buffer.from(raw.toString('utf8').trim(), 'base64') : raw
    return { expected, bytes: new Uint8Array(bytes) }
  })
}

const documents = loadDocuments()
const prod = documents.find((d) => d.expected.file.includes('prod'))
const at = (d: { expected: DecodedDocument }) => new Date(d.expected.timestamp_ms)
const hex = (b: Uint8Array | undefined) => (b === undefined ? null : Buffer.from(b).toString('hex'))

function attestationFailure(fn: () => unknown): AttestationError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(AttestationError)
    expect(isCustodyError(e, 'ATTESTATION_FAILED')).toBe(true)
    return e as AttestationError
  }
  throw new Error('expected an AttestationError')
}

/** Offsets of the payload and signature inside an untagged AWS COSE_Sign1. */
function layout(bytes: Uint8Array): { payloadStart: number; payloadEnd: number; signatureStart: number } {
  // 0x84, bstr(4) a1013822, map(0), bstr(payload: 0x59 len16), bstr(sig: 0x58 0x60)
  expect([...bytes.subarray(0, 7)]).toEqual([0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0])
  expect(bytes[7]).toBe(0x59)
  const length = (bytes[8]! << 8) | bytes[9]!
  const payloadStart = 10
  const payloadEnd = payloadStart + length
  expect([...bytes.subarray(payloadEnd, payloadEnd + 2)]).toEqual([0x58, 0x60])
  return { payloadStart, payloadEnd, signatureStart: payloadEnd + 2 }
}

/** Deterministic sample of positions in [start, end). */
function samplePositions(start: number, end: number, count: number, seed: number): number[] {
  const out = new Set<number>()
  let x = seed
  while (out.size < Math.min(count, end - start)) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out.add(start + (x % (end - start)))
  }
  return [...out]
}

describe('AWS Nitro Enclaves root certificate', () => {
  it('has the SHA-256 fingerprint published in SOURCES.md', () => {
    const root = new X509Certificate(AWS_NITRO_ENCLAVES_ROOT_G1_PEM)
    expect(root.fingerprint256).toBe(AWS_NITRO_ENCLAVES_ROOT_G1_SHA256)
    expect(AWS_NITRO_ENCLAVES_ROOT_G1_SHA256).toBe(
      '64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B',
    )
    expect(createHash('sha256').update(root.raw).digest('hex')).toBe('641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b')
    expect(root.subject).toBe('C=US\nO=Amazon\nOU=AWS\nCN=aws.nitro-enclaves')
  })

  it('is byte-identical to the vector copy', () => {
    const file = new X509Certificate(readFileSync(join(NITRO, 'aws-nitro-enclaves-root-g1.pem')))
    expect(Buffer.compare(file.raw, new X509Certificate(AWS_NITRO_ENCLAVES_ROOT_G1_PEM).raw)).toBe(0)
  })
})

describe('verifyAttestationDocument on real AWS documents', () => {
  it('loads three documents', () => {
    expect(documents).toHaveLength(3)
  })

  for (const doc of documents) {
    describe(doc.expected.file, () => {
      it('verifies at its own timestamp and returns the decoded fields', () => {
        const result = verifyAttestationDocument(doc.bytes, { now: at(doc) })
        const { expected } = doc
        expect(result.moduleId).toBe(expected.module_id)
        expect(result.timestamp.getTime()).toBe(expected.timestamp_ms)
        expect(result.digest).toBe('SHA384')
        expect(result.pcrs).toEqual(Object.fromEntries(Object.entries(expected.pcrs).map(([k, v]) => [Number(k), v])))
        expect(Object.keys(result.pcrs)).toHaveLength(16)
        expect(hex(result.publicKey)).toBe(expected.public_key_hex)
        expect(hex(result.userData)).toBe(expected.user_data_hex)
        expect(hex(result.nonce)).toBe(expected.nonce_hex)
        expect(new X509Certificate(result.certificate).fingerprint256).toBe(expected.leafCertificate.sha256Fingerprint)
        expect(result.cabundle.map((c) => new X509Certificate(c).fingerprint256)).toEqual(expected.cabundle.map((c) => c.sha256Fingerprint))
      })

      it('verifies as a tagged COSE_Sign1 (tag 18) too, and rejects other tags', () => {
        const tagged = Uint8Array.of(0xd2, ...doc.bytes)
        expect(verifyAttestationDocument(tagged, { now: at(doc) }).moduleId).toBe(doc.expected.module_id)
        const wrongTag = Uint8Array.of(0xd3, ...doc.bytes)
        expect(attestationFailure(() => verifyAttestationDocument(wrongTag, { now: at(doc) })).message).toMatch(/CBOR tag 19/)
      })

      it('rejects any single flipped byte in the header, payload or signature', () => {
        const { payloadStart, payloadEnd, signatureStart } = layout(doc.bytes)
        const positions = [
          ...Array.from({ length: payloadStart }, (_, i) => i),
          ...samplePositions(payloadStart, payloadEnd, 160, doc.expected.timestamp_ms % 1000),
          ...Array.from({ length: 96 }, (_, i) => signatureStart + i),
        ]
        for (const position of positions) {
          for (const mask of [0x01, 0x80]) {
            const tampered = doc.bytes.slice()
            tampered[position]! ^= mask
            expect(() => verifyAttestationDocument(tampered, { now: at(doc) }), `byte ${position} ^ ${mask}`).toThrow(AttestationError)
          }
        }
      })

      it('rejects a truncated or extended document', () => {
        for (const cut of [1, 2, 50, 97, doc.bytes.length - 1]) {
          attestationFailure(() => verifyAttestationDocument(doc.bytes.subarray(0, doc.bytes.length - cut), { now: at(doc) }))
        }
        const extended = Uint8Array.of(...doc.bytes, 0x00)
        expect(attestationFailure(() => verifyAttestationDocument(extended, { now: at(doc) })).message).toMatch(/trailing/)
      })

      it('rejects a root that is not cabundle[0]', () => {
        const intermediate = new X509Certificate(verifyAttestationDocument(doc.bytes, { now: at(doc) }).cabundle[1]!)
        const error = attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: at(doc), roots: [intermediate.toString()] }))
        expect(error.shortMessage).toBe('attestation failed: cabundle[0] is not a trusted root certificate')
      })

      it('rejects a clock outside the leaf validity, and the real current time', () => {
        const from = new Date(doc.expected.leafCertificate.validFrom)
        const to = new Date(doc.expected.leafCertificate.validTo)
        expect(() => verifyAttestationDocument(doc.bytes, { now: from })).not.toThrow()
        expect(() => verifyAttestationDocument(doc.bytes, { now: to })).not.toThrow()
        expect(attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: new Date(from.getTime() - 1000) })).message).toMatch(
          /certificate is not valid at/,
        )
        expect(attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: new Date(to.getTime() + 1000) })).message).toMatch(
          /certificate is not valid at/,
        )
        // Every certificate but the root expired long ago.
        expect(attestationFailure(() => verifyAttestationDocument(doc.bytes)).message).toMatch(/is not valid at/)
      })
    })
  }

  it('checks expectedPcrs', () => {
    const doc = prod!
    const pcr0 = doc.expected.pcrs['0']!
    const pcr8 = doc.expected.pcrs['8']!
    expect(verifyAttestationDocument(doc.bytes, { now: at(doc), expectedPcrs: { 0: pcr0, 8: `0x${pcr8.toUpperCase()}` } }).pcrs[0]).toBe(pcr0)
    const flipped = `${pcr0.slice(0, -1)}${pcr0.endsWith('0') ? '1' : '0'}`
    expect(attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: at(doc), expectedPcrs: { 0: flipped } })).shortMessage).toBe(
      'attestation failed: PCR0 does not match the expected value',
    )
    expect(
      attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: at(doc), expectedPcrs: { 0: pcr0, 1: pcr0 } })).shortMessage,
    ).toBe('attestation failed: PCR1 does not match the expected value')
    expect(
      attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: at(doc), expectedPcrs: { 20: '00'.repeat(48) } })).shortMessage,
    ).toBe('attestation failed: the document has no PCR20')
  })

  it('checks the nonce', () => {
    const doc = prod!
    const nonce = Buffer.from(doc.expected.nonce_hex!, 'hex')
    expect(hex(verifyAttestationDocument(doc.bytes, { now: at(doc), nonce }).nonce)).toBe(doc.expected.nonce_hex)
    const wrong = Uint8Array.from(nonce)
    wrong[0]! ^= 1
    expect(attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: at(doc), nonce: wrong })).shortMessage).toBe(
      'attestation failed: the nonce does not match',
    )
    expect(attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: at(doc), nonce: nonce.subarray(1) })).shortMessage).toBe(
      'attestation failed: the nonce does not match',
    )
    const withoutNonce = documents.find((d) => d.expected.nonce_hex === null)!
    expect(
      attestationFailure(() => verifyAttestationDocument(withoutNonce.bytes, { now: at(withoutNonce), nonce: new Uint8Array(8) })).shortMessage,
    ).toBe('attestation failed: the document carries no nonce')
  })

  it('checks maxAgeMs', () => {
    const doc = prod!
    const later = new Date(doc.expected.timestamp_ms + 10_000)
    expect(() => verifyAttestationDocument(doc.bytes, { now: later, maxAgeMs: 60_000 })).not.toThrow()
    expect(attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: later, maxAgeMs: 5_000 })).shortMessage).toBe(
      'attestation failed: the document is older than 5000 ms',
    )
    // The future-timestamp check is covered with software NSM documents (real leaves start ~3 s before the timestamp).
  })

  it('accepts a list of roots that contains the right one', () => {
    const doc = prod!
    const other = new X509Certificate(verifyAttestationDocument(doc.bytes, { now: at(doc) }).cabundle[1]!).toString()
    expect(() => verifyAttestationDocument(doc.bytes, { now: at(doc), roots: [other, AWS_NITRO_ENCLAVES_ROOT_G1_PEM] })).not.toThrow()
  })

  it('never puts document contents into error messages', () => {
    const doc = prod!
    const nonceHex = doc.expected.nonce_hex!
    const wrong = new Uint8Array(256)
    const error = attestationFailure(() => verifyAttestationDocument(doc.bytes, { now: at(doc), nonce: wrong }))
    expect(JSON.stringify(error.toJSON())).not.toContain(nonceHex.slice(0, 16))
    expect(error.message).not.toMatch(/[0-9a-f]{32}/)
  })
})

describe('verifyAttestationDocument payload schema', () => {
  // These documents carry a junk signature: the schema is checked before the chain and the signature,
  // so each case reports its own reason.
  const pcrs = (count: number, size = 48) => new Map(Array.from({ length: count }, (_, i) => [i, new Uint8Array(size)] as const))
  const base = (): Map<string, unknown> =>
    new Map<string, unknown>([
      ['module_id', 'i-0123456789abcdef0-enc0123456789abcdef'],
      ['digest', 'SHA384'],
      ['timestamp', 1_700_000_000_000],
      ['pcrs', pcrs(16)],
      ['certificate', new Uint8Array(10)],
      ['cabundle', [new Uint8Array(10)]],
      ['public_key', null],
      ['user_data', null],
      ['nonce', null],
    ])
  const document = (payload: unknown, { protectedHeader = new Map([[1, -35]]) as unknown, signature = new Uint8Array(96) } = {}) =>
    encode([encode(protectedHeader), new Map(), encode(payload), signature])
  const reason = (bytes: Uint8Array) => attestationFailure(() => verifyAttestationDocument(bytes)).shortMessage.replace('attestation failed: ', '')
  const withField = (key: string, value: unknown) => {
    const m = base()
    m.set(key, value)
    return document(m)
  }
  const without = (key: string) => {
    const m = base()
    m.delete(key)
    return document(m)
  }

  it('reaches the chain check for a well-formed payload', () => {
    expect(reason(document(base()))).toBe('cabundle[0] is not a trusted root certificate')
  })

  it.each([
    ['protected header with another alg', document(base(), { protectedHeader: new Map([[1, -7]]) }), 'the COSE protected header must be exactly {1: -35} (alg ES384)'],
    ['protected header with extra entries', document(base(), { protectedHeader: new Map<number, unknown>([[1, -35], [4, new Uint8Array(1)]]) }), 'the COSE protected header must be exactly {1: -35} (alg ES384)'],
    ['64-byte signature', document(base(), { signature: new Uint8Array(64) }), 'the COSE signature must be 96 bytes (ES384 r||s), got 64'],
    ['non-empty unprotected header', encode([encode(new Map([[1, -35]])), new Map([[4, 1]]), encode(base()), new Uint8Array(96)]), 'the COSE unprotected header must be an empty map'],
    ['nil payload', encode([encode(new Map([[1, -35]])), new Map(), null, new Uint8Array(96)]), 'the COSE payload is not a byte string (detached payloads are not supported)'],
    ['three-item array', encode([encode(new Map([[1, -35]])), new Map(), encode(base())]), 'the document is not a COSE_Sign1 array of four items'],
    ['payload that is an array', document([1, 2]), 'the payload is not a CBOR map'],
    ['unknown field', withField('extra', 1), 'the payload has an unknown field'],
    ['missing module_id', without('module_id'), 'the payload has no "module_id"'],
    ['missing cabundle', without('cabundle'), 'the payload has no "cabundle"'],
    ['empty module_id', withField('module_id', ''), '"module_id" must be a non-empty text string'],
    ['null module_id', withField('module_id', null), '"module_id" must be a non-empty text string'],
    ['digest SHA256', withField('digest', 'SHA256'), '"digest" must be "SHA384"'],
    ['text timestamp', withField('timestamp', '1700000000000'), '"timestamp" must be a positive integer of milliseconds'],
    ['zero timestamp', withField('timestamp', 0), '"timestamp" must be a positive integer of milliseconds'],
    ['15 PCRs', withField('pcrs', pcrs(15)), '"pcrs" must hold 16 to 32 entries'],
    ['33 PCRs', withField('pcrs', pcrs(33)), '"pcrs" must hold 16 to 32 entries'],
    ['PCR of 47 bytes', withField('pcrs', new Map([...pcrs(16), [3, new Uint8Array(47)]])), 'PCR3 must be a byte string of 32, 48 or 64 bytes'],
    ['PCR index 32', withField('pcrs', new Map([...pcrs(16), [32, new Uint8Array(48)]])), '"pcrs" keys must be integers 0..31'],
    ['text PCR index', withField('pcrs', new Map<unknown, unknown>([...pcrs(15), ['15', new Uint8Array(48)]])), '"pcrs" keys must be integers 0..31'],
    ['empty certificate', withField('certificate', new Uint8Array(0)), '"certificate" must be a byte string of 1..1024 bytes'],
    ['oversized certificate', withField('certificate', new Uint8Array(1025)), '"certificate" must be a byte string of 1..1024 bytes'],
    ['empty cabundle', withField('cabundle', []), '"cabundle" must be a non-empty array'],
    ['text in cabundle', withField('cabundle', [new Uint8Array(10), 'x']), '"cabundle[1]" must be a byte string of 1..1024 bytes'],
    ['empty public_key', withField('public_key', new Uint8Array(0)), '"public_key" must be null or a byte string of 1..1024 bytes'],
    ['oversized user_data', withField('user_data', new Uint8Array(513)), '"user_data" must be null or a byte string of 0..512 bytes'],
    ['text nonce', withField('nonce', 'abc'), '"nonce" must be null or a byte string of 0..512 bytes'],
  ])('rejects %s', (_name, bytes, expected) => {
    expect(reason(bytes)).toBe(expected)
  })

  it('accepts absent optional fields and empty user_data / nonce up to the schema', () => {
    const m = base()
    m.delete('public_key')
    m.set('user_data', new Uint8Array(0))
    m.set('nonce', new Uint8Array(512))
    expect(reason(document(m))).toBe('cabundle[0] is not a trusted root certificate')
  })

  describe('a malformed leaf certificate under the real root', () => {
    const rootDer = new Uint8Array(new X509Certificate(AWS_NITRO_ENCLAVES_ROOT_G1_PEM).raw)
    const rootHex = Buffer.from(rootDer).toString('hex')
    const patched = (from: string, to: string) => {
      expect(rootHex.split(from)).toHaveLength(2)
      return new Uint8Array(Buffer.from(rootHex.replace(from, to), 'hex'))
    }
    const edited = (change: (cert: Certificate) => void) => {
      const cert = AsnConvert.parse(rootDer, Certificate)
      change(cert)
      return new Uint8Array(AsnConvert.serialize(cert))
    }
    const withLeaf = (certificate: Uint8Array) => document(new Map([...base(), ['cabundle', [rootDer]], ['certificate', certificate]]))
    const unparseable = 'certificate is not a parseable X.509 certificate'

    it.each([
      ['truncated by one byte', rootDer.subarray(0, rootDer.length - 1), unparseable],
      ['truncated to its first half', rootDer.subarray(0, 260), unparseable],
      ['with a trailing zero byte', Uint8Array.of(...rootDer, 0), 'certificate is not a well-formed certificate (trailing bytes after the certificate)'],
      ['with 16 trailing bytes', Uint8Array.of(...rootDer, ...new Uint8Array(16).fill(0xa5)), 'certificate is not a well-formed certificate (trailing bytes after the certificate)'],
      [
        'with a duplicate extension',
        edited((cert) => {
          cert.tbsCertificate.extensions!.push(cert.tbsCertificate.extensions![0]!)
        }),
        'certificate is not a well-formed certificate (extension 2.5.29.19 appears twice)',
      ],
      [
        'whose TBS names another signature algorithm',
        edited((cert) => {
          cert.tbsCertificate.signature.algorithm = '1.2.840.10045.4.3.2'
        }),
        'certificate is not a well-formed certificate (tbsCertificate.signature differs from signatureAlgorithm)',
      ],
      ['with a SET for its outer SEQUENCE', patched('30820211', '31820211'), unparseable],
      ['with a PrintableString for notBefore', patched('170d313931303238', '130d313931303238'), unparseable],
      ['with a BIT STRING for an extnValue', patched('0603551d130101ff0405', '0603551d130101ff0305'), unparseable],
    ])('is refused: %s', (_name, certificate, expected) => {
      expect(reason(withLeaf(certificate))).toBe(expected)
    })
  })

  it('reads the facts of a certificate only once the ones above it verified: a forged chain costs its first forged certificate', () => {
    // Red team, issue 15: a proxy sending a document full of forged certificates had every one of them parsed
    // (about 8 ms each with many extensions) before any link was checked.
    const rootDer = new Uint8Array(new X509Certificate(AWS_NITRO_ENCLAVES_ROOT_G1_PEM).raw)
    const edited = (change: (cert: Certificate) => void) => {
      const cert = AsnConvert.parse(rootDer, Certificate)
      change(cert)
      return new Uint8Array(AsnConvert.serialize(cert))
    }
    const forged = edited((cert) => {
      cert.tbsCertificate.serialNumber = Uint8Array.of(0x01, 0x02, 0x03).buffer
    })
    const unreadable = edited((cert) => {
      cert.tbsCertificate.extensions!.push(cert.tbsCertificate.extensions![0]!)
    })
    const chain = document(new Map([...base(), ['cabundle', [rootDer, forged, unreadable, unreadable]], ['certificate', unreadable]]))
    expect(reason(chain)).toBe('the signature on cabundle[1] does not verify with cabundle[0]')
  })

  it('rejects malformed CBOR with a reason', () => {
    expect(reason(Uint8Array.of(0x9f, 0xff))).toMatch(/^the document is not well-formed CBOR \(indefinite-length/)
    expect(reason(Uint8Array.of(0x84, 0x44))).toMatch(/^the document is not well-formed CBOR/)
  })
})

describe('verifyAttestationDocument arguments', () => {
  it.each([
    ['a string document', () => verifyAttestationDocument('abc' as unknown as Uint8Array), '"bytes" must be a Uint8Array (got string)'],
    ['an unknown option', () => verifyAttestationDocument(new Uint8Array(1), { root: [] } as never), '"parameters" has unknown field "root"'],
    ['empty roots', () => verifyAttestationDocument(new Uint8Array(1), { roots: [] }), '"roots" must be a non-empty array of PEM certificates'],
    ['a non-PEM root', () => verifyAttestationDocument(new Uint8Array(1), { roots: ['x'] }), '"roots[0]" must be a PEM certificate'],
    ['an invalid date', () => verifyAttestationDocument(new Uint8Array(1), { now: new Date(Number.NaN) }), '"now" must be a valid Date'],
    ['a PCR index 32', () => verifyAttestationDocument(new Uint8Array(1), { expectedPcrs: { 32: '00' } }), '"expectedPcrs.32" must be a PCR index 0..31'],
    ['a short PCR', () => verifyAttestationDocument(new Uint8Array(1), { expectedPcrs: { 0: '00' } }), '"expectedPcrs.0" must be 32, 48 or 64 bytes of hex'],
    ['a hex nonce', () => verifyAttestationDocument(new Uint8Array(1), { nonce: 'ab' as never }), '"nonce" must be a Uint8Array (got string)'],
    ['a negative maxAgeMs', () => verifyAttestationDocument(new Uint8Array(1), { maxAgeMs: -1 }), '"maxAgeMs" must be a non-negative finite number'],
  ])('rejects %s', (_name, fn, message) => {
    expect(fn).toThrow(InvalidArgumentError)
    expect(fn).toThrow(message)
  })

  it('rejects empty and oversized documents', () => {
    expect(attestationFailure(() => verifyAttestationDocument(new Uint8Array(0))).shortMessage).toMatchInlineSnapshot(
      `"attestation failed: the document is empty"`,
    )
    expect(attestationFailure(() => verifyAttestationDocument(new Uint8Array(40_000))).shortMessage).toMatchInlineSnapshot(
      `"attestation failed: the document is larger than 32768 bytes"`,
    )
  })
})

/** A tiny CBOR encoder for test inputs (definite lengths, shortest heads). */
function encode(value: unknown): Uint8Array {
  const parts: number[] = []
  const head = (major: number, n: number) => {
    if (n < 24) parts.push((major << 5) | n)
    else if (n < 0x100) parts.push((major << 5) | 24, n)
    else if (n < 0x10000) parts.push((major << 5) | 25, n >> 8, n & 0xff)
    else if (n < 0x1_0000_0000) parts.push((major << 5) | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
    else {
      const big = BigInt(n)
      parts.push((major << 5) | 27)
      for (let i = 7; i >= 0; i--) parts.push(Number((big >> BigInt(8 * i)) & 0xffn))
    }
  }
  const walk = (v: unknown): void => {
    if (v === null) parts.push(0xf6)
    else if (typeof v === 'number') v >= 0 ? head(0, v) : head(1, -1 - v)
    else if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8')
      head(3, b.length)
      parts.push(...b)
    } else if (v instanceof Uint8Array) {
      head(2, v.length)
      parts.push(...v)
    } else if (Array.isArray(v)) {
      head(4, v.length)
      v.forEach(walk)
    } else if (v instanceof Map) {
      head(5, v.size)
      for (const [k, x] of v) {
        walk(k)
        walk(x)
      }
    } else throw new Error(`cannot encode ${typeof v}`)
  }
  walk(value)
  return Uint8Array.from(parts)
}
