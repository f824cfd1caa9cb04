import { randomInt, randomUUID } from 'node:crypto'
import { accessDenied } from '../auth/accessDenied.js'
import { evaluateIdentityPolicies } from '../policy/evaluatePolicy.js'
import { AwsServiceError, secretsError } from '../protocol/AwsServiceError.js'
import {
  type JsonObject,
  readBlob,
  readBoolean,
  readEnum,
  readInteger,
  readObjectList,
  readString,
  readStringList,
  toBase64,
  toEpochSeconds,
} from '../protocol/members.js'
import { paginate } from '../protocol/paginate.js'
import type { AwsJsonService, RequestContext } from '../server/AwsJsonService.js'
import type { JsonStateStore } from '../store/JsonStateStore.js'
import type { SecretRecord, SecretsState, SecretVersionRecord } from './state.js'

export type SecretsManagerServiceOptions = {
  store: JsonStateStore<SecretsState>
  region: string
  clock: () => Date
}

const NAME = /^[A-Za-z0-9/_+=.@-]+$/
/** A secret ARN that ends like a complete one: `…:secret:<name>-` and six characters (see `#find`). */
const COMPLETE_ARN = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:.+-[A-Za-z0-9]{6}$/
const FILTER_KEYS = ['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'] as const
const NOT_FOUND = "Secrets Manager can't find the specified secret."
const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."
const BOTH_VALUES = "You can't specify both a binary secret value and a string secret value in the same secret."
const MAX_VERSIONS = 100
const DAY_MS = 86_400_000

type Handler = (input: JsonObject, context: RequestContext) => Promise<JsonObject>
type SecretValue = { secretString?: string; secretBinary?: string }

/**
 * The Secrets Manager emulator: secrets with versions and staging labels (AWSCURRENT / AWSPREVIOUS),
 * ClientRequestToken idempotency, scheduled deletion and restore. Each secret belongs to the account of the
 * principal that created it and is visible to that account only (there are no resource policies, so no
 * cross-account access). Every action needs the caller's IAM identity policies to allow
 * `secretsmanager:<Action>` on the secret's ARN (`*` for `ListSecrets`).
 */
export class SecretsManagerService implements AwsJsonService {
  readonly targetPrefix = 'secretsmanager'
  readonly signingName = 'secretsmanager'
  readonly messageMember = 'Message' as const
  readonly internalErrorCode = 'InternalServiceError'
  readonly #o: SecretsManagerServiceOptions
  readonly #handlers: Readonly<Record<string, Handler>>

  constructor(options: SecretsManagerServiceOptions) {
    this.#o = options
    this.#handlers = {
      CreateSecret: (i, c) => this.#createSecret(i, c),
      PutSecretValue: (i, c) => this.#putSecretValue(i, c),
      GetSecretValue: (i, c) => this.#getSecretValue(i, c),
      DescribeSecret: async (i, c) => this.#describeSecret(i, c),
      ListSecrets: async (i, c) => this.#listSecrets(i, c),
      DeleteSecret: (i, c) => this.#deleteSecret(i, c),
      RestoreSecret: (i, c) => this.#restoreSecret(i, c),
    }
  }

  async handle(operation: string, input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const handler = Object.hasOwn(this.#handlers, operation) ? this.#handlers[operation] : undefined
    if (handler === undefined) {
      throw new AwsServiceError({
        code: 'UnknownOperationException',
        message: `local-aws does not implement secretsmanager.${operation.slice(0, 64)}`,
        messageMember: 'Message',
      })
    }
    return handler(input, context)
  }

  async #createSecret(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const name = readString(input, 'Name', { required: true, min: 1, max: 512 })
    const token = readString(input, 'ClientRequestToken', { min: 32, max: 64 })
    const description = readString(input, 'Description', { max: 2048 })
    const kmsKeyId = readString(input, 'KmsKeyId', { max: 2048 })
    const value = readSecretValue(input)
    const tags = readTags(input)
    if (!NAME.test(name)) {
      throw secretsError('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!')
    }
    if ((readObjectList(input, 'AddReplicaRegions') ?? []).length > 0) {
      throw secretsError('InvalidRequestException', 'local-aws does not support replica Regions.')
    }
    const account = context.principal.accountId
    const arn = `${this.#prefix(account)}${name}-${randomSuffix()}`
    this.#authorize('secretsmanager:CreateSecret', arn, context)
    const now = this.#now()
    return this.#o.store.update((draft) => {
      this.#purge(draft, now)
      const existing = Object.values(draft.secrets).find((s) => s.name === name && accountOfSecret(s) === account)
      if (existing !== undefined) {
        if (existing.deletedDate !== undefined) {
          throw secretsError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.")
        }
        const version = token === undefined || value === undefined ? undefined : existing.versions[token]
        if (version !== undefined && sameValue(version, value!)) {
          return { ARN: existing.arn, Name: existing.name, VersionId: version.versionId }
        }
        throw secretsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`)
      }
      const secret: SecretRecord = {
        arn,
        name,
        ...(description === undefined ? {} : { description }),
        ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
        tags,
        createdDate: now,
        lastChangedDate: now,
        versions: {},
      }
      draft.secrets[secret.arn] = secret
      if (value === undefined) return { ARN: secret.arn, Name: secret.name }
      const versionId = token ?? randomUUID()
      addVersion(secret, versionId, value, ['AWSCURRENT'], now)
      return { ARN: secret.arn, Name: secret.name, VersionId: versionId }
    })
  }

  async #putSecretValue(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const secretId = readString(input, 'SecretId', { required: true, min: 1, max: 2048 })
    const token = readString(input, 'ClientRequestToken', { min: 32, max: 64 })
    const value = readSecretValue(input)
    const stages = readStringList(input, 'VersionStages', { max: 20 })
    readString(input, 'RotationToken', { min: 36, max: 256 })
    if (value === undefined) throw secretsError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.')
    if (stages !== undefined && (stages.length === 0 || stages.some((s) => s.length < 1 || s.length > 256))) {
      throw secretsError('InvalidParameterException', 'VersionStages must list 1 to 20 staging labels of 1 to 256 characters.')
    }
    const now = this.#now()
    return this.#o.store.update((draft) => {
      this.#purge(draft, now)
      const secret = this.#find(draft, secretId, 'secretsmanager:PutSecretValue', context, now)
      if (secret.deletedDate !== undefined) throw secretsError('InvalidRequestException', MARKED_FOR_DELETION)
      const versionId = token ?? randomUUID()
      const existing = Object.hasOwn(secret.versions, versionId) ? secret.versions[versionId] : undefined
      if (existing !== undefined) {
        if (!sameValue(existing, value)) {
          throw secretsError('ResourceExistsException', "You can't modify an existing version, you can only create new versions.")
        }
        return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...existing.stages] }
      }
      const labels = stages ?? ['AWSCURRENT']
      const first = Object.keys(secret.versions).length === 0
      const version = addVersion(secret, versionId, value, first && !labels.includes('AWSCURRENT') ? [...labels, 'AWSCURRENT'] : labels, now)
      return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...version.stages] }
    })
  }

  async #getSecretValue(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const secretId = readString(input, 'SecretId', { required: true, min: 1, max: 2048 })
    const versionId = readString(input, 'VersionId', { min: 32, max: 64 })
    const stage = readString(input, 'VersionStage', { min: 1, max: 256 })
    const now = this.#now()
    const secret = this.#find(this.#o.store.state, secretId, 'secretsmanager:GetSecretValue', context, now)
    if (secret.deletedDate !== undefined) throw secretsError('InvalidRequestException', MARKED_FOR_DELETION)
    const version = selectVersion(secret, versionId, stage)
    const today = now - (now % DAY_MS)
    if (secret.lastAccessedDate !== today) {
      await this.#o.store.update((draft) => {
        const record = Object.hasOwn(draft.secrets, secret.arn) ? draft.secrets[secret.arn] : undefined
        if (record !== undefined) record.lastAccessedDate = today
      })
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(version.secretString === undefined ? {} : { SecretString: version.secretString }),
      ...(version.secretBinary === undefined ? {} : { SecretBinary: version.secretBinary }),
      VersionStages: [...version.stages],
      CreatedDate: toEpochSeconds(version.createdDate),
    }
  }

  #describeSecret(input: JsonObject, context: RequestContext): JsonObject {
    const secretId = readString(input, 'SecretId', { required: true, min: 1, max: 2048 })
    const secret = this.#find(this.#o.store.state, secretId, 'secretsmanager:DescribeSecret', context, this.#now())
    return {
      ...summary(secret),
      RotationEnabled: false,
      VersionIdsToStages: versionsToStages(secret),
    }
  }

  #listSecrets(input: JsonObject, context: RequestContext): JsonObject {
    const includePlanned = readBoolean(input, 'IncludePlannedDeletion') ?? false
    const maxResults = readInteger(input, 'MaxResults', { min: 1, max: 100 }) ?? 100
    const nextToken = readString(input, 'NextToken', { min: 1, max: 4096 })
    const sortOrder = readEnum(input, 'SortOrder', ['asc', 'desc'] as const) ?? 'asc'
    const filters = readFilters(input)
    this.#authorize('secretsmanager:ListSecrets', '*', context)
    const now = this.#now()
    const account = context.principal.accountId
    const secrets = Object.values(this.#o.store.state.secrets)
      .filter((s) => accountOfSecret(s) === account && !expired(s, now) && (includePlanned || s.deletedDate === undefined))
      .filter((s) => filters.every((f) => filterMatches(f, s)))
      .sort((a, b) => (a.createdDate - b.createdDate || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) * (sortOrder === 'asc' ? 1 : -1))
    const page = paginate(secrets, nextToken, maxResults, () => secretsError('InvalidNextTokenException', 'The NextToken value is invalid.'))
    return {
      SecretList: page.items.map((s) => ({ ...summary(s), SecretVersionsToStages: versionsToStages(s) })),
      ...(page.next === undefined ? {} : { NextToken: page.next }),
    }
  }

  async #deleteSecret(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const secretId = readString(input, 'SecretId', { required: true, min: 1, max: 2048 })
    const window = readInteger(input, 'RecoveryWindowInDays')
    const force = readBoolean(input, 'ForceDeleteWithoutRecovery') ?? false
    if (window !== undefined && (window < 7 || window > 30)) {
      throw secretsError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).')
    }
    if (window !== undefined && force) {
      throw secretsError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
    }
    const now = this.#now()
    return this.#o.store.update((draft) => {
      this.#purge(draft, now)
      const secret = this.#find(draft, secretId, 'secretsmanager:DeleteSecret', context, now)
      if (force) {
        delete draft.secrets[secret.arn]
        return { ARN: secret.arn, Name: secret.name, DeletionDate: toEpochSeconds(now) }
      }
      if (secret.deletedDate !== undefined) {
        throw secretsError('InvalidRequestException', "You tried to perform the operation on a secret that's currently marked deleted.")
      }
      secret.deletedDate = now
      secret.deletionDate = now + (window ?? 30) * DAY_MS
      return { ARN: secret.arn, Name: secret.name, DeletionDate: toEpochSeconds(secret.deletionDate) }
    })
  }

  async #restoreSecret(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const secretId = readString(input, 'SecretId', { required: true, min: 1, max: 2048 })
    const now = this.#now()
    return this.#o.store.update((draft) => {
      this.#purge(draft, now)
      const secret = this.#find(draft, secretId, 'secretsmanager:RestoreSecret', context, now)
      delete secret.deletedDate
      delete secret.deletionDate
      return { ARN: secret.arn, Name: secret.name }
    })
  }

  /**
   * Find a secret of the caller's account by name, full ARN, or partial ARN (without the 6-character suffix),
   * after checking that the caller's identity policies allow `action` on it. Secrets whose recovery window has
   * passed do not exist. Another account's secret is out of reach (no resource policies): AccessDenied, whether
   * or not it exists.
   *
   * As AWS documents: an ARN that ends in a hyphen and six characters is taken for a complete ARN, so a partial
   * ARN of a secret whose name ends that way finds nothing (the real ARN has one more suffix). Whether AWS then
   * also tries it as a partial ARN is not documented; this emulator does not.
   *
   * @throws AwsServiceError AccessDeniedException, ResourceNotFoundException
   */
  #find(state: Readonly<SecretsState>, secretId: string, action: string, context: RequestContext, now: number): SecretRecord {
    const account = context.principal.accountId
    const prefix = this.#prefix(account)
    const otherAccount = /^arn:aws:secretsmanager:[^:]*:(\d{12}):/.exec(secretId)
    if (otherAccount !== null && otherAccount[1] !== account) {
      throw accessDenied(context.principal.arn, action, secretId, { decision: 'ImplicitDeny', deniedBy: 'resource-based' })
    }
    const secrets = Object.values(state.secrets).filter((s) => accountOfSecret(s) === account && !expired(s, now))
    const complete = COMPLETE_ARN.test(secretId)
    const found = secretId.startsWith('arn:')
      ? (secrets.find((s) => s.arn === secretId) ?? (secretId.startsWith(prefix) && !complete ? secrets.find((s) => `${prefix}${s.name}` === secretId) : undefined))
      : secrets.find((s) => s.name === secretId)
    // Authorise against the secret's ARN, or (for a secret that does not exist) the ARN its name would have, so
    // that a caller without permission learns nothing about existence.
    this.#authorize(action, found?.arn ?? (secretId.startsWith('arn:') ? secretId : `${prefix}${secretId}`), context)
    if (found === undefined) throw secretsError('ResourceNotFoundException', NOT_FOUND)
    return found
  }

  /** @throws AwsServiceError AccessDeniedException unless the caller's identity policies allow `action` on `resource` */
  #authorize(action: string, resource: string, { principal, identityPolicies }: RequestContext): void {
    const result = evaluateIdentityPolicies(identityPolicies, { principalArn: principal.arn, action, resourceArn: resource })
    if (!result.allowed) throw accessDenied(principal.arn, action, resource, result)
  }

  #prefix(account: string): string {
    return `arn:aws:secretsmanager:${this.#o.region}:${account}:secret:`
  }

  /** Drop secrets whose recovery window has passed. */
  #purge(draft: SecretsState, now: number): void {
    for (const secret of Object.values(draft.secrets)) if (expired(secret, now)) delete draft.secrets[secret.arn]
  }

  #now(): number {
    return this.#o.clock().getTime()
  }
}

function accountOfSecret(secret: SecretRecord): string {
  return secret.arn.split(':')[4]!
}

function expired(secret: SecretRecord, now: number): boolean {
  return secret.deletionDate !== undefined && secret.deletionDate <= now
}

function readSecretValue(input: JsonObject): SecretValue | undefined {
  const secretString = readString(input, 'SecretString', { min: 1, max: 65_536 })
  const secretBinary = readBlob(input, 'SecretBinary', { min: 1, max: 65_536 })
  if (secretString !== undefined && secretBinary !== undefined) throw secretsError('InvalidParameterException', BOTH_VALUES)
  if (secretString !== undefined) return { secretString }
  if (secretBinary !== undefined) return { secretBinary: toBase64(secretBinary) }
  return undefined
}

function sameValue(version: SecretVersionRecord, value: SecretValue): boolean {
  return version.secretString === value.secretString && version.secretBinary === value.secretBinary
}

/** Add a version and move `stages` to it; moving AWSCURRENT moves AWSPREVIOUS to the version that had it. */
function addVersion(secret: SecretRecord, versionId: string, value: SecretValue, stages: readonly string[], now: number): SecretVersionRecord {
  const version: SecretVersionRecord = { versionId, ...value, createdDate: now, stages: [] }
  const previousCurrent = Object.values(secret.versions).find((v) => v.stages.includes('AWSCURRENT'))
  secret.versions[versionId] = version
  for (const stage of new Set(stages)) {
    for (const v of Object.values(secret.versions)) v.stages = v.stages.filter((s) => s !== stage)
    version.stages.push(stage)
  }
  if (version.stages.includes('AWSCURRENT') && previousCurrent !== undefined) {
    for (const v of Object.values(secret.versions)) v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS')
    previousCurrent.stages.push('AWSPREVIOUS')
  }
  secret.lastChangedDate = now
  const versions = Object.values(secret.versions)
  for (const v of versions) {
    if (Object.keys(secret.versions).length <= MAX_VERSIONS) break
    if (v.stages.length === 0) delete secret.versions[v.versionId]
  }
  return version
}

function selectVersion(secret: SecretRecord, versionId: string | undefined, stage: string | undefined): SecretVersionRecord {
  if (versionId !== undefined) {
    const version = Object.hasOwn(secret.versions, versionId) ? secret.versions[versionId] : undefined
    if (version === undefined || (stage !== undefined && !version.stages.includes(stage))) {
      throw secretsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for VersionId: ${versionId}${stage === undefined ? '' : ` and staging label: ${stage}`}`,
      )
    }
    return version
  }
  const label = stage ?? 'AWSCURRENT'
  const version = Object.values(secret.versions).find((v) => v.stages.includes(label))
  if (version === undefined) throw secretsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${label}`)
  return version
}

function summary(secret: SecretRecord): JsonObject {
  return {
    ARN: secret.arn,
    Name: secret.name,
    ...(secret.description === undefined ? {} : { Description: secret.description }),
    ...(secret.kmsKeyId === undefined ? {} : { KmsKeyId: secret.kmsKeyId }),
    LastChangedDate: toEpochSeconds(secret.lastChangedDate),
    ...(secret.lastAccessedDate === undefined ? {} : { LastAccessedDate: toEpochSeconds(secret.lastAccessedDate) }),
    ...(secret.deletedDate === undefined ? {} : { DeletedDate: toEpochSeconds(secret.deletedDate) }),
    ...(secret.tags.length === 0 ? {} : { Tags: secret.tags.map((t) => ({ ...t })) }),
    CreatedDate: toEpochSeconds(secret.createdDate),
  }
}

function versionsToStages(secret: SecretRecord): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const v of Object.values(secret.versions)) if (v.stages.length > 0) out[v.versionId] = [...v.stages]
  return out
}

function readTags(input: JsonObject): { Key: string; Value: string }[] {
  return (readObjectList(input, 'Tags') ?? []).map((tag) => {
    if (typeof tag.Key !== 'string' || tag.Key.length < 1 || tag.Key.length > 128 || typeof tag.Value !== 'string' || tag.Value.length > 256) {
      throw secretsError('InvalidParameterException', 'Tags need a Key (1-128 characters) and a Value (0-256 characters).')
    }
    return { Key: tag.Key, Value: tag.Value }
  })
}

type Filter = { key: (typeof FILTER_KEYS)[number]; values: string[] }

function readFilters(input: JsonObject): Filter[] {
  return (readObjectList(input, 'Filters') ?? []).map((f) => {
    const key = readEnum(f, 'Key', FILTER_KEYS, { required: true })
    const values = readStringList(f, 'Values', { required: true, max: 10 })!
    if (values.length === 0 || values.some((v) => v.length > 512)) {
      throw secretsError('InvalidParameterException', 'A filter needs 1 to 10 values of at most 512 characters.')
    }
    return { key, values }
  })
}

/** AWS semantics: prefix match (description and `all` case-insensitive), `!` negates; values OR, filters AND. */
function filterMatches({ key, values }: Filter, secret: SecretRecord): boolean {
  return values.some((raw) => {
    const negate = raw.startsWith('!')
    const value = negate ? raw.slice(1) : raw
    let matched: boolean
    switch (key) {
      case 'name':
        matched = secret.name.startsWith(value)
        break
      case 'description':
        matched = (secret.description ?? '').toLowerCase().startsWith(value.toLowerCase())
        break
      case 'tag-key':
        matched = secret.tags.some((t) => t.Key.startsWith(value))
        break
      case 'tag-value':
        matched = secret.tags.some((t) => t.Value.startsWith(value))
        break
      case 'primary-region':
      case 'owning-service':
        matched = false
        break
      case 'all': {
        const haystack = [secret.name, secret.description ?? '', ...secret.tags.flatMap((t) => [t.Key, t.Value])].join(' ').toLowerCase()
        const words = value.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 0)
        matched = words.length > 0 && words.every((w) => haystack.includes(w))
        break
      }
    }
    return negate ? !matched : matched
  })
}

function randomSuffix(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  let out = ''
  for (let i = 0; i < 6; i++) out += alphabet[randomInt(alphabet.length)]
  return out
}
