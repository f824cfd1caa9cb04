import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KMSClient } from '@aws-sdk/client-kms'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type IdentityPolicyDocument, type LocalAws, type PrincipalCredentials, type StartLocalAwsParameters, startLocalAws } from '@enclave-custody/local-aws'
import { expect } from 'vitest'

export const ACCOUNT = '111122223333'
export const REGION = 'eu-central-1'

/** The callers of the integration tests. */
export const PRINCIPALS = {
  admin: { accessKeyId: 'AKIAADMIN00000000001', secretAccessKey: 'admin-secret', arn: `arn:aws:iam::${ACCOUNT}:user/admin` },
  importer: { accessKeyId: 'AKIAIMPORTER00000001', secretAccessKey: 'importer-secret', arn: `arn:aws:iam::${ACCOUNT}:user/importer` },
  enclave: {
    accessKeyId: 'ASIAENCLAVE000000001',
    secretAccessKey: 'enclave-secret',
    sessionToken: 'enclave-session-token',
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave-instance/i-0123456789abcdef0`,
  },
  outsider: { accessKeyId: 'AKIAOUTSIDER00000001', secretAccessKey: 'outsider-secret', arn: 'arn:aws:iam::444455556666:user/mallory' },
} as const
export type Who = keyof typeof PRINCIPALS

/** The role the enclave's instance credentials belong to (what key policies name). */
export const ENCLAVE_ROLE = `arn:aws:iam::${ACCOUNT}:role/enclave-instance`

/**
 * The IAM identity policy every test principal has: all of KMS and Secrets Manager, so that in these tests the
 * key policies alone decide (IAM itself is tested with principals that lack it).
 */
export const IAM_ALLOW_ALL: IdentityPolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'TestsAllowAll', Effect: 'Allow', Action: ['kms:*', 'secretsmanager:*'], Resource: '*' }],
}

export function principalsOption(): Record<string, PrincipalCredentials> {
  return Object.fromEntries(
    Object.values(PRINCIPALS).map((p) => [
      p.accessKeyId,
      { secretAccessKey: p.secretAccessKey, arn: p.arn, ...('sessionToken' in p ? { sessionToken: p.sessionToken } : {}), policies: [IAM_ALLOW_ALL] },
    ]),
  )
}

/** Start local-aws with the test account, region and principals (plus `overrides`). */
export function startTestAws(overrides: StartLocalAwsParameters = {}): Promise<LocalAws> {
  return startLocalAws({ accountId: ACCOUNT, region: REGION, principals: principalsOption(), ...overrides })
}

function credentialsOf(who: Who) {
  const p = PRINCIPALS[who]
  return { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, ...('sessionToken' in p ? { sessionToken: p.sessionToken } : {}) }
}

/** An unmodified KMS client for `who`; no retries, so every error surfaces once. */
export function kmsFor(aws: LocalAws, who: Who = 'admin', extra: Partial<ConstructorParameters<typeof KMSClient>[0]> = {}): KMSClient {
  return new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials: credentialsOf(who), maxAttempts: 1, ...extra })
}

/** An unmodified Secrets Manager client for `who`; no retries. */
export function secretsFor(aws: LocalAws, who: Who = 'admin', extra: Partial<ConstructorParameters<typeof SecretsManagerClient>[0]> = {}): SecretsManagerClient {
  return new SecretsManagerClient({ endpoint: aws.endpoint, region: aws.region, credentials: credentialsOf(who), maxAttempts: 1, ...extra })
}

/** Await a promise that must reject with an AWS SDK service error; return its name, message and HTTP status. */
export async function awsError(promise: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await promise
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } }
    expect(err.$metadata, `not an AWS service error: ${String(e)}`).toBeDefined()
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode }
  }
  throw new Error('expected the call to fail')
}

/** A throwaway RSA-2048 key pair, its DER SPKI and a PEM file of the private key for `openssl cms`. */
export type RecipientKey = { publicKey: KeyObject; spki: Uint8Array; privateKeyPem: string; dispose(): void }

export function createRecipientKey(): RecipientKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const dir = mkdtempSync(join(tmpdir(), 'local-aws-rsa-'))
  const privateKeyPem = join(dir, 'recipient.pem')
  writeFileSync(privateKeyPem, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  return {
    publicKey,
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    privateKeyPem,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** Decrypt a CiphertextForRecipient with OpenSSL (an implementation independent of local-aws). */
export function opensslCmsDecrypt(cms: Uint8Array, privateKeyPem: string): Buffer {
  return execFileSync('/usr/bin/openssl', ['cms', '-decrypt', '-inform', 'DER', '-binary', '-inkey', privateKeyPem], { input: cms, stdio: ['pipe', 'pipe', 'pipe'] })
}
