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

/** An alias. Alias names are per account, so the state keys them by {@link aliasRecordId}. */
export type KmsAliasRecord = {
  aliasName: string
  /** The account the alias (and its key) belongs to. */
  account: string
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
  /** Keyed by {@link aliasRecordId}. */
  aliases: Record<string, KmsAliasRecord>
}

/** The state key of an alias: `<account>/<alias name>` (alias names are unique per account and region). */
export function aliasRecordId(account: string, aliasName: string): string {
  return `${account}/${aliasName}`
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
      !/^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[^/]+$/.test(key.arn) ||
      !key.arn.endsWith(`:key/${id}`) ||
      typeof key.policy !== 'string' ||
      typeof key.material !== 'string' ||
      Buffer.from(key.material, 'base64').length !== 32
    ) {
      throw new Error(`local-aws: kms.json has an invalid key record "${id.slice(0, 64)}"`)
    }
  }
  const keys = value.keys as Record<string, { arn: string }>
  const aliases: Record<string, KmsAliasRecord> = {}
  for (const [id, alias] of Object.entries(value.aliases)) {
    if (!isRecord(alias) || typeof alias.aliasName !== 'string' || typeof alias.targetKeyId !== 'string') {
      throw new Error(`local-aws: kms.json has an invalid alias record "${id.slice(0, 64)}"`)
    }
    // A state written before accounts (keyed by alias name, no account) takes the account of the alias's key.
    const account = typeof alias.account === 'string' ? alias.account : Object.hasOwn(keys, alias.targetKeyId) ? keys[alias.targetKeyId]!.arn.split(':')[4] : undefined
    if (account === undefined || !/^\d{12}$/.test(account) || (id !== aliasRecordId(account, alias.aliasName) && id !== alias.aliasName)) {
      throw new Error(`local-aws: kms.json has an invalid alias record "${id.slice(0, 64)}"`)
    }
    aliases[aliasRecordId(account, alias.aliasName)] = { ...(alias as KmsAliasRecord), account }
  }
  return { ...(value as KmsState), aliases }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
