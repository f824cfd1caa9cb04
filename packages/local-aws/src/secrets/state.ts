/** One version of a secret. Exactly one of `secretString` / `secretBinary` (base64) is set. */
export type SecretVersionRecord = {
  versionId: string
  secretString?: string
  secretBinary?: string
  /** epoch ms */
  createdDate: number
  stages: string[]
}

/** A secret as persisted. `versions` keeps creation order. */
export type SecretRecord = {
  arn: string
  name: string
  description?: string
  kmsKeyId?: string
  tags: { Key: string; Value: string }[]
  /** epoch ms */
  createdDate: number
  /** epoch ms */
  lastChangedDate: number
  /** epoch ms, midnight UTC of the last day the value was read */
  lastAccessedDate?: number
  /** epoch ms: when DeleteSecret scheduled the deletion */
  deletedDate?: number
  /** epoch ms: when the secret disappears for good */
  deletionDate?: number
  versions: Record<string, SecretVersionRecord>
}

/** Everything the Secrets Manager emulator persists (`secretsmanager.json`), keyed by ARN. */
export type SecretsState = {
  version: 1
  secrets: Record<string, SecretRecord>
}

/** An empty Secrets Manager state. */
export function initialSecretsState(): SecretsState {
  return { version: 1, secrets: {} }
}

/**
 * Check a loaded `secretsmanager.json`.
 *
 * @throws Error naming the first problem
 */
export function validateSecretsState(value: unknown): SecretsState {
  if (!isRecord(value) || value.version !== 1 || !isRecord(value.secrets)) {
    throw new Error('local-aws: secretsmanager.json is not a version 1 Secrets Manager state')
  }
  for (const [arn, secret] of Object.entries(value.secrets)) {
    if (!isRecord(secret) || secret.arn !== arn || typeof secret.name !== 'string' || !isRecord(secret.versions) || !Array.isArray(secret.tags)) {
      throw new Error(`local-aws: secretsmanager.json has an invalid secret record "${arn.slice(0, 128)}"`)
    }
  }
  return value as SecretsState
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
