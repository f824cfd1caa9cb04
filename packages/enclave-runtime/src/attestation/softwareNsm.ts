import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import type { Name } from '@peculiar/asn1-x509'
import type { AttestationProvider } from '../keys/types.js'
import { type DistinguishedName, issueCertificate, subjectNameOf, toName } from './certificates.js'
import { computeRuntimeMeasurement } from './computeRuntimeMeasurement.js'
import { createSoftwareNsmCa, loadOrCreateSoftwareNsmCa, parseSoftwareNsmCa, type SoftwareNsmCa } from './createSoftwareNsmCa.js'
import { encodeCbor } from './encodeCbor.js'

/** Options of {@link createSoftwareNsm}. */
export type CreateSoftwareNsmParameters = {
  /**
   * PCR overrides, index 0..15 → 48 bytes (hex, optionally `0x`-prefixed, or bytes). Unlisted PCRs keep
   * their defaults: PCR0 = {@link computeRuntimeMeasurement}, PCR1/PCR2 derived from PCR0, others zero.
   */
  pcrs?: Record<number, string | Uint8Array>
  /**
   * The root CA: its PEM material, or `{ dataDir }` to load it from (or create it in) a data directory.
   * @default a fresh root, trusted by nobody else (fine for tests)
   */
  ca?: SoftwareNsmCa | { dataDir: string }
  /** The module id. @default random, AWS-shaped: `i-0<16 hex>-enc<16 hex>` */
  moduleId?: string
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number
}

/** A software stand-in for the Nitro Secure Module: same document format, a local CA instead of AWS's. */
export type SoftwareNsm = AttestationProvider & {
  readonly kind: 'software'
  /** The root certificate (PEM) that verifiers must trust for this NSM's documents. */
  readonly rootCertificatePem: string
  /** The module id every document carries. */
  readonly moduleId: string
  /** PCR index → value (lowercase hex, 48 bytes), for all 16 PCRs. */
  readonly pcrs: Readonly<Record<number, string>>
  /**
   * Issue an attestation document: an untagged COSE_Sign1 (ES384) over the AWS payload map.
   * @throws InvalidArgumentError when a field exceeds the NSM limits (public_key 1..1024, user_data and nonce 0..512 bytes).
   */
  attest(request: { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array }): Promise<Uint8Array>
  /** One line saying what PCR `index` measures here. */
  describePcr(index: number): string
}

/** What {@link createSoftwareNsm} resolves to. */
export type CreateSoftwareNsmReturnType = SoftwareNsm

const PCR_COUNT = 16
const PCR_BYTES = 48
const LEAF_LIFETIME_MS = 3 * 3600_000
const LEAF_RENEW_BEFORE_MS = 3600_000
const INTERMEDIATE_LIFETIME_MS = 7 * 24 * 3600_000
const INTERMEDIATE_RENEW_BEFORE_MS = 24 * 3600_000
const BACKDATE_MS = 5 * 60_000
const PROTECTED_HEADER = encodeCbor(new Map([[1, -35]])) // {alg: ES384}

type Signer = { name: Name; key: KeyObject; publicKey: KeyObject; der: Uint8Array; notAfter: number }

/**
 * Create a software NSM that issues attestation documents in exactly the AWS Nitro format (COSE_Sign1,
 * ES384, untagged; payload `module_id`, `digest` "SHA384", `timestamp` in ms, 16 PCRs of 48 bytes,
 * `certificate`, `cabundle` [root, intermediate], `public_key`, `user_data`, `nonce`, with absent
 * optional fields as `null`), signed through a local CA: root → intermediate → per-boot leaf, all P-384.
 *
 * It proves nothing about isolation: it exists so that the whole attested-KMS path runs locally, with
 * local-aws trusting `rootCertificatePem` the way AWS KMS trusts the AWS Nitro root.
 *
 * @param parameters - PCR overrides, CA material, module id, clock.
 * @returns The NSM.
 * @throws InvalidArgumentError on malformed parameters or CA material.
 * @example
 * import { createSoftwareNsm } from '@enclave-custody/enclave-runtime'
 * import { verifyAttestationDocument } from '@enclave-custody/sdk'
 * const nsm = await createSoftwareNsm({ ca: { dataDir: '.custody' } })
 * const doc = await nsm.attest({ nonce: new Uint8Array(16) })
 * verifyAttestationDocument(doc, { roots: [nsm.rootCertificatePem] })
 */
export async function createSoftwareNsm(parameters: CreateSoftwareNsmParameters = {}): Promise<CreateSoftwareNsmReturnType> {
  const { pcrs: pcrOverrides, ca: caOption, moduleId = randomModuleId(), now = Date.now } = parameters
  if (typeof moduleId !== 'string' || !/^[A-Za-z0-9.-]{1,128}$/.test(moduleId)) {
    throw new InvalidArgumentError({ field: 'moduleId', rule: 'must be 1..128 characters of [A-Za-z0-9.-]' })
  }
  const overrides = parsePcrOverrides(pcrOverrides)
  let material: SoftwareNsmCa
  if (caOption === undefined) material = createSoftwareNsmCa()
  else if (typeof caOption === 'object' && caOption !== null && 'dataDir' in caOption) {
    if (typeof caOption.dataDir !== 'string' || caOption.dataDir.length === 0) throw new InvalidArgumentError({ field: 'ca.dataDir', rule: 'must be a directory path' })
    material = await loadOrCreateSoftwareNsmCa(caOption.dataDir)
  } else material = caOption
  const root = parseSoftwareNsmCa(material)
  const rootDer = new Uint8Array(root.certificate.raw)
  const rootSigner: Signer = {
    name: subjectNameOf(rootDer),
    key: root.key,
    publicKey: root.publicKey,
    der: rootDer,
    notAfter: new Date(root.certificate.validTo).getTime(),
  }

  // PCRs: PCR0 measures the runtime's code unless overridden; PCR1/2 derive from the effective PCR0.
  const measurement = overrides.has(0) ? undefined : await computeRuntimeMeasurement()
  const pcrs = new Map<number, Uint8Array>()
  pcrs.set(0, overrides.get(0) ?? measurement!.digest)
  pcrs.set(1, overrides.get(1) ?? derivePcr(1, pcrs.get(0)!))
  pcrs.set(2, overrides.get(2) ?? derivePcr(2, pcrs.get(0)!))
  for (let i = 3; i < PCR_COUNT; i++) pcrs.set(i, overrides.get(i) ?? new Uint8Array(PCR_BYTES))
  const describe = (index: number): string => {
    if (!Number.isInteger(index) || index < 0 || index >= PCR_COUNT) return `PCR${index}: not present (the software NSM has PCR0..PCR15)`
    if (overrides.has(index)) return `PCR${index}: set by configuration`
    if (index === 0) return `PCR0: SHA-384 of the enclave-runtime code (${measurement!.fileCount} files under ${measurement!.directory})`
    if (index === 1) return 'PCR1: SHA-384("enclave-custody/software-nsm/PCR1" ‖ PCR0), standing in for the kernel and bootstrap measurement'
    if (index === 2) return 'PCR2: SHA-384("enclave-custody/software-nsm/PCR2" ‖ PCR0), standing in for the application measurement'
    return `PCR${index}: zero (not used by the software NSM)`
  }

  const enclaveId = moduleId.includes('-enc') ? moduleId.slice(0, moduleId.indexOf('-enc')) : moduleId
  let intermediate: Signer | undefined
  let leaf: Signer | undefined
  const signers = (t: number): { intermediate: Signer; leaf: Signer } => {
    if (t > rootSigner.notAfter) throw new InvalidArgumentError({ field: 'ca.rootCertPem', rule: 'has expired' })
    if (intermediate === undefined || intermediate.notAfter - t < INTERMEDIATE_RENEW_BEFORE_MS) {
      intermediate = issue(
        [
          ['C', 'US'],
          ['O', 'enclave-custody'],
          ['OU', 'software-nsm'],
          ['CN', `${enclaveId}.software.nitro-enclaves`],
        ],
        rootSigner,
        { pathLength: 0 },
        t,
        Math.min(INTERMEDIATE_LIFETIME_MS, rootSigner.notAfter - t),
      )
      leaf = undefined
    }
    if (leaf === undefined || leaf.notAfter - t < LEAF_RENEW_BEFORE_MS) {
      leaf = issue(
        [
          ['C', 'US'],
          ['O', 'enclave-custody'],
          ['OU', 'software-nsm'],
          ['CN', `${moduleId}.software.local`],
        ],
        intermediate,
        false,
        t,
        Math.min(LEAF_LIFETIME_MS, intermediate.notAfter - t),
      )
    }
    return { intermediate, leaf }
  }

  const pcrHex: Record<number, string> = {}
  for (const [i, v] of pcrs) pcrHex[i] = Buffer.from(v).toString('hex')

  return {
    kind: 'software',
    rootCertificatePem: material.rootCertPem,
    moduleId,
    pcrs: Object.freeze(pcrHex),
    describePcr: describe,
    async attest(request) {
      const { publicKey, userData, nonce } = parseRequest(request)
      const t = Math.floor(now())
      const chain = signers(t)
      const payload = encodeCbor(
        new Map<string, Parameters<typeof encodeCbor>[0]>([
          ['module_id', moduleId],
          ['digest', 'SHA384'],
          ['timestamp', t],
          ['pcrs', pcrs],
          ['certificate', chain.leaf.der],
          ['cabundle', [rootDer, chain.intermediate.der]],
          ['public_key', publicKey ?? null],
          ['user_data', userData ?? null],
          ['nonce', nonce ?? null],
        ]),
      )
      const toBeSigned = encodeCbor(['Signature1', PROTECTED_HEADER, new Uint8Array(0), payload])
      const signature = sign('sha384', toBeSigned, { key: chain.leaf.key, dsaEncoding: 'ieee-p1363' })
      return encodeCbor([PROTECTED_HEADER, new Map(), payload, new Uint8Array(signature)])
    },
  }
}

function issue(subject: DistinguishedName, issuer: Signer, ca: false | { pathLength: number }, t: number, lifetimeMs: number): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
  const notAfter = Math.floor((t + lifetimeMs) / 1000) * 1000
  const der = issueCertificate({
    subject,
    publicKey,
    ca,
    issuer: { name: issuer.name, publicKey: issuer.publicKey },
    signingKey: issuer.key,
    notBefore: new Date(t - BACKDATE_MS),
    notAfter: new Date(notAfter),
  })
  return { name: toName(subject), key: privateKey, publicKey, der, notAfter }
}

function derivePcr(index: 1 | 2, pcr0: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha384').update(`enclave-custody/software-nsm/PCR${index}`, 'utf8').update(pcr0).digest())
}

function parsePcrOverrides(pcrs: unknown): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>()
  if (pcrs === undefined) return out
  if (typeof pcrs !== 'object' || pcrs === null || Array.isArray(pcrs)) {
    throw new InvalidArgumentError({ field: 'pcrs', rule: 'must be an object of PCR index → 48-byte value' })
  }
  for (const [key, value] of Object.entries(pcrs)) {
    const index = Number(key)
    if (!/^\d{1,2}$/.test(key) || index >= PCR_COUNT) throw new InvalidArgumentError({ field: `pcrs.${key.slice(0, 8)}`, rule: 'must be a PCR index 0..15' })
    let bytes: Uint8Array
    if (value instanceof Uint8Array) bytes = Uint8Array.from(value)
    else if (typeof value === 'string' && /^(?:0x)?[0-9a-fA-F]{96}$/.test(value)) bytes = Uint8Array.from(Buffer.from(value.replace(/^0x/, ''), 'hex'))
    else throw new InvalidArgumentError({ field: `pcrs.${index}`, rule: 'must be 48 bytes (Uint8Array or 96 hex digits)' })
    if (bytes.length !== PCR_BYTES) throw new InvalidArgumentError({ field: `pcrs.${index}`, rule: 'must be 48 bytes (Uint8Array or 96 hex digits)' })
    out.set(index, bytes)
  }
  return out
}

function parseRequest(request: unknown): { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array } {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError({ field: 'request', rule: 'must be an object' })
  const { publicKey, userData, nonce, ...rest } = request as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) throw new InvalidArgumentError({ field: 'request', rule: `has unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))}` })
  return {
    publicKey: bytesField(publicKey, 'publicKey', 1, 1024),
    userData: bytesField(userData, 'userData', 0, 512),
    nonce: bytesField(nonce, 'nonce', 0, 512),
  }
}

function bytesField(value: unknown, field: string, min: number, max: number): Uint8Array | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof Uint8Array) || value.length < min || value.length > max) {
    throw new InvalidArgumentError({ field, rule: `must be a Uint8Array of ${min}..${max} bytes` })
  }
  return Uint8Array.from(value)
}

function randomModuleId(): string {
  return `i-0${randomBytes(8).toString('hex')}-enc${randomBytes(8).toString('hex')}`
}
