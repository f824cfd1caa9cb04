/** A KMS key as persisted. `material` is the 32-byte AES-256-GCM backing key, base64. */
export type KmsKeyRecord = {
  keyId: string
  arn: string
  /** epoch ms */
  creationDate: number
  description: string
  enabled: boolean
  policy: string
  rotationEnabled: boolean
  rotationPeriodInDays: number
  tags: { TagKey: string; TagValue: string }[]
  material: string
}

export type KmsAliasRecord = {
  aliasName: string
  targetKeyId: string
  /** epoch ms */
  creationDate: number
  /** epoch ms */
  lastUpdatedDate: number
}

/** Everything the KMS emulator persists (`kms.json`). */
export type KmsState = {
  version: 1
  keys: Record<string, KmsKeyRecord>
  aliases: Record<string, KmsAliasRecord>
}

/** An empty KMS state. */
export function initialKmsState(): KmsState {
  return { version: 1, keys: {}, aliases: {} }
}

/**
 * Check a loaded `kms.json`.
 *
 * @throws Error naming the first problem
 */
export function validateKmsState(value: unknown): KmsState {
  if (!isRecord(value) || value.version !== 1 || !isRecord(value.keys) || !isRecord(value.aliases)) {
    throw new Error('local-aws: kms.json is not a version 1 KMS state')
  }
  for (const [id, key] of Object.entries(value.keys)) {
    if (
      !isRecord(key) ||
      key.keyId !== id ||
      typeof key.arn !== 'string' ||
      typeof key.policy !== 'string' ||
      typeof key.material !== 'string' ||
      Buffer.from(key.material, 'base64').length !== 32
    ) {
      throw new Error(`local-aws: kms.json has an invalid key record "${id.slice(0, 64)}"`)
    }
  }
  for (const [name, alias] of Object.entries(value.aliases)) {
    if (!isRecord(alias) || alias.aliasName !== name || typeof alias.targetKeyId !== 'string') {
      throw new Error(`local-aws: kms.json has an invalid alias record "${name.slice(0, 64)}"`)
    }
  }
  return value as KmsState
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
