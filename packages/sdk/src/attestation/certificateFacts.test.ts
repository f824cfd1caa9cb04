import { X509Certificate } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { BasicConstraints, Certificate, Extension, Version } from '@peculiar/asn1-x509'
import { describe, expect, it } from 'vitest'
import { AWS_NITRO_ENCLAVES_ROOT_G1_PEM } from './awsNitroRootCertificate.js'
import { DerDecodeError, OID_BASIC_CONSTRAINTS, OID_ECDSA_WITH_SHA384, OID_KEY_USAGE, readCertificateFacts } from './certificateFacts.js'

const root = new Uint8Array(new X509Certificate(AWS_NITRO_ENCLAVES_ROOT_G1_PEM).raw)

describe('readCertificateFacts', () => {
  it('reads the AWS Nitro root', () => {
    const facts = readCertificateFacts(root)
    expect(facts).toEqual({
      version: 3,
      signatureAlgorithm: OID_ECDSA_WITH_SHA384,
      notBefore: new Date('2019-10-28T13:28:05Z'),
      notAfter: new Date('2049-10-28T14:28:05Z'),
      extensionOids: [OID_BASIC_CONSTRAINTS, '2.5.29.14', OID_KEY_USAGE],
      criticalExtensionOids: [OID_BASIC_CONSTRAINTS, OID_KEY_USAGE],
      basicConstraints: { ca: true },
      keyUsage: { digitalSignature: true, keyCertSign: true },
    })
  })

  it('reads a certificate once: the same bytes give the same facts, which no caller can change for the next', () => {
    const first = readCertificateFacts(root)
    first.notBefore.setTime(0)
    expect(() => first.extensionOids.push('1.2.3')).toThrow(TypeError)
    expect(() => {
      first.basicConstraints!.ca = false
    }).toThrow(TypeError)
    const again = readCertificateFacts(root)
    expect(again.notBefore).toEqual(new Date('2019-10-28T13:28:05Z'))
    expect(again.basicConstraints).toEqual({ ca: true })
    expect(again.extensionOids).toHaveLength(3)
    // Other bytes are read anew, even when the valid certificate was read just before.
    expect(() => readCertificateFacts(Uint8Array.of(...root, 0))).toThrow(/trailing bytes/)
  })

  it('agrees with Node on validity', () => {
    const node = new X509Certificate(root)
    const facts = readCertificateFacts(root)
    expect(facts.notBefore.getTime()).toBe(new Date(node.validFrom).getTime())
    expect(facts.notAfter.getTime()).toBe(new Date(node.validTo).getTime())
  })

  it('rejects truncated, extended and BER-encoded input', () => {
    for (const cut of [1, 10, 100, root.length - 1]) {
      expect(() => readCertificateFacts(root.subarray(0, root.length - cut))).toThrow(DerDecodeError)
    }
    expect(() => readCertificateFacts(Uint8Array.of(...root, 0))).toThrow(/trailing bytes/)
    const indefinite = Uint8Array.of(0x30, 0x80, ...root.subarray(4), 0, 0)
    expect(() => readCertificateFacts(indefinite)).toThrow(/indefinite length/)
    expect(() => readCertificateFacts(new Uint8Array(0))).toThrow(DerDecodeError)
  })

  it('rejects what the library decodes but DER forbids, and what the schema does not hold', () => {
    for (const [name, der, message] of malformed()) {
      expect(() => readCertificateFacts(der), name).toThrow(DerDecodeError)
      expect(() => readCertificateFacts(der), name).toThrow(message)
    }
  })

  it('re-encodes each certificate the verifier accepts to its own bytes (what the DER check relies on)', () => {
    const edited = edit(() => {})
    expect(edited).toEqual(root)
    expect(readCertificateFacts(edited)).toEqual(readCertificateFacts(root))
  })
})

const rootHex = Buffer.from(root).toString('hex')

/** The root with each `[from, to]` hex substring (present exactly once, at a byte boundary) replaced. */
function patched(...pairs: [string, string][]): Uint8Array {
  let hex = rootHex
  for (const [from, to] of pairs) {
    const at = hex.indexOf(from)
    if (at < 0 || at % 2 !== 0 || hex.indexOf(from, at + 1) >= 0) throw new Error(`patch ${from} does not apply`)
    hex = hex.replace(from, to)
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** The root, parsed, changed by `change`, and re-encoded (a well-formed DER certificate with a bad signature). */
function edit(change: (cert: Certificate) => void): Uint8Array {
  const cert = AsnConvert.parse(root, Certificate)
  change(cert)
  return new Uint8Array(AsnConvert.serialize(cert))
}

function withExtensionValue(oid: string, value: Uint8Array): Uint8Array {
  return edit((cert) => {
    const extension = cert.tbsCertificate.extensions!.find((e) => e.extnID === oid)!
    extension.extnValue = new OctetString(value)
  })
}

const basicConstraintsValue = (bc: BasicConstraints) => new Uint8Array(AsnConvert.serialize(bc))

/** Malformed variants of the AWS root: [name, DER, the message readCertificateFacts throws]. */
function malformed(): [string, Uint8Array, RegExp][] {
  return [
    ['a SET where the certificate SEQUENCE is', patched(['30820211', '31820211']), /certificate: not a well-formed X.509 certificate/],
    ['a PrintableString where notBefore is', patched(['170d313931303238', '130d313931303238']), /certificate: not a well-formed X.509 certificate/],
    ['a BIT STRING where an extnValue is', patched(['0603551d130101ff0405', '0603551d130101ff0305']), /certificate: not a well-formed X.509 certificate/],
    ['a long-form length below 128', patched(['3082021130820196', '3082021230820197'], ['300a06082a8648ce3d0403033049', '30810a06082a8648ce3d0403033049']), /certificate: not DER/],
    ['a length with a leading zero octet', patched(['30820211', '3083000211']), /certificate: not DER/],
    ['critical TRUE encoded as 0x01', patched(['0603551d130101ff', '0603551d13010101']), /certificate: not DER/],
    ['cA TRUE encoded as 0x01', patched(['040530030101ff', '04053003010101']), /basicConstraints: not DER/],
    [
      'critical FALSE encoded (a DEFAULT value)',
      patched(['3082021130820196', '3082021430820199'], ['a3423040', 'a3453043'], ['301d0603551d0e0416', '30200603551d0e0101000416']),
      /certificate: not DER/,
    ],
    ['30 February as notBefore', patched(['170d313931303238', '170d313930323330']), /certificate: not DER/],
    ['keyUsage with 8 unused bits', patched(['0603551d0f0101ff040403020186', '0603551d0f0101ff040403020886']), /keyUsage/],
    ['trailing bytes in basicConstraints', withExtensionValue(OID_BASIC_CONSTRAINTS, Uint8Array.of(0x30, 0x03, 0x01, 0x01, 0xff, 0x00)), /trailing bytes in basicConstraints/],
    ['a negative pathLenConstraint', withExtensionValue(OID_BASIC_CONSTRAINTS, basicConstraintsValue(new BasicConstraints({ cA: true, pathLenConstraint: -1 }))), /must not be negative/],
    [
      'a duplicate extension',
      edit((cert) => {
        const [first] = cert.tbsCertificate.extensions!
        cert.tbsCertificate.extensions!.push(new Extension({ extnID: first!.extnID, critical: first!.critical, extnValue: first!.extnValue }))
      }),
      /extension 2\.5\.29\.19 appears twice/,
    ],
    [
      'tbsCertificate.signature other than signatureAlgorithm',
      edit((cert) => {
        cert.tbsCertificate.signature.algorithm = '1.2.840.10045.4.3.2'
      }),
      /tbsCertificate.signature differs from signatureAlgorithm/,
    ],
    [
      'extensions in a v2 certificate',
      edit((cert) => {
        cert.tbsCertificate.version = Version.v2
      }),
      /extensions require a v3 certificate/,
    ],
    [
      'version 4',
      edit((cert) => {
        cert.tbsCertificate.version = 3 as Version
      }),
      /version must be v1, v2 or v3/,
    ],
  ]
}
