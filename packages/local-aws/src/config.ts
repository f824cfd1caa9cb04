import { X509Certificate } from 'node:crypto'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import type { VerifyAttestationFunction } from './attestation/verifier.js'
import { isPrincipalArn } from './auth/principals.js'
import type { PrincipalCredentials } from './auth/verifySigV4.js'
import { PolicyDocumentError } from './policy/PolicyDocumentError.js'
import { parseIdentityPolicy } from './policy/parseKeyPolicy.js'
import type { IdentityPolicyDocument } from './policy/types.js'
import type { LocalAwsLogEntry } from './server/createRequestHandler.js'
import type { StateFileSystem } from './store/JsonStateStore.js'

/** Options of {@link startLocalAws}. */
export type StartLocalAwsParameters = {
  /** TCP port; `0` picks a free one. @default 0 */
  port?: number
  /** Interface to listen on. Keep it on loopback: the server holds keys and secrets. @default '127.0.0.1' */
  host?: string
  /** Directory for persisted state (`kms.json`, `secretsmanager.json`); omitted = in memory only. @default undefined */
  dataDir?: string
  /**
   * The default account: that of the default principal and of `LocalAws.accountId`. Every principal belongs to
   * the account in its ARN, and a key or secret to the account of the principal that creates it, so principals
   * of several accounts make several accounts. @default '000000000000'
   */
  accountId?: string
  /** The region in ARNs and in the SigV4 credential scope clients must use. @default 'us-east-1' */
  region?: string
  /** Trusted roots for Nitro attestation documents (PEM certificates), as real KMS trusts the AWS Nitro root. @default [] */
  attestationRoots?: readonly string[]
  /**
   * Access key id → credentials, identity and IAM identity policies. Requests must be SigV4-signed by one of
   * them; the account of each is the one in its ARN.
   * @default { test: { secretAccessKey: 'test', arn: 'arn:aws:iam::<accountId>:root' } }
   */
  principals?: Readonly<Record<string, PrincipalCredentials>>
  /** Delay added to every API call, to exercise timeouts. @default 0 */
  latencyMs?: number
  /**
   * Verifies `Recipient.AttestationDocument`. @default the `verifyAttestationDocument` of `@enclave-custody/sdk`
   * with `attestationRoots`
   */
  verifyAttestation?: VerifyAttestationFunction
  /** The time source for SigV4 skew checks, timestamps, deletion windows and certificate validity. @default () => new Date() */
  clock?: () => Date
  /** Receives one entry per request (no bodies, no secrets). @default undefined (silent) */
  log?: (entry: LocalAwsLogEntry) => void
  /** The file-system calls of state writes under `dataDir` (tests inject ENOSPC / EROFS). @default node:fs/promises */
  stateFileSystem?: StateFileSystem
}

/** {@link StartLocalAwsParameters} checked and with defaults applied. */
export type LocalAwsConfig = {
  port: number
  host: string
  dataDir: string | undefined
  accountId: string
  region: string
  attestationRoots: string[]
  principals: Map<string, PrincipalCredentials>
  latencyMs: number
  verifyAttestation: VerifyAttestationFunction | undefined
  clock: () => Date
  log: ((entry: LocalAwsLogEntry) => void) | undefined
  stateFileSystem: StateFileSystem | undefined
}

const OPTION_KEYS = new Set([
  'port',
  'host',
  'dataDir',
  'accountId',
  'region',
  'attestationRoots',
  'principals',
  'latencyMs',
  'verifyAttestation',
  'clock',
  'log',
  'stateFileSystem',
])

/**
 * Validate {@link StartLocalAwsParameters} and apply defaults.
 *
 * @throws InvalidArgumentError naming the first bad option
 */
export function resolveLocalAwsConfig(options: StartLocalAwsParameters = {}): LocalAwsConfig {
  if (typeof options !== 'object' || options === null) fail('options', 'must be an object')
  for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) fail(key.slice(0, 40), 'is not an option of startLocalAws')
  const own = <K extends keyof StartLocalAwsParameters>(key: K): StartLocalAwsParameters[K] =>
    Object.hasOwn(options, key) ? options[key] : undefined

  const port = own('port') ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65_535) fail('port', 'must be an integer from 0 to 65535')
  const host = own('host') ?? '127.0.0.1'
  if (typeof host !== 'string' || host.length === 0) fail('host', 'must be a non-empty string')
  const dataDir = own('dataDir')
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir.length === 0)) fail('dataDir', 'must be a non-empty path')
  const accountId = own('accountId') ?? '000000000000'
  if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId)) fail('accountId', 'must be 12 digits')
  const region = own('region') ?? 'us-east-1'
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region)) fail('region', 'must be a region name such as us-east-1')
  const latencyMs = own('latencyMs') ?? 0
  if (!Number.isInteger(latencyMs) || latencyMs < 0 || latencyMs > 600_000) fail('latencyMs', 'must be an integer from 0 to 600000')

  const roots = own('attestationRoots') ?? []
  if (!Array.isArray(roots)) fail('attestationRoots', 'must be an array of PEM certificates')
  roots.forEach((pem, i) => {
    try {
      if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not PEM')
      new X509Certificate(pem)
    } catch (cause) {
      throw new InvalidArgumentError({ field: `attestationRoots[${i}]`, rule: 'must be a PEM certificate', cause })
    }
  })

  const principals = new Map<string, PrincipalCredentials>()
  const rawPrincipals = own('principals') ?? { test: { secretAccessKey: 'test', arn: `arn:aws:iam::${accountId}:root` } }
  if (typeof rawPrincipals !== 'object' || rawPrincipals === null || Array.isArray(rawPrincipals)) fail('principals', 'must map access key ids to credentials')
  for (const [accessKeyId, p] of Object.entries(rawPrincipals)) {
    const field = `principals.${accessKeyId.slice(0, 40)}`
    if (!/^[\w+=,.@-]{1,128}$/.test(accessKeyId)) fail(field, 'has an invalid access key id')
    if (typeof p !== 'object' || p === null) fail(field, 'must be { secretAccessKey, arn, sessionToken?, policies? }')
    for (const key of Object.keys(p)) {
      if (!['secretAccessKey', 'arn', 'sessionToken', 'policies'].includes(key)) fail(`${field}.${key.slice(0, 40)}`, 'is not a principal setting (secretAccessKey, arn, sessionToken, policies)')
    }
    if (typeof p.secretAccessKey !== 'string' || p.secretAccessKey.length === 0) fail(`${field}.secretAccessKey`, 'must be a non-empty string')
    if (typeof p.arn !== 'string' || !isPrincipalArn(p.arn)) {
      fail(`${field}.arn`, 'must be an IAM principal ARN (arn:aws:iam::<account>:root|user/…|role/… or arn:aws:sts::<account>:assumed-role/…/…)')
    }
    if (p.sessionToken !== undefined && (typeof p.sessionToken !== 'string' || p.sessionToken.length === 0)) {
      fail(`${field}.sessionToken`, 'must be a non-empty string')
    }
    const policies = identityPolicies(p.policies, p.arn, field)
    principals.set(accessKeyId, {
      secretAccessKey: p.secretAccessKey,
      arn: p.arn,
      ...(p.sessionToken === undefined ? {} : { sessionToken: p.sessionToken }),
      ...(policies === undefined ? {} : { policies }),
    })
  }
  if (principals.size === 0) fail('principals', 'must name at least one principal')

  const verifyAttestation = own('verifyAttestation')
  if (verifyAttestation !== undefined && typeof verifyAttestation !== 'function') fail('verifyAttestation', 'must be a function')
  const clock = own('clock') ?? (() => new Date())
  if (typeof clock !== 'function') fail('clock', 'must be a function')
  const log = own('log')
  if (log !== undefined && typeof log !== 'function') fail('log', 'must be a function')

  const stateFileSystem = own('stateFileSystem')
  if (stateFileSystem !== undefined && (typeof stateFileSystem !== 'object' || stateFileSystem === null)) fail('stateFileSystem', 'must be an object of fs calls')

  return { port, host, dataDir, accountId, region, attestationRoots: [...roots], principals, latencyMs, verifyAttestation, clock, log, stateFileSystem }
}

/** Parse a principal's identity policies once at start, so a malformed one fails the start, naming it. */
function identityPolicies(value: unknown, arn: string, field: string): IdentityPolicyDocument[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) fail(`${field}.policies`, 'must be an array of IAM identity policies (JSON text or objects)')
  if (value.length > 0 && /^arn:aws:iam::\d{12}:root$/.test(arn)) {
    fail(`${field}.policies`, 'cannot be attached to the account root, which has every permission')
  }
  return value.map((policy, i) => {
    try {
      if (typeof policy !== 'string' && (typeof policy !== 'object' || policy === null)) throw new Error('not a policy')
      return parseIdentityPolicy(typeof policy === 'string' ? policy : JSON.stringify(policy))
    } catch (cause) {
      const reason = cause instanceof PolicyDocumentError ? cause.shortMessage.replace(/^invalid key policy: /, '') : 'must be an IAM identity policy (JSON text or object)'
      throw new InvalidArgumentError({ field: `${field}.policies[${i}]`, rule: `is not a valid identity policy: ${reason}`, cause })
    }
  })
}

function fail(field: string, rule: string): never {
  throw new InvalidArgumentError({ field, rule })
}
