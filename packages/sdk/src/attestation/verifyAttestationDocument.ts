import { type KeyObject, X509Certificate, timingSafeEqual, verify as verifySignature } from 'node:crypto'
import { AttestationError, type CustodyError } from '../errors/CustodyError.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { AWS_NITRO_ENCLAVES_ROOT_G1_PEM } from './awsNitroRootCertificate.js'
import { CborTag, type CborValue, decodeCbor } from './cbor.js'
import { type CertificateFacts, OID_BASIC_CONSTRAINTS, OID_ECDSA_WITH_SHA384, OID_KEY_USAGE, readCertificateFacts } from './certificateFacts.js'

/** Options of {@link verifyAttestationDocument}. Only these own properties are accepted. */
export type VerifyAttestationDocumentParameters = {
  /**
   * Trusted root certificates, PEM. `cabundle[0]` of the document must be byte-identical to one of them.
   * @default [AWS_NITRO_ENCLAVES_ROOT_G1_PEM]
   */
  roots?: string[]
  /** The instant at which every certificate must be valid (and against which `maxAgeMs` is measured). @default new Date() */
  now?: Date
  /** PCR index → expected value as hex (with or without `0x`, any case). Every listed PCR must match. */
  expectedPcrs?: Record<number, string>
  /** When given, the document must carry exactly this nonce. */
  nonce?: Uint8Array
  /** When given, the document's timestamp must be at most this many ms before `now` (and not more than a minute after it). */
  maxAgeMs?: number
}

/** The verified contents of an attestation document. Byte fields are fresh copies. */
export type VerifyAttestationDocumentReturnType = {
  /** Issuing NSM module id, e.g. `i-0123456789abcdef0-enc0123456789abcdef`. */
  moduleId: string
  /** When the NSM produced the document (ms precision). */
  timestamp: Date
  /** The PCR hash function; always SHA384 for Nitro. */
  digest: 'SHA384'
  /** PCR index → value, lowercase hex without `0x`. */
  pcrs: Record<number, string>
  /** The `public_key` field (e.g. a DER SubjectPublicKeyInfo), when present. */
  publicKey?: Uint8Array
  /** The `user_data` field, when present. */
  userData?: Uint8Array
  /** The `nonce` field, when present. */
  nonce?: Uint8Array
  /** The signing (leaf) certificate, DER. */
  certificate: Uint8Array
  /** The CA bundle, DER, root first. */
  cabundle: Uint8Array[]
}

/** What {@link verifyAttestationDocument} throws: AttestationError, or InvalidArgumentError for bad arguments. */
export type VerifyAttestationDocumentErrorType = AttestationError | CustodyError

/** Upper bound on the whole COSE_Sign1 before parsing (payload ≤ 16 KiB per the NSM spec, plus framing). */
const MAX_DOCUMENT_BYTES = 32 * 1024
const MAX_PAYLOAD_BYTES = 16 * 1024
const ES384 = -35
const COSE_SIGN1_TAG = 18
const CLOCK_SKEW_MS = 60_000
const MANDATORY_FIELDS = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle'] as const
const OPTIONAL_FIELDS = ['public_key', 'user_data', 'nonce'] as const
const KNOWN_FIELDS: readonly string[] = [...MANDATORY_FIELDS, ...OPTIONAL_FIELDS]
/** Critical extensions this verifier understands; any other critical extension fails the chain. */
const UNDERSTOOD_CRITICAL = new Set([OID_BASIC_CONSTRAINTS, OID_KEY_USAGE])

let defaultRoots: X509Certificate[] | undefined

/**
 * Verify an AWS Nitro Enclaves attestation document (COSE_Sign1, ES384) and return its contents.
 *
 * Checks, in order: the COSE_Sign1 framing (tagged 18 or untagged; protected header exactly `{1: -35}`,
 * empty unprotected header, 96-byte signature); the payload schema (the NSM spec's field types and
 * sizes, 16–32 PCRs of 32/48/64 bytes, `digest` = `"SHA384"`, non-empty `cabundle`, no unknown
 * fields); the certificate chain (`cabundle[0]` byte-identical to a trusted root, each certificate signed
 * by the one before it, the leaf by the last, all valid at `now`, P-384 keys with ecdsa-with-SHA384, CA
 * certificates with basicConstraints cA and keyCertSign and within their path length, a leaf that is not
 * a CA and may sign, no unknown critical extension); the signature over
 * `Sig_structure = ["Signature1", protected, h'', payload]`; and finally the caller's expectations
 * (`expectedPcrs`, `nonce`, `maxAgeMs`).
 *
 * Real documents are signed by a leaf certificate valid for about three hours: verifying an archived
 * document needs `now` set to (around) its timestamp.
 *
 * @param bytes - The attestation document as the NSM returns it.
 * @param parameters - Trust roots, clock and expectations.
 * @returns The verified fields.
 * @throws AttestationError (code `ATTESTATION_FAILED`) naming the first check that failed.
 * @throws InvalidArgumentError when `bytes` or `parameters` are malformed.
 * @example
 * import { verifyAttestationDocument } from '@enclave-custody/sdk'
 * const doc = verifyAttestationDocument(bytes, { expectedPcrs: { 0: pcr0Hex }, nonce })
 * console.log(doc.moduleId, doc.pcrs[0])
 */
export function verifyAttestationDocument(
  bytes: Uint8Array,
  parameters: VerifyAttestationDocumentParameters = {},
): VerifyAttestationDocumentReturnType {
  if (!(bytes instanceof Uint8Array)) fail('bytes', `must be a Uint8Array (got ${typeName(bytes)})`)
  const options = parseOptions(parameters)
  if (bytes.length === 0) reject('the document is empty')
  if (bytes.length > MAX_DOCUMENT_BYTES) reject(`the document is larger than ${MAX_DOCUMENT_BYTES} bytes`)

  const { protectedHeader, payload, signature } = parseCoseSign1(bytes)
  const document = parsePayload(payload)

  const leafKey = verifyChain(document.certificate, document.cabundle, options.roots, options.now)
  const signed = sigStructure(protectedHeader, payload)
  if (!guarded(() => verifySignature('sha384', signed, { key: leafKey, dsaEncoding: 'ieee-p1363' }, signature))) {
    reject('the COSE signature does not verify with the leaf certificate')
  }

  const nowMs = options.now.getTime()
  if (options.maxAgeMs !== undefined) {
    const age = nowMs - document.timestamp
    if (age > options.maxAgeMs) reject(`the document is older than ${options.maxAgeMs} ms`)
    if (age < -CLOCK_SKEW_MS) reject('the document timestamp is in the future')
  }
  for (const [index, expected] of options.expectedPcrs) {
    const actual = document.pcrs.get(index)
    if (actual === undefined) reject(`the document has no PCR${index}`)
    if (!equalBytes(actual, expected)) reject(`PCR${index} does not match the expected value`)
  }
  if (options.nonce !== undefined) {
    if (document.nonce === undefined) reject('the document carries no nonce')
    if (!equalBytes(document.nonce, options.nonce)) reject('the nonce does not match')
  }

  const pcrs: Record<number, string> = {}
  for (const [index, value] of [...document.pcrs].sort((a, b) => a[0] - b[0])) pcrs[index] = Buffer.from(value).toString('hex')
  return {
    moduleId: document.moduleId,
    timestamp: new Date(document.timestamp),
    digest: 'SHA384',
    pcrs,
    ...(document.publicKey === undefined ? {} : { publicKey: document.publicKey }),
    ...(document.userData === undefined ? {} : { userData: document.userData }),
    ...(document.nonce === undefined ? {} : { nonce: document.nonce }),
    certificate: document.certificate,
    cabundle: document.cabundle,
  }
}

type Options = {
  roots: X509Certificate[]
  now: Date
  expectedPcrs: [number, Uint8Array][]
  nonce: Uint8Array | undefined
  maxAgeMs: number | undefined
}

function parseOptions(parameters: VerifyAttestationDocumentParameters): Options {
  const p = assertObject(parameters, 'parameters', ['roots', 'now', 'expectedPcrs', 'nonce', 'maxAgeMs'])
  let roots: X509Certificate[]
  if (p.roots === undefined) {
    defaultRoots ??= [new X509Certificate(AWS_NITRO_ENCLAVES_ROOT_G1_PEM)]
    roots = defaultRoots
  } else {
    if (!Array.isArray(p.roots) || p.roots.length === 0) fail('roots', 'must be a non-empty array of PEM certificates')
    roots = p.roots.map((pem: unknown, i: number) => {
      if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) fail(`roots[${i}]`, 'must be a PEM certificate')
      try {
        return new X509Certificate(pem)
      } catch {
        return fail(`roots[${i}]`, 'is not a parseable certificate')
      }
    })
  }
  const now = p.now ?? new Date()
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) fail('now', 'must be a valid Date')
  const expectedPcrs: [number, Uint8Array][] = []
  if (p.expectedPcrs !== undefined) {
    if (typeof p.expectedPcrs !== 'object' || p.expectedPcrs === null || Array.isArray(p.expectedPcrs)) {
      fail('expectedPcrs', 'must be an object of PCR index → hex')
    }
    for (const [key, value] of Object.entries(p.expectedPcrs)) {
      const index = Number(key)
      if (!/^\d{1,2}$/.test(key) || index > 31) fail(`expectedPcrs.${key.slice(0, 8)}`, 'must be a PCR index 0..31')
      if (typeof value !== 'string') fail(`expectedPcrs.${index}`, `must be a hex string (got ${typeName(value)})`)
      const hex = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value
      if (!/^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$/.test(hex)) {
        fail(`expectedPcrs.${index}`, 'must be 32, 48 or 64 bytes of hex')
      }
      expectedPcrs.push([index, Uint8Array.from(Buffer.from(hex, 'hex'))])
    }
  }
  if (p.nonce !== undefined && !(p.nonce instanceof Uint8Array)) fail('nonce', `must be a Uint8Array (got ${typeName(p.nonce)})`)
  if (p.maxAgeMs !== undefined && (typeof p.maxAgeMs !== 'number' || !Number.isFinite(p.maxAgeMs) || p.maxAgeMs < 0)) {
    fail('maxAgeMs', 'must be a non-negative finite number')
  }
  return {
    roots,
    now,
    expectedPcrs,
    nonce: p.nonce as Uint8Array | undefined,
    maxAgeMs: p.maxAgeMs as number | undefined,
  }
}

function parseCoseSign1(bytes: Uint8Array): { protectedHeader: Uint8Array; payload: Uint8Array; signature: Uint8Array } {
  let top: CborValue
  try {
    top = decodeCbor(bytes)
  } catch (cause) {
    return reject(`the document is not well-formed CBOR (${(cause as Error).message})`)
  }
  if (top instanceof CborTag) {
    if (top.tag !== COSE_SIGN1_TAG) reject(`the document has CBOR tag ${top.tag}, expected 18 (COSE_Sign1) or none`)
    top = top.value
  }
  if (!Array.isArray(top) || top.length !== 4) reject('the document is not a COSE_Sign1 array of four items')
  const [protectedHeader, unprotectedHeader, payload, signature] = top as [CborValue, CborValue, CborValue, CborValue]
  if (!(protectedHeader instanceof Uint8Array)) reject('the COSE protected header is not a byte string')
  let header: CborValue
  try {
    header = decodeCbor(protectedHeader)
  } catch (cause) {
    return reject(`the COSE protected header is not well-formed CBOR (${(cause as Error).message})`)
  }
  if (!(header instanceof Map) || header.size !== 1 || header.get(1) !== ES384) {
    reject('the COSE protected header must be exactly {1: -35} (alg ES384)')
  }
  if (!(unprotectedHeader instanceof Map) || unprotectedHeader.size !== 0) reject('the COSE unprotected header must be an empty map')
  if (!(payload instanceof Uint8Array)) reject('the COSE payload is not a byte string (detached payloads are not supported)')
  if (payload.length === 0 || payload.length > MAX_PAYLOAD_BYTES) reject(`the COSE payload must be 1..${MAX_PAYLOAD_BYTES} bytes`)
  if (!(signature instanceof Uint8Array)) reject('the COSE signature is not a byte string')
  if (signature.length !== 96) reject(`the COSE signature must be 96 bytes (ES384 r||s), got ${signature.length}`)
  return { protectedHeader, payload, signature }
}

type Document = {
  moduleId: string
  timestamp: number
  pcrs: Map<number, Uint8Array>
  certificate: Uint8Array
  cabundle: Uint8Array[]
  publicKey?: Uint8Array
  userData?: Uint8Array
  nonce?: Uint8Array
}

function parsePayload(payload: Uint8Array): Document {
  let map: CborValue
  try {
    map = decodeCbor(payload)
  } catch (cause) {
    return reject(`the payload is not well-formed CBOR (${(cause as Error).message})`)
  }
  if (!(map instanceof Map)) reject('the payload is not a CBOR map')
  for (const key of map.keys()) {
    if (typeof key !== 'string' || !KNOWN_FIELDS.includes(key)) reject('the payload has an unknown field')
  }
  for (const field of MANDATORY_FIELDS) if (!map.has(field)) reject(`the payload has no "${field}"`)

  const moduleId = map.get('module_id')
  if (typeof moduleId !== 'string' || moduleId.length === 0) reject('"module_id" must be a non-empty text string')
  if (map.get('digest') !== 'SHA384') reject('"digest" must be "SHA384"')
  const timestamp = map.get('timestamp')
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0) {
    reject('"timestamp" must be a positive integer of milliseconds')
  }

  const rawPcrs = map.get('pcrs')
  if (!(rawPcrs instanceof Map)) reject('"pcrs" must be a map')
  if (rawPcrs.size < 16 || rawPcrs.size > 32) reject('"pcrs" must hold 16 to 32 entries')
  const pcrs = new Map<number, Uint8Array>()
  for (const [index, value] of rawPcrs) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 31) reject('"pcrs" keys must be integers 0..31')
    if (!(value instanceof Uint8Array) || (value.length !== 32 && value.length !== 48 && value.length !== 64)) {
      reject(`PCR${index} must be a byte string of 32, 48 or 64 bytes`)
    }
    pcrs.set(index, value)
  }

  const certificate = map.get('certificate')
  if (!isBytes(certificate, 1, 1024)) reject('"certificate" must be a byte string of 1..1024 bytes')
  const cabundle = map.get('cabundle')
  if (!Array.isArray(cabundle) || cabundle.length === 0) reject('"cabundle" must be a non-empty array')
  cabundle.forEach((entry, i) => {
    if (!isBytes(entry, 1, 1024)) reject(`"cabundle[${i}]" must be a byte string of 1..1024 bytes`)
  })

  const document: Document = { moduleId, timestamp, pcrs, certificate, cabundle: cabundle as Uint8Array[] }
  const publicKey = map.get('public_key')
  if (publicKey !== undefined && publicKey !== null) {
    if (!isBytes(publicKey, 1, 1024)) reject('"public_key" must be null or a byte string of 1..1024 bytes')
    document.publicKey = publicKey
  }
  const userData = map.get('user_data')
  if (userData !== undefined && userData !== null) {
    if (!isBytes(userData, 0, 512)) reject('"user_data" must be null or a byte string of 0..512 bytes')
    document.userData = userData
  }
  const nonce = map.get('nonce')
  if (nonce !== undefined && nonce !== null) {
    if (!isBytes(nonce, 0, 512)) reject('"nonce" must be null or a byte string of 0..512 bytes')
    document.nonce = nonce
  }
  return document
}

/** Validate cabundle[0] against the roots, then each link down to the leaf; returns the leaf's public key. */
function verifyChain(leafDer: Uint8Array, cabundle: Uint8Array[], roots: X509Certificate[], now: Date): KeyObject {
  const rootDer = cabundle[0]!
  if (!roots.some((root) => equalBytes(root.raw, rootDer))) reject('cabundle[0] is not a trusted root certificate')

  // Chain in issuance order: root, intermediates…, leaf.
  const ders = [...cabundle, leafDer]
  const names = [...cabundle.map((_, i) => `cabundle[${i}]`), 'certificate']
  const certs = ders.map((der, i) => {
    try {
      return new X509Certificate(der)
    } catch (cause) {
      return reject(`${names[i]} is not a parseable X.509 certificate`, cause)
    }
  })
  // Read one certificate's facts only once every certificate above it passed, its own link included: a forged
  // chain then costs the parse of its first forged certificate, not of all of them (a hostile proxy can send up
  // to the document's size limit of certificates full of extensions).
  const factsOf = (i: number) => {
    try {
      return readCertificateFacts(ders[i]!)
    } catch (cause) {
      return reject(`${names[i]} is not a well-formed certificate (${(cause as Error).message})`, cause)
    }
  }

  const root = certs[0]!
  if (!guarded(() => root.checkIssued(root) && root.verify(root.publicKey))) reject('the root certificate is not self-signed')
  const leafIndex = certs.length - 1
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i]!
    const fact = factsOf(i)
    const name = names[i]!
    if (fact.version !== 3) reject(`${name} is not an X.509 v3 certificate`)
    if (fact.signatureAlgorithm !== OID_ECDSA_WITH_SHA384) reject(`${name} is not signed with ecdsa-with-SHA384`)
    const key = guarded(() => cert.publicKey)
    if (key === false || key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
      reject(`${name} does not hold a P-384 key`)
    }
    if (now < fact.notBefore || now > fact.notAfter) {
      reject(
        `${name} is not valid at ${now.toISOString()} (valid ${fact.notBefore.toISOString()} to ${fact.notAfter.toISOString()})`,
      )
    }
    const unknownCritical = fact.criticalExtensionOids.find((oid) => !UNDERSTOOD_CRITICAL.has(oid))
    if (unknownCritical !== undefined) reject(`${name} has an unsupported critical extension ${unknownCritical}`)
    if (i < leafIndex) checkCa(fact, name, leafIndex - i - 1)
    else checkLeaf(fact, name)
    if (i > 0) {
      const issuer = certs[i - 1]!
      if (!guarded(() => cert.checkIssued(issuer))) reject(`${name} was not issued by ${names[i - 1]}`)
      if (!guarded(() => cert.verify(issuer.publicKey))) reject(`the signature on ${name} does not verify with ${names[i - 1]}`)
    }
  }
  // Its key was read and checked to be P-384 above.
  return certs[leafIndex]!.publicKey
}

/** Run an OpenSSL-backed check that may throw on malformed input; a throw counts as failure (`false`). */
function guarded<T>(fn: () => T): T | false {
  try {
    return fn()
  } catch {
    return false
  }
}

/** A CA certificate followed by `casBelow` further CA certificates before the leaf. */
function checkCa(fact: CertificateFacts, name: string, casBelow: number): void {
  const bc = fact.basicConstraints
  if (bc === undefined || !bc.ca) reject(`${name} is not a CA certificate (basicConstraints cA is not set)`)
  if (!fact.criticalExtensionOids.includes(OID_BASIC_CONSTRAINTS)) reject(`${name} has non-critical basicConstraints`)
  if (fact.keyUsage === undefined || !fact.keyUsage.keyCertSign) reject(`${name} may not sign certificates (keyUsage lacks keyCertSign)`)
  if (bc.pathLength !== undefined && casBelow > bc.pathLength) reject(`${name} path length constraint is exceeded`)
}

function checkLeaf(fact: CertificateFacts, name: string): void {
  if (fact.basicConstraints?.ca === true) reject(`${name} (the leaf) is a CA certificate`)
  if (fact.keyUsage === undefined || !fact.keyUsage.digitalSignature) reject(`${name} may not sign (keyUsage lacks digitalSignature)`)
}

/** `Sig_structure = ["Signature1", body_protected, external_aad = h'', payload]` in CBOR (RFC 9052 §4.4). */
function sigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Buffer {
  return Buffer.concat([
    Uint8Array.of(0x84, 0x6a),
    Buffer.from('Signature1', 'ascii'),
    bstrHead(protectedHeader.length),
    protectedHeader,
    Uint8Array.of(0x40),
    bstrHead(payload.length),
    payload,
  ])
}

function bstrHead(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x40 | length)
  if (length < 0x100) return Uint8Array.of(0x58, length)
  if (length < 0x10000) return Uint8Array.of(0x59, length >> 8, length & 0xff)
  return Uint8Array.of(0x5a, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)
}

function isBytes(value: unknown, min: number, max: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length >= min && value.length <= max
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

function reject(reason: string, cause?: unknown): never {
  throw new AttestationError({ reason, cause })
}
