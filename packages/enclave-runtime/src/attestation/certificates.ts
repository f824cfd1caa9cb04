/**
 * Issues the P-384 / ecdsa-with-SHA384 X.509 certificates of the software NSM's local CA, shaped like the
 * AWS Nitro PKI (critical basicConstraints and keyUsage, SKI/AKI).
 *
 * Certificates are assembled with `@peculiar/asn1-x509` and signed with `node:crypto`. (`@peculiar/x509`
 * needs a global `reflect-metadata` polyfill through tsyringe, which a side-effect-free library must not
 * install.)
 *
 * @internal Not part of the package's public surface.
 */
import { createHash, type KeyObject, randomBytes, sign } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509'

const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3'

/** Relative distinguished names in order, e.g. `[['C', 'US'], ['O', 'enclave-custody'], ['CN', 'x']]`. */
export type DistinguishedName = readonly (readonly ['C' | 'ST' | 'L' | 'O' | 'OU' | 'CN', string])[]

const ATTRIBUTE_OIDS = { C: '2.5.4.6', ST: '2.5.4.8', L: '2.5.4.7', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3' } as const

/** Parameters of {@link issueCertificate}. */
export type IssueCertificateParameters = {
  subject: DistinguishedName
  publicKey: KeyObject
  notBefore: Date
  notAfter: Date
  /** CA certificates get keyCertSign (+ cRLSign) and a critical cA=true; leaves get digitalSignature. */
  ca: false | { pathLength?: number }
  /** The issuer: its subject name (as in its certificate) and key; omit for a self-signed certificate. */
  issuer?: { name: Name; publicKey: KeyObject }
  /** The private key that signs: the issuer's, or the subject's own when self-signed. */
  signingKey: KeyObject
}

/**
 * Issue one certificate.
 *
 * @param parameters - Subject, key, validity, role and issuer.
 * @returns The certificate, DER.
 * @example
 * import { issueCertificate } from './certificates.js'
 * const der = issueCertificate({ subject: [['CN', 'root']], publicKey, signingKey: privateKey, ca: {}, notBefore, notAfter })
 */
export function issueCertificate({ subject, publicKey, notBefore, notAfter, ca, issuer, signingKey }: IssueCertificateParameters): Uint8Array {
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo)
  const subjectName = toName(subject)
  const issuerName = issuer?.name ?? subjectName
  const issuerKey = issuer?.publicKey ?? publicKey
  const serial = randomBytes(16)
  serial[0] = (serial[0]! & 0x7f) | 0x01 // positive and without a leading zero byte

  const extensions = new Extensions([
    extension(id_ce_basicConstraints, true, new BasicConstraints(ca === false ? { cA: false } : { cA: true, pathLenConstraint: ca.pathLength })),
    extension(
      id_ce_keyUsage,
      ca !== false,
      new KeyUsage(
        ca === false ? KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation : KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign,
      ),
    ),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(publicKey))),
  ])
  if (issuer !== undefined) {
    extensions.push(
      extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifier(issuerKey)) })),
    )
  }

  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA384 })
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: signatureAlgorithm,
    issuer: issuerName,
    validity: new Validity({ notBefore: wholeSeconds(notBefore), notAfter: wholeSeconds(notAfter) }),
    subject: subjectName,
    subjectPublicKeyInfo: spki,
    extensions,
  })
  const tbs = new Uint8Array(AsnConvert.serialize(tbsCertificate))
  const signature = sign('sha384', tbs, { key: signingKey, dsaEncoding: 'der' })
  const certificate = new Certificate({
    tbsCertificate,
    signatureAlgorithm,
    signatureValue: new Uint8Array(signature).buffer,
  })
  return new Uint8Array(AsnConvert.serialize(certificate))
}

/** Format DER as PEM. */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64')
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`
}

function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })
}

/** RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(publicKey: KeyObject): ArrayBuffer {
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo)
  return new Uint8Array(createHash('sha256').update(new Uint8Array(spki.subjectPublicKey)).digest().subarray(0, 20)).buffer
}

/** The subject name of a DER certificate, exactly as encoded there (to use as an issuer name). */
export function subjectNameOf(der: Uint8Array): Name {
  return AsnConvert.parse(der, Certificate).tbsCertificate.subject
}

/** Build a Name: PrintableString for C, UTF8String otherwise, one attribute per RDN. */
export function toName(dn: DistinguishedName): Name {
  return new Name(
    dn.map(
      ([type, value]) =>
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({
            type: ATTRIBUTE_OIDS[type],
            value: new AttributeValue(type === 'C' ? { printableString: value } : { utf8String: value }),
          }),
        ]),
    ),
  )
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000)
}
