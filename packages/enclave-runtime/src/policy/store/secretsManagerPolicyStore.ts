import { GetSecretValueCommand, type GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { CustodyError, DEFAULT_POLICY_SECRET_PREFIX, ErrorCode, IntegrityError, InvalidArgumentError, signingPolicySecretName, type UnavailableError } from '@enclave-custody/sdk'
import type { AwsCredentials, UnsealContext } from '../../keys/types.js'
import { AMAZON_TRUST_SERVICES_ROOTS } from '../../trust/amazonTrustServicesRoots.js'
import { REGION } from '../../trust/checkKmsKeyArn.js'
import { checkAwsEndpoint, createClientsPerCredentials, describeAwsFailure, trustedRootsOf } from '../../trust/awsClients.js'
import type { PolicyStore } from '../types.js'
import { mapSecretsManagerError } from './mapSecretsManagerError.js'

/**
 * One read, retries and queueing for a socket included, ends within this (as one KMS call does): a parent
 * that stalls the vsock proxy holds a request for at most this long.
 */
export const POLICY_READ_DEADLINE_MS = 15_000

/** Options of {@link createSecretsManagerPolicyStore}. */
export type CreateSecretsManagerPolicyStoreParameters = {
  /** The region the policies live in: the pinned sealing key's (`policyStoreLocationOf`). */
  region: string
  /** The account the policies live in (12 digits): the pinned sealing key's (`policyStoreLocationOf`). */
  account: string
  /** The ARN partition. @default 'aws' */
  partition?: string
  /** Secrets Manager endpoint override (local-aws). @default the regional endpoint, https://secretsmanager.<region>.amazonaws.com */
  endpoint?: string
  /**
   * The only roots the client's TLS trusts (PEM, one certificate per entry). Node's default store and
   * `NODE_EXTRA_CA_CERTS` are not used. @default AMAZON_TRUST_SERVICES_ROOTS (compiled into the runtime, so
   * measured into PCR0)
   */
  caCertificates?: readonly string[]
  /** Accept a plain `http://` endpoint (local development only: nothing authenticates Secrets Manager then). @default false */
  allowHttpEndpoint?: boolean
  /** Secret name prefix (a secret name's characters, ending with `/`); a key's secret is `signingPolicySecretName(keyId, prefix)`. @default DEFAULT_POLICY_SECRET_PREFIX ('enclave-custody/policies/') */
  prefix?: string
  /** Deadline of one read, retries included. @default POLICY_READ_DEADLINE_MS (15 s) */
  deadlineMs?: number
  /** Attempts per call, including the first (the AWS SDK's retry strategy). @default 3 */
  maxAttempts?: number
}

/** The production policy store (kind `secrets-manager`): read only. */
export type SecretsManagerPolicyStore = PolicyStore & {
  readonly kind: 'secrets-manager'
  readonly write?: undefined
  /** The secret name of a keyId's policy: `<prefix><keyId>/policy` (`signingPolicySecretName`). */
  secretNameOf(keyId: string): string
  /** The `SecretId` a read sends: the partial ARN `arn:<partition>:secretsmanager:<region>:<account>:secret:<prefix><keyId>/policy`. */
  secretIdOf(keyId: string): string
  /** Close the clients' connections. */
  close(): void
}

/** What {@link createSecretsManagerPolicyStore} returns. */
export type CreateSecretsManagerPolicyStoreReturnType = SecretsManagerPolicyStore

/** Thrown by `read`: fail closed, never "no policy" for what could not be read. */
export type SecretsManagerPolicyStoreErrorType = InvalidArgumentError | IntegrityError | UnavailableError

const ACCOUNT = /^\d{12}$/
const PARTITION = /^aws(?:-[a-z]+)*$/
const PREFIX = /^[A-Za-z0-9/_+=.@-]{1,200}\/$/
// Secrets Manager ends every secret ARN with "-" and six random characters. Observed (and what local-aws makes):
// letters and digits; that AWS never uses another character there is unverified (the docs say "six random
// characters"). A wider alphabet would only widen what is accepted after the exact name, never the name.
const ARN_SUFFIX = '-[A-Za-z0-9]{6}'

/**
 * The production policy store: the enclave reads a key's current signed signing policy itself, from Secrets
 * Manager, so that the parent — which may forward any old document — is not trusted for the current version.
 *
 * `read(keyId, { credentials })` sends one `GetSecretValue` with `SecretId` = the partial ARN
 * `arn:<partition>:secretsmanager:<region>:<account>:secret:<prefix><keyId>/policy` (the region and account of
 * the pinned sealing key, so measured into PCR0; not the parent's choice) and `VersionStage: 'AWSCURRENT'`,
 * signed with the credentials the parent forwarded with the request (the instance role's; never ambient
 * credentials). Never a request by bare name: a name alone is looked up in the account of whatever credentials
 * sign it, which the parent chooses.
 * TLS ends here and trusts only `caCertificates` (by default the Amazon Trust Services roots compiled into the
 * runtime); a plain `http://` endpoint needs `allowHttpEndpoint` (development).
 *
 * The answer is checked before its value is used: its `ARN` must be in that partition, region and account
 * and name exactly that secret (`…:secret:<prefix><keyId>/policy-XXXXXX`), its `Name` must be `<prefix><keyId>/policy`,
 * `AWSCURRENT` must be among its `VersionStages`, and its `SecretString` must be JSON — else `IntegrityError`.
 * The parsed JSON is returned untrusted: the handler verifies it against the key's owners.
 *
 * - `ResourceNotFoundException` → `undefined` (no policy stored).
 * - Anything else (access denied — e.g. credentials of another account, which cannot read this account's
 *   secret —, bad credentials, throttling, network, time-out after `deadlineMs`, an untrusted certificate) →
 *   `UNAVAILABLE`: fail closed, never "no policy".
 *
 * The name ends in `/policy` (`signingPolicySecretName`), never in `-` and six characters: Secrets Manager takes a
 * partial ARN whose name ends that way for a complete ARN (those six characters for its random suffix), and would
 * answer "not found" for `<prefix>pay-eu0001`, which exists. A keyId never contains `/`, so no keyId's partial
 * ARN is another key's complete ARN either.
 *
 * There is no `write`: the instance role is read-only; the importer role stores documents
 * (`KmsImporter.storeSigningPolicy`).
 *
 * @param parameters - Pinned account and region, endpoint, trusted roots, prefix, deadline.
 * @returns The store.
 * @throws InvalidArgumentError on malformed parameters (a region or account that is not one, an `http://`
 *   endpoint without `allowHttpEndpoint`, a `caCertificates` entry that is not a CA certificate).
 * @example
 * import { createSecretsManagerPolicyStore } from './secretsManagerPolicyStore.js'
 * import { policyStoreLocationOf } from './policyStoreLocationOf.js'
 * const store = createSecretsManagerPolicyStore({ ...policyStoreLocationOf(kmsKeyArn) })
 * const signed = await store.read('treasury', { credentials }) // untrusted JSON, or undefined
 */
export function createSecretsManagerPolicyStore(parameters: CreateSecretsManagerPolicyStoreParameters): CreateSecretsManagerPolicyStoreReturnType {
  const {
    region,
    account,
    partition = 'aws',
    endpoint,
    caCertificates = AMAZON_TRUST_SERVICES_ROOTS,
    allowHttpEndpoint = false,
    prefix = DEFAULT_POLICY_SECRET_PREFIX,
    deadlineMs = POLICY_READ_DEADLINE_MS,
    maxAttempts = 3,
  } = parameters
  if (typeof region !== 'string' || !REGION.test(region)) throw new InvalidArgumentError({ field: 'region', rule: 'must be an AWS region name such as us-east-1' })
  if (typeof account !== 'string' || !ACCOUNT.test(account)) throw new InvalidArgumentError({ field: 'account', rule: 'must be a 12-digit AWS account id' })
  if (typeof partition !== 'string' || !PARTITION.test(partition)) throw new InvalidArgumentError({ field: 'partition', rule: 'must be an AWS partition such as aws' })
  checkAwsEndpoint(endpoint, { allowHttp: allowHttpEndpoint, service: 'Secrets Manager' })
  // Checked here too, so that a bad prefix fails at start, not at the first read.
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidArgumentError({ field: 'prefix', rule: 'must be 1-200 characters of a secret name ([A-Za-z0-9/_+=.@-]) ending with "/"' })
  }
  const trustedRoots = trustedRootsOf(caCertificates)
  if (!Number.isSafeInteger(deadlineMs) || deadlineMs < 100 || deadlineMs > 120_000) throw new InvalidArgumentError({ field: 'deadlineMs', rule: 'must be an integer in 100..120000' })
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) throw new InvalidArgumentError({ field: 'maxAttempts', rule: 'must be an integer in 1..10' })

  const arnPrefix = `arn:${partition}:secretsmanager:${region}:${account}:secret:`
  const secretNameOf = (keyId: string): string => signingPolicySecretName(keyId, prefix)
  const secretIdOf = (keyId: string): string => `${arnPrefix}${secretNameOf(keyId)}`

  // One client per credential set (the parent forwards short-lived instance-role credentials), as the KMS sealer.
  const clients = createClientsPerCredentials({ make: (config) => new SecretsManagerClient(config), region, endpoint, trustedRoots, maxAttempts })
  const clientFor = (context: UnsealContext | undefined): SecretsManagerClient => clients.clientFor(checkCredentials(context?.credentials))

  /** The answer, checked: that secret, in the pinned account and region, its current version, JSON. */
  const checkAnswer = (response: GetSecretValueCommandOutput, name: string): unknown => {
    const arn = new RegExp(`^${escapeRegExp(`${arnPrefix}${name}`)}${ARN_SUFFIX}$`)
    if (typeof response.ARN !== 'string' || !arn.test(response.ARN)) {
      throw new IntegrityError({
        reason: `Secrets Manager answered with another secret than ${name} in the pinned account and region`,
        details: { field: 'ARN' },
      })
    }
    if (response.Name !== name) throw new IntegrityError({ reason: `Secrets Manager answered with another secret than ${name}`, details: { field: 'Name' } })
    if (!Array.isArray(response.VersionStages) || !response.VersionStages.includes('AWSCURRENT')) {
      throw new IntegrityError({ reason: `Secrets Manager answered with a version of ${name} that is not AWSCURRENT`, details: { field: 'VersionStages' } })
    }
    if (typeof response.SecretString !== 'string') throw new IntegrityError({ reason: `the secret ${name} holds no SecretString`, details: { field: 'SecretString' } })
    try {
      return JSON.parse(response.SecretString) as unknown
    } catch {
      throw new IntegrityError({ reason: `the secret ${name} is not JSON`, details: { field: 'SecretString' } })
    }
  }

  return {
    kind: 'secrets-manager',
    secretNameOf,
    secretIdOf,
    async read(keyId, context) {
      const name = secretNameOf(keyId)
      const client = clientFor(context)
      // The partial ARN pins account and region (never a bare name: see above).
      let response: GetSecretValueCommandOutput
      try {
        response = await client.send(new GetSecretValueCommand({ SecretId: `${arnPrefix}${name}`, VersionStage: 'AWSCURRENT' }), {
          abortSignal: AbortSignal.timeout(deadlineMs),
        })
      } catch (e) {
        if (isNotFound(e)) return undefined
        throw mapSecretsManagerError(e)
      }
      return checkAnswer(response, name)
    },
    close() {
      clients.close()
    },
  }
}

/** Secrets Manager's answer that no such secret (or no AWSCURRENT version of it) exists: an HTTP 4xx named so. */
function isNotFound(e: unknown): boolean {
  const { name, status } = describeAwsFailure(e)
  return name === 'ResourceNotFoundException' && status !== undefined && status >= 400 && status < 500
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

/** The forwarded credentials, or UNAVAILABLE: without them the policy cannot be read, and that is not "no policy". */
function checkCredentials(credentials: AwsCredentials | undefined): AwsCredentials {
  const refuse = (what: string) =>
    new CustodyError(ErrorCode.UNAVAILABLE, { shortMessage: `unavailable: ${what}: the enclave cannot read the signing policy from Secrets Manager`, retryable: false })
  if (credentials === undefined || typeof credentials !== 'object' || credentials === null) throw refuse('no AWS credentials were forwarded with the request')
  const { accessKeyId, secretAccessKey, sessionToken, expiration } = credentials as Record<string, unknown>
  if (typeof accessKeyId !== 'string' || !/^[A-Za-z0-9]{1,128}$/.test(accessKeyId)) throw refuse('the forwarded credentials.accessKeyId is not an AWS access key id')
  if (typeof secretAccessKey !== 'string' || secretAccessKey.length === 0 || secretAccessKey.length > 256) throw refuse('the forwarded credentials.secretAccessKey is not a non-empty string')
  if (sessionToken !== undefined && (typeof sessionToken !== 'string' || sessionToken.length === 0 || sessionToken.length > 8192)) {
    throw refuse('the forwarded credentials.sessionToken is not a non-empty string')
  }
  if (expiration !== undefined && typeof expiration !== 'string') throw refuse('the forwarded credentials.expiration is not an ISO-8601 string')
  return credentials
}
