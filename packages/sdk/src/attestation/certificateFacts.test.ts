import { X509Certificate } from 'node:crypto'
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
})
