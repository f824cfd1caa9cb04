/**
 * Reads the facts of an X.509 certificate that Node's `X509Certificate` does not expose on Node 20:
 * exact validity instants, the signature algorithms, basic constraints, key usage and which extensions
 * are critical. A small strict DER reader (definite lengths only).
 *
 * @internal Not part of the package's public surface.
 */

/** Thrown for malformed DER. Messages name offsets and fields, never content. */
export class DerDecodeError extends Error {
  override name = 'DerDecodeError'
}

/** What the verifier needs to know about one certificate. */
export type CertificateFacts = {
  /** 1, 2 or 3. */
  version: number
  /** Dotted OID of the outer `signatureAlgorithm` (equal to the TBS `signature` field, or parsing fails). */
  signatureAlgorithm: string
  notBefore: Date
  notAfter: Date
  /** Dotted OIDs of all extensions, each at most once. */
  extensionOids: string[]
  /** Dotted OIDs of the extensions marked critical. */
  criticalExtensionOids: string[]
  /** Present when the certificate has a basicConstraints extension. */
  basicConstraints?: { ca: boolean; pathLength?: number }
  /** Present when the certificate has a keyUsage extension. */
  keyUsage?: { digitalSignature: boolean; keyCertSign: boolean }
}

/** id-ce-basicConstraints. */
export const OID_BASIC_CONSTRAINTS = '2.5.29.19'
/** id-ce-keyUsage. */
export const OID_KEY_USAGE = '2.5.29.15'
/** ecdsa-with-SHA384, the only signature algorithm of the Nitro PKI. */
export const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3'

type Tlv = { tag: number; start: number; valueStart: number; end: number }

const TAG_BOOLEAN = 0x01
const TAG_INTEGER = 0x02
const TAG_BIT_STRING = 0x03
const TAG_OCTET_STRING = 0x04
const TAG_OID = 0x06
const TAG_UTC_TIME = 0x17
const TAG_GENERALIZED_TIME = 0x18
const TAG_SEQUENCE = 0x30

/**
 * Parse the facts of one DER certificate.
 *
 * @param der - The certificate, DER.
 * @returns Its validity, algorithms and relevant extensions.
 * @throws DerDecodeError when the encoding is not a well-formed certificate.
 * @example
 * import { readCertificateFacts } from './certificateFacts.js'
 * const { notAfter, basicConstraints } = readCertificateFacts(der)
 */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const cert = readTlv(der, 0, 'certificate')
  if (cert.end !== der.length) throw new DerDecodeError('trailing bytes after the certificate')
  expectTag(cert, TAG_SEQUENCE, 'certificate')
  const [tbs, outerAlg, signatureValue, ...rest] = children(der, cert, 'certificate')
  if (tbs === undefined || outerAlg === undefined || signatureValue === undefined || rest.length > 0) {
    throw new DerDecodeError('certificate must be a SEQUENCE of three elements')
  }
  expectTag(tbs, TAG_SEQUENCE, 'tbsCertificate')
  expectTag(signatureValue, TAG_BIT_STRING, 'signatureValue')
  const signatureAlgorithm = algorithmOid(der, outerAlg, 'signatureAlgorithm')

  const fields = children(der, tbs, 'tbsCertificate')
  let i = 0
  let version = 1
  if (fields[i]?.tag === 0xa0) {
    const inner = children(der, fields[i]!, 'version')
    if (inner.length !== 1) throw new DerDecodeError('version must hold one INTEGER')
    const v = smallInteger(der, inner[0]!, 'version')
    if (v < 0 || v > 2) throw new DerDecodeError('version must be v1, v2 or v3')
    version = v + 1
    i++
  }
  const serial = fields[i++]
  if (serial === undefined) throw new DerDecodeError('tbsCertificate is missing serialNumber')
  expectTag(serial, TAG_INTEGER, 'serialNumber')
  const innerAlg = fields[i++]
  if (innerAlg === undefined) throw new DerDecodeError('tbsCertificate is missing signature')
  if (algorithmOid(der, innerAlg, 'signature') !== signatureAlgorithm) {
    throw new DerDecodeError('tbsCertificate.signature differs from signatureAlgorithm')
  }
  const issuer = fields[i++]
  const validity = fields[i++]
  const subject = fields[i++]
  const spki = fields[i++]
  if (issuer === undefined || validity === undefined || subject === undefined || spki === undefined) {
    throw new DerDecodeError('tbsCertificate is missing a mandatory field')
  }
  expectTag(issuer, TAG_SEQUENCE, 'issuer')
  expectTag(subject, TAG_SEQUENCE, 'subject')
  expectTag(spki, TAG_SEQUENCE, 'subjectPublicKeyInfo')
  expectTag(validity, TAG_SEQUENCE, 'validity')
  const times = children(der, validity, 'validity')
  if (times.length !== 2) throw new DerDecodeError('validity must hold notBefore and notAfter')
  const notBefore = readTime(der, times[0]!, 'notBefore')
  const notAfter = readTime(der, times[1]!, 'notAfter')

  if (fields[i]?.tag === 0x81) i++ // issuerUniqueID
  if (fields[i]?.tag === 0x82) i++ // subjectUniqueID
  const facts: CertificateFacts = {
    version,
    signatureAlgorithm,
    notBefore,
    notAfter,
    extensionOids: [],
    criticalExtensionOids: [],
  }
  const extensionsField = fields[i]
  if (extensionsField !== undefined) {
    if (extensionsField.tag !== 0xa3) throw new DerDecodeError('unexpected field after subjectPublicKeyInfo')
    if (version !== 3) throw new DerDecodeError('extensions require a v3 certificate')
    i++
    const wrapped = children(der, extensionsField, 'extensions')
    if (wrapped.length !== 1) throw new DerDecodeError('extensions must hold one SEQUENCE')
    expectTag(wrapped[0]!, TAG_SEQUENCE, 'extensions')
    for (const extension of children(der, wrapped[0]!, 'extensions')) readExtension(der, extension, facts)
  }
  if (i !== fields.length) throw new DerDecodeError('unexpected trailing fields in tbsCertificate')
  return facts
}

function readExtension(der: Uint8Array, extension: Tlv, facts: CertificateFacts): void {
  expectTag(extension, TAG_SEQUENCE, 'extension')
  const parts = children(der, extension, 'extension')
  const oidTlv = parts[0]
  if (oidTlv === undefined) throw new DerDecodeError('extension is empty')
  const oid = readOid(der, oidTlv, 'extnID')
  let critical = false
  let valueTlv = parts[1]
  if (valueTlv?.tag === TAG_BOOLEAN) {
    critical = readBoolean(der, valueTlv, 'critical')
    valueTlv = parts[2]
    if (parts.length !== 3) throw new DerDecodeError('extension must be { extnID, critical, extnValue }')
  } else if (parts.length !== 2) {
    throw new DerDecodeError('extension must be { extnID, extnValue }')
  }
  if (valueTlv === undefined) throw new DerDecodeError('extension is missing extnValue')
  expectTag(valueTlv, TAG_OCTET_STRING, 'extnValue')
  if (facts.extensionOids.includes(oid)) throw new DerDecodeError(`extension ${oid} appears twice`)
  facts.extensionOids.push(oid)
  if (critical) facts.criticalExtensionOids.push(oid)
  const value = der.subarray(valueTlv.valueStart, valueTlv.end)
  if (oid === OID_BASIC_CONSTRAINTS) facts.basicConstraints = readBasicConstraints(value)
  if (oid === OID_KEY_USAGE) facts.keyUsage = readKeyUsage(value)
}

function readBasicConstraints(value: Uint8Array): { ca: boolean; pathLength?: number } {
  const seq = readTlv(value, 0, 'basicConstraints')
  if (seq.end !== value.length) throw new DerDecodeError('trailing bytes in basicConstraints')
  expectTag(seq, TAG_SEQUENCE, 'basicConstraints')
  const parts = children(value, seq, 'basicConstraints')
  let ca = false
  let pathLength: number | undefined
  let i = 0
  if (parts[i]?.tag === TAG_BOOLEAN) ca = readBoolean(value, parts[i++]!, 'basicConstraints.cA')
  if (parts[i]?.tag === TAG_INTEGER) {
    pathLength = smallInteger(value, parts[i++]!, 'basicConstraints.pathLenConstraint')
    if (pathLength < 0) throw new DerDecodeError('basicConstraints.pathLenConstraint must not be negative')
  }
  if (i !== parts.length) throw new DerDecodeError('unexpected content in basicConstraints')
  return pathLength === undefined ? { ca } : { ca, pathLength }
}

function readKeyUsage(value: Uint8Array): { digitalSignature: boolean; keyCertSign: boolean } {
  const bits = readTlv(value, 0, 'keyUsage')
  if (bits.end !== value.length) throw new DerDecodeError('trailing bytes in keyUsage')
  expectTag(bits, TAG_BIT_STRING, 'keyUsage')
  const content = value.subarray(bits.valueStart, bits.end)
  if (content.length < 1 || content[0]! > 7) throw new DerDecodeError('keyUsage is not a valid BIT STRING')
  const first = content[1] ?? 0
  return { digitalSignature: (first & 0x80) !== 0, keyCertSign: (first & 0x04) !== 0 }
}

function readTlv(der: Uint8Array, offset: number, field: string): Tlv {
  const start = offset
  if (offset + 2 > der.length) throw new DerDecodeError(`${field}: unexpected end of input`)
  const tag = der[offset++]!
  if ((tag & 0x1f) === 0x1f) throw new DerDecodeError(`${field}: multi-byte tags are not supported`)
  let length = der[offset++]!
  if (length === 0x80) throw new DerDecodeError(`${field}: indefinite length is not DER`)
  if (length > 0x80) {
    const count = length & 0x7f
    if (count > 4) throw new DerDecodeError(`${field}: length too large`)
    if (offset + count > der.length) throw new DerDecodeError(`${field}: unexpected end of input`)
    length = 0
    for (let k = 0; k < count; k++) length = length * 256 + der[offset++]!
    if (length < 0x80) throw new DerDecodeError(`${field}: non-minimal length`)
  }
  const end = offset + length
  if (end > der.length) throw new DerDecodeError(`${field}: length runs past the end of the input`)
  return { tag, start, valueStart: offset, end }
}

function children(der: Uint8Array, parent: Tlv, field: string): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerDecodeError(`${field}: expected a constructed element`)
  const out: Tlv[] = []
  let offset = parent.valueStart
  while (offset < parent.end) {
    const child = readTlv(der.subarray(0, parent.end), offset, field)
    out.push(child)
    offset = child.end
  }
  return out
}

function expectTag(tlv: Tlv, tag: number, field: string): void {
  if (tlv.tag !== tag) throw new DerDecodeError(`${field}: unexpected tag 0x${tlv.tag.toString(16)}`)
}

function algorithmOid(der: Uint8Array, tlv: Tlv, field: string): string {
  expectTag(tlv, TAG_SEQUENCE, field)
  const parts = children(der, tlv, field)
  if (parts.length < 1 || parts.length > 2) throw new DerDecodeError(`${field}: malformed AlgorithmIdentifier`)
  return readOid(der, parts[0]!, field)
}

function readOid(der: Uint8Array, tlv: Tlv, field: string): string {
  expectTag(tlv, TAG_OID, field)
  const bytes = der.subarray(tlv.valueStart, tlv.end)
  if (bytes.length === 0 || (bytes[bytes.length - 1]! & 0x80) !== 0) throw new DerDecodeError(`${field}: malformed OID`)
  const arcs: number[] = []
  let value = 0
  for (let k = 0; k < bytes.length; k++) {
    const b = bytes[k]!
    if (value === 0 && b === 0x80) throw new DerDecodeError(`${field}: non-minimal OID arc`)
    value = value * 128 + (b & 0x7f)
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerDecodeError(`${field}: OID arc too large`)
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2
        arcs.push(first, value - first * 40)
      } else {
        arcs.push(value)
      }
      value = 0
    }
  }
  return arcs.join('.')
}

function readBoolean(der: Uint8Array, tlv: Tlv, field: string): boolean {
  expectTag(tlv, TAG_BOOLEAN, field)
  if (tlv.end - tlv.valueStart !== 1) throw new DerDecodeError(`${field}: BOOLEAN must be one byte`)
  const b = der[tlv.valueStart]!
  if (b !== 0x00 && b !== 0xff) throw new DerDecodeError(`${field}: BOOLEAN must be 0x00 or 0xff in DER`)
  return b === 0xff
}

function smallInteger(der: Uint8Array, tlv: Tlv, field: string): number {
  expectTag(tlv, TAG_INTEGER, field)
  const bytes = der.subarray(tlv.valueStart, tlv.end)
  if (bytes.length === 0 || bytes.length > 4) throw new DerDecodeError(`${field}: INTEGER out of range`)
  if (bytes.length > 1 && ((bytes[0] === 0x00 && (bytes[1]! & 0x80) === 0) || (bytes[0] === 0xff && (bytes[1]! & 0x80) !== 0))) {
    throw new DerDecodeError(`${field}: non-minimal INTEGER`)
  }
  const unsigned = unsignedValue(bytes)
  return (bytes[0]! & 0x80) !== 0 ? unsigned - 2 ** (8 * bytes.length) : unsigned
}

function unsignedValue(bytes: Uint8Array): number {
  let value = 0
  for (const b of bytes) value = value * 256 + b
  return value
}

function readTime(der: Uint8Array, tlv: Tlv, field: string): Date {
  const text = String.fromCharCode(...der.subarray(tlv.valueStart, tlv.end))
  let match: RegExpExecArray | null
  let year: number
  if (tlv.tag === TAG_UTC_TIME) {
    match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    if (match === null) throw new DerDecodeError(`${field}: malformed UTCTime`)
    const yy = Number(match[1])
    year = yy >= 50 ? 1900 + yy : 2000 + yy
  } else if (tlv.tag === TAG_GENERALIZED_TIME) {
    match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    if (match === null) throw new DerDecodeError(`${field}: malformed GeneralizedTime`)
    year = Number(match[1])
  } else {
    throw new DerDecodeError(`${field}: expected UTCTime or GeneralizedTime`)
  }
  const [month, day, hour, minute, second] = match.slice(2, 7).map(Number) as [number, number, number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second))
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    throw new DerDecodeError(`${field}: invalid calendar date`)
  }
  return date
}
