/**
 * Reads the facts of an X.509 certificate that Node's `X509Certificate` does not expose on Node 20:
 * exact validity instants, the signature algorithms, basic constraints, key usage and which extensions
 * are critical. Parsing is `@peculiar/asn1-x509`'s; DER is enforced on top of it: the library decodes
 * BER and ignores what follows the certificate, so the certificate (and each extension value read here)
 * must re-encode to exactly its input bytes. That refuses trailing bytes, indefinite and non-minimal
 * lengths, BOOLEANs other than 0x00/0xff, explicitly encoded DEFAULT values, non-canonical times and
 * anything the schema does not hold.
 *
 * @internal Not part of the package's public surface.
 */
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema'
import { BasicConstraints, Certificate, KeyUsage, KeyUsageFlags, Version } from '@peculiar/asn1-x509'

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

/**
 * Parse the facts of one DER certificate.
 *
 * @param der - The certificate, DER.
 * @returns Its validity, algorithms and relevant extensions.
 * @throws DerDecodeError when the encoding is not a well-formed DER certificate.
 * @example
 * import { readCertificateFacts } from './certificateFacts.js'
 * const { notAfter, basicConstraints } = readCertificateFacts(der)
 */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  // Every document of an enclave carries the same root and intermediates: read each once (about 2 ms with the
  // library's parser and the re-encoding check). Keyed by the whole DER, so only identical bytes share facts.
  const id = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  let facts = KNOWN_FACTS.get(id)
  if (facts === undefined) {
    facts = deepFreeze(readFacts(der))
    if (KNOWN_FACTS.size >= KNOWN_FACTS_MAX) KNOWN_FACTS.delete(KNOWN_FACTS.keys().next().value!)
    KNOWN_FACTS.set(id, facts)
  }
  // Dates cannot be frozen: each caller gets its own.
  return { ...facts, notBefore: new Date(facts.notBefore), notAfter: new Date(facts.notAfter) }
}

const KNOWN_FACTS = new Map<string, CertificateFacts>()
const KNOWN_FACTS_MAX = 64

function deepFreeze(facts: CertificateFacts): CertificateFacts {
  Object.freeze(facts.extensionOids)
  Object.freeze(facts.criticalExtensionOids)
  if (facts.basicConstraints) Object.freeze(facts.basicConstraints)
  if (facts.keyUsage) Object.freeze(facts.keyUsage)
  return Object.freeze(facts)
}

function readFacts(der: Uint8Array): CertificateFacts {
  const cert = parseDer(der, Certificate, 'certificate')
  const tbs = cert.tbsCertificate
  const signatureAlgorithm = cert.signatureAlgorithm.algorithm
  // RFC 5280 §4.1.1.2: the two fields must be identical (the re-encoding check made both canonical).
  if (!equalBytes(encode(tbs.signature), encode(cert.signatureAlgorithm))) {
    throw new DerDecodeError('tbsCertificate.signature differs from signatureAlgorithm')
  }
  if (tbs.version !== Version.v1 && tbs.version !== Version.v2 && tbs.version !== Version.v3) {
    throw new DerDecodeError('version must be v1, v2 or v3')
  }
  const facts: CertificateFacts = {
    version: tbs.version + 1,
    signatureAlgorithm,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    extensionOids: [],
    criticalExtensionOids: [],
  }
  if (tbs.extensions !== undefined && tbs.version !== Version.v3) throw new DerDecodeError('extensions require a v3 certificate')
  for (const extension of tbs.extensions ?? []) {
    const oid = extension.extnID
    if (facts.extensionOids.includes(oid)) throw new DerDecodeError(`extension ${oid} appears twice`)
    facts.extensionOids.push(oid)
    if (extension.critical) facts.criticalExtensionOids.push(oid)
    const value = new Uint8Array(extension.extnValue.buffer)
    if (oid === OID_BASIC_CONSTRAINTS) facts.basicConstraints = readBasicConstraints(value)
    if (oid === OID_KEY_USAGE) facts.keyUsage = readKeyUsage(value)
  }
  return facts
}

function readBasicConstraints(value: Uint8Array): { ca: boolean; pathLength?: number } {
  const { cA, pathLenConstraint } = parseDer(value, BasicConstraints, 'basicConstraints')
  if (pathLenConstraint === undefined) return { ca: cA }
  if (pathLenConstraint < 0) throw new DerDecodeError('basicConstraints.pathLenConstraint must not be negative')
  if (!Number.isSafeInteger(pathLenConstraint)) throw new DerDecodeError('basicConstraints.pathLenConstraint: INTEGER out of range')
  return { ca: cA, pathLength: pathLenConstraint }
}

function readKeyUsage(value: Uint8Array): { digitalSignature: boolean; keyCertSign: boolean } {
  const keyUsage = parseDer(value, KeyUsage, 'keyUsage')
  if (keyUsage.unusedBits > 7) throw new DerDecodeError('keyUsage is not a valid BIT STRING')
  const flags = keyUsage.toNumber()
  return { digitalSignature: (flags & KeyUsageFlags.digitalSignature) !== 0, keyCertSign: (flags & KeyUsageFlags.keyCertSign) !== 0 }
}

/** `AsnConvert.parse`, then DER: the value must re-encode to exactly `der`. */
function parseDer<T extends object>(der: Uint8Array, type: new () => T, field: string): T {
  let parsed: T
  try {
    parsed = AsnConvert.parse(der, type)
  } catch (cause) {
    throw new DerDecodeError(`${field}: not a well-formed ${field === 'certificate' ? 'X.509 certificate' : 'value'}`, { cause })
  }
  let canonical: Uint8Array
  try {
    canonical = encode(parsed)
  } catch (cause) {
    throw new DerDecodeError(`${field}: does not re-encode`, { cause })
  }
  if (equalBytes(canonical, der)) return parsed
  if (der.length > canonical.length && equalBytes(der.subarray(0, canonical.length), canonical)) {
    throw new DerDecodeError(field === 'certificate' ? 'trailing bytes after the certificate' : `trailing bytes in ${field}`)
  }
  if (hasIndefiniteLength(AsnParser.parse(der, BerNode).node)) throw new DerDecodeError(`${field}: indefinite length is not DER`)
  let offset = 0
  while (der[offset] === canonical[offset]) offset++
  throw new DerDecodeError(`${field}: not DER (differs from its canonical encoding at byte ${offset})`)
}

function encode(value: object): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value))
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

/** The subset of asn1js's decoded node read here. */
type DecodedNode = { lenBlock?: { isIndefiniteForm?: boolean }; valueBlock?: { value?: unknown } }

/** The decoder's raw node, taken through asn1-schema's convertible-type hook (for the error message only). */
class BerNode {
  node: DecodedNode = {}
  fromASN(node: DecodedNode): this {
    this.node = node
    return this
  }
  toASN(): DecodedNode {
    return this.node
  }
}

function hasIndefiniteLength(node: DecodedNode): boolean {
  if (node.lenBlock?.isIndefiniteForm === true) return true
  const children = node.valueBlock?.value
  return Array.isArray(children) && children.some((child) => hasIndefiniteLength(child as DecodedNode))
}
