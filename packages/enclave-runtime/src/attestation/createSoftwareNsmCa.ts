import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { createFileAtomic, writeFileAtomic } from '@enclave-custody/sdk/server'
import { type DistinguishedName, issueCertificate, toPem } from './certificates.js'

/**
 * The persisted part of a software NSM's CA: its root key and certificate. Keep both across restarts so
 * that whoever trusts `rootCertPem` (local-aws, like real KMS trusts the AWS Nitro root) keeps trusting
 * documents from a restarted runtime. Intermediates and leaves are made per boot.
 */
export type SoftwareNsmCa = {
  /** PKCS#8 PEM of the root's P-384 private key. Secret. */
  rootKeyPem: string
  /** PEM of the self-signed root certificate. Public. */
  rootCertPem: string
}

/** Options of {@link createSoftwareNsmCa}. */
export type CreateSoftwareNsmCaParameters = {
  /** Common name of the root. @default 'enclave-custody.software-nitro-enclaves' */
  commonName?: string
  /** Root lifetime in ms. @default 30 years, like the AWS Nitro root */
  lifetimeMs?: number
  /** Clock. @default Date.now */
  now?: () => number
}

/** Default lifetime of a software NSM root: 30 years, like the AWS Nitro root. */
export const ROOT_LIFETIME_MS = 30 * 365.25 * 24 * 3600_000

/** The root's subject. */
function rootName(commonName: string): DistinguishedName {
  return [
    ['C', 'US'],
    ['O', 'enclave-custody'],
    ['OU', 'software-nsm (NOT an AWS Nitro root)'],
    ['CN', commonName],
  ]
}

/**
 * Create a new root CA for a software NSM (P-384, self-signed, ecdsa-with-SHA384, 30 years).
 *
 * @param parameters - Optional name, lifetime and clock.
 * @returns The root key and certificate as PEM.
 * @example
 * import { createSoftwareNsm, createSoftwareNsmCa } from '@enclave-custody/enclave-runtime'
 * const ca = createSoftwareNsmCa()
 * const nsm = await createSoftwareNsm({ ca })
 */
export function createSoftwareNsmCa({
  commonName = 'enclave-custody.software-nitro-enclaves',
  lifetimeMs = ROOT_LIFETIME_MS,
  now = Date.now,
}: CreateSoftwareNsmCaParameters = {}): SoftwareNsmCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
  const t = now()
  const der = issueCertificate({
    subject: rootName(commonName),
    publicKey,
    signingKey: privateKey,
    ca: {},
    notBefore: new Date(t - 24 * 3600_000),
    notAfter: new Date(t + lifetimeMs),
  })
  return { rootKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), rootCertPem: toPem(der) }
}

/** File in the data directory holding the CA material as JSON `{ rootKeyPem, rootCertPem }` (mode 0600). */
export const SOFTWARE_NSM_CA_FILE = 'software-nsm-ca.json'
/** File in the data directory holding just the root certificate PEM, for verifiers in other processes. */
export const SOFTWARE_NSM_ROOT_CERT_FILE = 'software-nsm-root.pem'

/**
 * Load the software NSM root CA from `dataDir`, creating and persisting it on first use: the material in
 * {@link SOFTWARE_NSM_CA_FILE} (created atomically, mode 0600; concurrent first starts agree on one CA)
 * and the public root certificate in {@link SOFTWARE_NSM_ROOT_CERT_FILE}.
 *
 * @param dataDir - The data directory (created if missing, mode 0700).
 * @returns The CA material.
 * @throws InvalidArgumentError when the stored file does not hold a valid CA.
 * @example
 * import { createSoftwareNsm, loadOrCreateSoftwareNsmCa } from '@enclave-custody/enclave-runtime'
 * const nsm = await createSoftwareNsm({ ca: await loadOrCreateSoftwareNsmCa('.custody') })
 */
export async function loadOrCreateSoftwareNsmCa(dataDir: string): Promise<SoftwareNsmCa> {
  const caPath = join(dataDir, SOFTWARE_NSM_CA_FILE)
  const certPath = join(dataDir, SOFTWARE_NSM_ROOT_CERT_FILE)
  let ca: SoftwareNsmCa | undefined = await readCa(caPath)
  if (ca === undefined) {
    const fresh = createSoftwareNsmCa()
    await createFileAtomic(caPath, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 })
    ca = await readCa(caPath)
    if (ca === undefined) throw new Error(`loadOrCreateSoftwareNsmCa: ${caPath} vanished after creation`)
  }
  const existingCert = await readFile(certPath, 'utf8').catch(() => undefined)
  if (existingCert !== ca.rootCertPem) await writeFileAtomic(certPath, ca.rootCertPem, { mode: 0o644 })
  return ca
}

async function readCa(path: string): Promise<SoftwareNsmCa | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new InvalidArgumentError({ field: 'ca', rule: `file ${path} is not valid JSON` })
  }
  parseSoftwareNsmCa(parsed)
  const { rootKeyPem, rootCertPem } = parsed as SoftwareNsmCa
  return { rootKeyPem, rootCertPem }
}

/** A validated CA: a P-384 key that matches a currently usable self-signed CA certificate. */
export type ParsedSoftwareNsmCa = { key: KeyObject; publicKey: KeyObject; certificate: X509Certificate }

/**
 * Parse and check CA material.
 *
 * @internal
 */
export function parseSoftwareNsmCa(ca: unknown): ParsedSoftwareNsmCa {
  if (typeof ca !== 'object' || ca === null) throw new InvalidArgumentError({ field: 'ca', rule: 'must be { rootKeyPem, rootCertPem }' })
  const { rootKeyPem, rootCertPem } = ca as Record<string, unknown>
  if (typeof rootKeyPem !== 'string') throw new InvalidArgumentError({ field: 'ca.rootKeyPem', rule: 'must be a PKCS#8 PEM string' })
  if (typeof rootCertPem !== 'string') throw new InvalidArgumentError({ field: 'ca.rootCertPem', rule: 'must be a PEM certificate' })
  let key: KeyObject
  let certificate: X509Certificate
  try {
    key = createPrivateKey(rootKeyPem)
  } catch {
    throw new InvalidArgumentError({ field: 'ca.rootKeyPem', rule: 'is not a parseable private key' })
  }
  try {
    certificate = new X509Certificate(rootCertPem)
  } catch {
    throw new InvalidArgumentError({ field: 'ca.rootCertPem', rule: 'is not a parseable certificate' })
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new InvalidArgumentError({ field: 'ca.rootKeyPem', rule: 'must be a P-384 EC key' })
  }
  const publicKey = createPublicKey(key)
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' })
  if (!spki(publicKey).equals(spki(certificate.publicKey))) {
    throw new InvalidArgumentError({ field: 'ca', rule: 'rootKeyPem does not match rootCertPem' })
  }
  if (!certificate.ca || !certificate.checkIssued(certificate) || !certificate.verify(publicKey)) {
    throw new InvalidArgumentError({ field: 'ca.rootCertPem', rule: 'must be a self-signed CA certificate' })
  }
  return { key, publicKey, certificate }
}
