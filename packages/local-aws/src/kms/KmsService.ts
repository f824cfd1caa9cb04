import { randomBytes, randomUUID } from 'node:crypto'
import { isCustodyError } from '@enclave-custody/sdk'
import type { VerifyAttestationFunction } from '../attestation/verifier.js'
import { buildCiphertextForRecipient } from '../cms/buildCiphertextForRecipient.js'
import { accessDenied } from '../auth/accessDenied.js'
import { evaluateIdentityPolicies, evaluatePolicy } from '../policy/evaluatePolicy.js'
import { defaultKeyPolicy } from '../policy/defaultKeyPolicy.js'
import { parseKeyPolicy } from '../policy/parseKeyPolicy.js'
import type { PolicyContext } from '../policy/types.js'
import { AwsServiceError, kmsError, validationError } from '../protocol/AwsServiceError.js'
import {
  isJsonObject,
  type JsonObject,
  readBlob,
  readBoolean,
  readEnum,
  readInteger,
  readObject,
  readObjectList,
  readString,
  readStringList,
  readStringMap,
  toBase64,
  toEpochSeconds,
} from '../protocol/members.js'
import type { AwsJsonService, RequestContext } from '../server/AwsJsonService.js'
import { paginate } from '../protocol/paginate.js'
import type { JsonStateStore } from '../store/JsonStateStore.js'
import { ciphertextBlobKeyId, openCiphertextBlob, sealCiphertextBlob } from './ciphertextBlob.js'
import { recipientConditionKeys, type VerifiedRecipient, verifyRecipient } from './recipient.js'
import { aliasRecordId, type KmsAliasRecord, type KmsKeyRecord, type KmsState } from './state.js'

export type KmsServiceOptions = {
  store: JsonStateStore<KmsState>
  region: string
  clock: () => Date
  attestationRoots: readonly string[]
  /** Verifies `Recipient.AttestationDocument`. */
  verifyAttestation: VerifyAttestationFunction
  /** Refuse every attestation document while `attestationRoots` is empty (set for the default verifier). */
  requireAttestationRoots: boolean
}

const KEY_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
] as const
const CUSTOMER_MASTER_KEY_SPECS = KEY_SPECS.filter((s) => !s.startsWith('SM2'))
const KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const
const ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const
const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const
const DATA_KEY_SPECS = ['AES_256', 'AES_128'] as const
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ALIAS_NAME = /^[a-zA-Z0-9:/_-]+$/
const DRY_RUN_MESSAGE = 'The request would have succeeded, but the DryRun option is set.'

type Handler = (input: JsonObject, context: RequestContext) => Promise<JsonObject>

/** A resolved `KeyId`, and the alias it was named by (for `kms:RequestAlias`). */
type ResolvedKey = { key: KmsKeyRecord; alias: string | undefined }

/**
 * The KMS emulator: symmetric keys, aliases, key policies evaluated on every key operation, and the Nitro
 * Enclaves `Recipient` flow (attestation verified, `CiphertextForRecipient` as CMS EnvelopedData).
 */
export class KmsService implements AwsJsonService {
  readonly targetPrefix = 'TrentService'
  readonly signingName = 'kms'
  readonly messageMember = 'message' as const
  readonly internalErrorCode = 'KMSInternalException'
  readonly #o: KmsServiceOptions
  readonly #handlers: Readonly<Record<string, Handler>>

  constructor(options: KmsServiceOptions) {
    this.#o = options
    this.#handlers = {
      CreateKey: (i, c) => this.#createKey(i, c),
      DescribeKey: (i, c) => this.#describeKey(i, c),
      ListKeys: async (i, c) => this.#listKeys(i, c),
      CreateAlias: (i, c) => this.#createAlias(i, c),
      ListAliases: async (i, c) => this.#listAliases(i, c),
      Encrypt: async (i, c) => this.#encrypt(i, c),
      Decrypt: (i, c) => this.#decrypt(i, c),
      GenerateDataKey: (i, c) => this.#generateDataKey(i, c),
      GenerateRandom: (i, c) => this.#generateRandom(i, c),
      GetKeyPolicy: async (i, c) => this.#getKeyPolicy(i, c),
      PutKeyPolicy: (i, c) => this.#putKeyPolicy(i, c),
      EnableKeyRotation: (i, c) => this.#setKeyRotation(i, c, true),
      DisableKeyRotation: (i, c) => this.#setKeyRotation(i, c, false),
      GetKeyRotationStatus: async (i, c) => this.#getKeyRotationStatus(i, c),
    }
  }

  async handle(operation: string, input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const handler = Object.hasOwn(this.#handlers, operation) ? this.#handlers[operation] : undefined
    if (handler === undefined) {
      throw new AwsServiceError({ code: 'UnknownOperationException', message: `local-aws does not implement TrentService.${operation.slice(0, 64)}` })
    }
    return handler(input, context)
  }

  // ── keys ────────────────────────────────────────────────────────────────────────────────────────────

  async #createKey(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const policyText = readString(input, 'Policy', { min: 1, max: 131_072 })
    const description = readString(input, 'Description', { max: 8192 }) ?? ''
    const keyUsage = readEnum(input, 'KeyUsage', KEY_USAGES) ?? 'ENCRYPT_DECRYPT'
    const cmkSpec = readEnum(input, 'CustomerMasterKeySpec', CUSTOMER_MASTER_KEY_SPECS)
    const keySpec = readEnum(input, 'KeySpec', KEY_SPECS)
    const origin = readEnum(input, 'Origin', ORIGINS) ?? 'AWS_KMS'
    const bypass = readBoolean(input, 'BypassPolicyLockoutSafetyCheck') ?? false
    const tags = readTags(input)
    const customKeyStore = readString(input, 'CustomKeyStoreId') ?? readString(input, 'XksKeyId')
    const multiRegion = readBoolean(input, 'MultiRegion') === true
    if (cmkSpec !== undefined && keySpec !== undefined) {
      throw kmsError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.')
    }
    const spec = keySpec ?? cmkSpec ?? 'SYMMETRIC_DEFAULT'
    if (spec !== 'SYMMETRIC_DEFAULT') {
      throw kmsError('UnsupportedOperationException', `local-aws emulates only SYMMETRIC_DEFAULT keys; KeySpec ${spec} is not supported.`)
    }
    if (keyUsage !== 'ENCRYPT_DECRYPT') {
      throw kmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec SYMMETRIC_DEFAULT`)
    }
    if (origin !== 'AWS_KMS') throw kmsError('UnsupportedOperationException', `local-aws does not support Origin ${origin}.`)
    if (customKeyStore !== undefined) throw kmsError('UnsupportedOperationException', 'local-aws does not support custom key stores.')
    if (multiRegion) throw kmsError('UnsupportedOperationException', 'local-aws does not support multi-Region keys.')

    this.#authorizeIam('kms:CreateKey', '*', context)
    const keyId = randomUUID()
    const account = context.principal.accountId
    const arn = this.#keyArn(keyId, account)
    const policy = policyText ?? defaultKeyPolicy(account)
    if (policyText !== undefined) this.#checkNewPolicy(policyText, context, arn, bypass)
    const material = randomBytes(32)
    const record: KmsKeyRecord = {
      keyId,
      arn,
      creationDate: this.#o.clock().getTime(),
      description,
      enabled: true,
      policy,
      rotationEnabled: false,
      rotationPeriodInDays: 365,
      tags,
      material: material.toString('base64'),
    }
    material.fill(0)
    await this.#o.store.update((draft) => {
      draft.keys[keyId] = record
    })
    return { KeyMetadata: this.#keyMetadata(record) }
  }

  async #describeKey(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const { key } = this.#resolve(readString(input, 'KeyId', { required: true, min: 1, max: 2048 }), context)
    this.#authorize(key, 'kms:DescribeKey', context, {})
    return { KeyMetadata: this.#keyMetadata(key) }
  }

  #listKeys(input: JsonObject, context: RequestContext): JsonObject {
    const limit = readInteger(input, 'Limit', { min: 1, max: 1000 }) ?? 100
    const marker = readString(input, 'Marker', { min: 1, max: 1024 })
    this.#authorizeIam('kms:ListKeys', '*', context)
    const keys = Object.values(this.#o.store.state.keys)
      .filter((k) => accountOfKey(k) === context.principal.accountId)
      .sort(byCreation)
    const page = paginate(keys, marker, limit, invalidMarker)
    return {
      Keys: page.items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })),
      Truncated: page.next !== undefined,
      ...(page.next === undefined ? {} : { NextMarker: page.next }),
    }
  }

  #keyMetadata(key: KmsKeyRecord): JsonObject {
    return {
      AWSAccountId: accountOfKey(key),
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: toEpochSeconds(key.creationDate),
      Enabled: key.enabled,
      Description: key.description,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: key.enabled ? 'Enabled' : 'Disabled',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
    }
  }

  // ── aliases ─────────────────────────────────────────────────────────────────────────────────────────

  async #createAlias(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const aliasName = readString(input, 'AliasName', { required: true, min: 1, max: 256 })
    const targetKeyId = readString(input, 'TargetKeyId', { required: true, min: 1, max: 2048 })
    if (!ALIAS_NAME.test(aliasName)) throw validationError('AliasName', 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$', aliasName)
    if (!aliasName.startsWith('alias/') || aliasName.length === 'alias/'.length) {
      throw kmsError('InvalidAliasNameException', 'Alias must start with the prefix "alias/".')
    }
    if (aliasName.startsWith('alias/aws/')) throw kmsError('InvalidAliasNameException', 'Alias names that begin with "alias/aws/" are reserved for AWS managed keys.')
    if (targetKeyId.startsWith('alias/') || /^arn:aws:kms:[^:]*:\d*:alias\//.test(targetKeyId)) {
      throw kmsError('ValidationException', 'TargetKeyId must identify a key by key ID or key ARN, not by alias.')
    }
    const { key } = this.#resolve(targetKeyId, context)
    const account = context.principal.accountId
    if (accountOfKey(key) !== account) throw kmsError('ValidationException', 'An alias and its KMS key must be in the same AWS account and Region.')
    this.#authorize(key, 'kms:CreateAlias', context, {})
    const now = this.#o.clock().getTime()
    await this.#o.store.update((draft) => {
      const id = aliasRecordId(account, aliasName)
      if (Object.hasOwn(draft.aliases, id)) {
        throw kmsError('AlreadyExistsException', `An alias with the name ${this.#aliasArn(aliasName, account)} already exists`)
      }
      draft.aliases[id] = { aliasName, account, targetKeyId: key.keyId, creationDate: now, lastUpdatedDate: now }
    })
    return {}
  }

  #listAliases(input: JsonObject, context: RequestContext): JsonObject {
    const keyId = readString(input, 'KeyId', { min: 1, max: 2048 })
    const limit = readInteger(input, 'Limit', { min: 1, max: 100 }) ?? 50
    const marker = readString(input, 'Marker', { min: 1, max: 1024 })
    this.#authorizeIam('kms:ListAliases', '*', context)
    const account = context.principal.accountId
    const filterKey = keyId === undefined ? undefined : this.#resolve(keyId, context).key.keyId
    const aliases = Object.values(this.#o.store.state.aliases)
      .filter((a) => a.account === account && (filterKey === undefined || a.targetKeyId === filterKey))
      .sort((a, b) => (a.aliasName < b.aliasName ? -1 : a.aliasName > b.aliasName ? 1 : 0))
    const page = paginate(aliases, marker, limit, invalidMarker)
    return {
      Aliases: page.items.map((a: KmsAliasRecord) => ({
        AliasName: a.aliasName,
        AliasArn: this.#aliasArn(a.aliasName, a.account),
        TargetKeyId: a.targetKeyId,
        CreationDate: toEpochSeconds(a.creationDate),
        LastUpdatedDate: toEpochSeconds(a.lastUpdatedDate),
      })),
      Truncated: page.next !== undefined,
      ...(page.next === undefined ? {} : { NextMarker: page.next }),
    }
  }

  // ── cryptographic operations ────────────────────────────────────────────────────────────────────────

  #encrypt(input: JsonObject, context: RequestContext): JsonObject {
    const keyId = readString(input, 'KeyId', { required: true, min: 1, max: 2048 })
    const plaintext = readBlob(input, 'Plaintext', { required: true, min: 1, max: 4096 })
    const encryptionContext = readStringMap(input, 'EncryptionContext')
    readStringList(input, 'GrantTokens', { max: 10 })
    const algorithm = readEnum(input, 'EncryptionAlgorithm', ENCRYPTION_ALGORITHMS)
    const dryRun = readBoolean(input, 'DryRun') === true
    try {
      checkSymmetricAlgorithm(algorithm)
      const resolved = this.#resolve(keyId, context)
      this.#authorize(resolved.key, 'kms:Encrypt', context, {
        ...encryptionContextKeys(encryptionContext),
        'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT',
        'kms:RequestAlias': resolved.alias,
      })
      if (dryRun) throw dryRunError()
      const blob = sealCiphertextBlob({ keyId: resolved.key.keyId, material: material(resolved.key), plaintext, encryptionContext })
      return { CiphertextBlob: toBase64(blob), KeyId: resolved.key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }
    } finally {
      plaintext.fill(0)
    }
  }

  async #decrypt(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const blob = readBlob(input, 'CiphertextBlob', { required: true, min: 1, max: 6144 })
    const encryptionContext = readStringMap(input, 'EncryptionContext')
    const keyId = readString(input, 'KeyId', { min: 1, max: 2048 })
    readStringList(input, 'GrantTokens', { max: 10 })
    const algorithm = readEnum(input, 'EncryptionAlgorithm', ENCRYPTION_ALGORITHMS)
    const recipientInput = readObject(input, 'Recipient')
    const dryRun = readBoolean(input, 'DryRun') === true

    checkSymmetricAlgorithm(algorithm)
    const blobKeyId = ciphertextBlobKeyId(blob)
    const { keys } = this.#o.store.state
    const key = Object.hasOwn(keys, blobKeyId) ? keys[blobKeyId] : undefined
    if (key === undefined) {
      throw new AwsServiceError({
        code: 'AccessDeniedException',
        messageMember: 'Message',
        message: 'The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.',
      })
    }
    const requested = keyId === undefined ? undefined : this.#resolve(keyId, context)
    if (requested !== undefined && requested.key.keyId !== key.keyId) {
      throw kmsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.')
    }
    const recipient = recipientInput === undefined ? undefined : await this.#verifyRecipient(recipientInput)
    this.#authorize(key, 'kms:Decrypt', context, {
      ...encryptionContextKeys(encryptionContext),
      ...recipientConditionKeys(recipient),
      'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT',
      'kms:RequestAlias': requested?.alias,
    })
    if (dryRun) throw dryRunError()
    const plaintext = openCiphertextBlob({ blob, material: material(key), encryptionContext })
    try {
      const common = { KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }
      return recipient === undefined
        ? { ...common, Plaintext: toBase64(plaintext) }
        : { ...common, CiphertextForRecipient: toBase64(buildCiphertextForRecipient({ plaintext, recipientPublicKey: recipient.publicKey })) }
    } finally {
      plaintext.fill(0)
    }
  }

  async #generateDataKey(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const keyId = readString(input, 'KeyId', { required: true, min: 1, max: 2048 })
    const encryptionContext = readStringMap(input, 'EncryptionContext')
    const numberOfBytes = readInteger(input, 'NumberOfBytes', { min: 1, max: 1024 })
    const keySpec = readEnum(input, 'KeySpec', DATA_KEY_SPECS)
    readStringList(input, 'GrantTokens', { max: 10 })
    const recipientInput = readObject(input, 'Recipient')
    const dryRun = readBoolean(input, 'DryRun') === true
    if (numberOfBytes === undefined && keySpec === undefined) {
      throw kmsError('ValidationException', 'Please specify either number of bytes or key spec.')
    }
    if (numberOfBytes !== undefined && keySpec !== undefined) {
      throw kmsError('ValidationException', 'Please specify either number of bytes or key spec, not both.')
    }
    const length = numberOfBytes ?? (keySpec === 'AES_128' ? 16 : 32)
    const resolved = this.#resolve(keyId, context)
    const recipient = recipientInput === undefined ? undefined : await this.#verifyRecipient(recipientInput)
    this.#authorize(resolved.key, 'kms:GenerateDataKey', context, {
      ...encryptionContextKeys(encryptionContext),
      ...recipientConditionKeys(recipient),
      'kms:RequestAlias': resolved.alias,
    })
    if (dryRun) throw dryRunError()
    const dataKey = randomBytes(length)
    try {
      const blob = sealCiphertextBlob({ keyId: resolved.key.keyId, material: material(resolved.key), plaintext: dataKey, encryptionContext })
      const common = { CiphertextBlob: toBase64(blob), KeyId: resolved.key.arn }
      return recipient === undefined
        ? { ...common, Plaintext: toBase64(dataKey) }
        : { ...common, CiphertextForRecipient: toBase64(buildCiphertextForRecipient({ plaintext: dataKey, recipientPublicKey: recipient.publicKey })) }
    } finally {
      dataKey.fill(0)
    }
  }

  async #generateRandom(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const numberOfBytes = readInteger(input, 'NumberOfBytes', { required: true, min: 1, max: 1024 })!
    const customKeyStoreId = readString(input, 'CustomKeyStoreId')
    const recipientInput = readObject(input, 'Recipient')
    if (customKeyStoreId !== undefined) throw kmsError('UnsupportedOperationException', 'local-aws does not support custom key stores.')
    this.#authorizeIam('kms:GenerateRandom', '*', context)
    const recipient = recipientInput === undefined ? undefined : await this.#verifyRecipient(recipientInput)
    const random = randomBytes(numberOfBytes)
    try {
      return recipient === undefined
        ? { Plaintext: toBase64(random) }
        : { CiphertextForRecipient: toBase64(buildCiphertextForRecipient({ plaintext: random, recipientPublicKey: recipient.publicKey })) }
    } finally {
      random.fill(0)
    }
  }

  // ── key policy and rotation ─────────────────────────────────────────────────────────────────────────

  #getKeyPolicy(input: JsonObject, context: RequestContext): JsonObject {
    const keyId = readString(input, 'KeyId', { required: true, min: 1, max: 2048 })
    const policyName = readString(input, 'PolicyName', { min: 1, max: 128 })
    const { key } = this.#resolve(keyId, context)
    checkPolicyName(policyName)
    this.#authorize(key, 'kms:GetKeyPolicy', context, {})
    return { Policy: key.policy, PolicyName: 'default' }
  }

  async #putKeyPolicy(input: JsonObject, context: RequestContext): Promise<JsonObject> {
    const keyId = readString(input, 'KeyId', { required: true, min: 1, max: 2048 })
    const policy = readString(input, 'Policy', { required: true, min: 1, max: 131_072 })
    const policyName = readString(input, 'PolicyName', { min: 1, max: 128 })
    const bypass = readBoolean(input, 'BypassPolicyLockoutSafetyCheck') ?? false
    const { key } = this.#resolve(keyId, context)
    checkPolicyName(policyName)
    this.#authorize(key, 'kms:PutKeyPolicy', context, {})
    this.#checkNewPolicy(policy, context, key.arn, bypass)
    await this.#o.store.update((draft) => {
      draft.keys[key.keyId]!.policy = policy
    })
    return {}
  }

  async #setKeyRotation(input: JsonObject, context: RequestContext, enabled: boolean): Promise<JsonObject> {
    const keyId = readString(input, 'KeyId', { required: true, min: 1, max: 2048 })
    const period = enabled ? readInteger(input, 'RotationPeriodInDays', { min: 90, max: 2560 }) : undefined
    const { key } = this.#resolve(keyId, context)
    this.#authorize(key, enabled ? 'kms:EnableKeyRotation' : 'kms:DisableKeyRotation', context, {})
    await this.#o.store.update((draft) => {
      const record = draft.keys[key.keyId]!
      record.rotationEnabled = enabled
      if (period !== undefined) record.rotationPeriodInDays = period
    })
    return {}
  }

  #getKeyRotationStatus(input: JsonObject, context: RequestContext): JsonObject {
    const { key } = this.#resolve(readString(input, 'KeyId', { required: true, min: 1, max: 2048 }), context)
    this.#authorize(key, 'kms:GetKeyRotationStatus', context, {})
    return {
      KeyRotationEnabled: key.rotationEnabled,
      KeyId: key.arn,
      ...(key.rotationEnabled
        ? {
            RotationPeriodInDays: key.rotationPeriodInDays,
            NextRotationDate: toEpochSeconds(key.creationDate + key.rotationPeriodInDays * 86_400_000),
          }
        : {}),
    }
  }

  /** Parse a new policy and, unless bypassed, refuse one that would lock the caller out (as KMS does). */
  #checkNewPolicy(policy: string, { principal, identityPolicies }: RequestContext, keyArn: string, bypass: boolean): void {
    try {
      parseKeyPolicy(policy)
    } catch (e) {
      if (isCustodyError(e)) throw kmsError('MalformedPolicyDocumentException', e.shortMessage)
      throw e
    }
    if (bypass) return
    const { allowed } = evaluatePolicy(policy, { principalArn: principal.arn, action: 'kms:PutKeyPolicy', resourceArn: keyArn, identityPolicies })
    if (!allowed) {
      throw kmsError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.')
    }
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Resolve a KeyId as KMS does: a key id or alias name in the caller's account, or a key ARN or alias ARN of
   * any account (the only way to name another account's key; the policies then decide).
   *
   * @throws AwsServiceError NotFoundException
   */
  #resolve(keyId: string, { principal }: RequestContext): ResolvedKey {
    const { keys, aliases } = this.#o.store.state
    const findKey = (id: string, account: string): KmsKeyRecord => {
      const key = Object.hasOwn(keys, id) ? keys[id] : undefined
      if (key === undefined || accountOfKey(key) !== account) throw kmsError('NotFoundException', `Key '${this.#keyArn(id, account)}' does not exist`)
      return key
    }
    const findAlias = (name: string, account: string): ResolvedKey => {
      const id = aliasRecordId(account, name)
      const alias = Object.hasOwn(aliases, id) ? aliases[id] : undefined
      if (alias === undefined) throw kmsError('NotFoundException', `Alias ${this.#aliasArn(name, account)} is not found.`)
      return { key: findKey(alias.targetKeyId, account), alias: name }
    }
    if (UUID.test(keyId)) return { key: findKey(keyId, principal.accountId), alias: undefined }
    if (keyId.startsWith('alias/')) return findAlias(keyId, principal.accountId)
    const arn = /^arn:aws:kms:([^:]+):(\d{12}):(key|alias)\/(.+)$/.exec(keyId)
    if (arn !== null) {
      const [, region, account, type, rest] = arn as unknown as [string, string, string, string, string]
      if (region !== this.#o.region) {
        throw kmsError('NotFoundException', type === 'key' ? `Key '${keyId}' does not exist` : `Alias ${keyId} is not found.`)
      }
      if (type === 'alias') return findAlias(`alias/${rest}`, account)
      if (UUID.test(rest)) return { key: findKey(rest, account), alias: undefined }
    }
    throw kmsError('NotFoundException', `Invalid keyId '${keyId.slice(0, 256)}'`)
  }

  /** @throws AwsServiceError AccessDeniedException unless the key policy (with the caller's IAM policies) allows the request */
  #authorize(key: KmsKeyRecord, action: string, { principal, identityPolicies }: RequestContext, context: PolicyContext): void {
    const result = evaluatePolicy(key.policy, { principalArn: principal.arn, action, resourceArn: key.arn, context, identityPolicies })
    if (!result.allowed) throw accessDenied(principal.arn, action, key.arn, result)
  }

  /** IAM-only actions (no key policy): the caller's identity policies decide. */
  #authorizeIam(action: string, resource: string, { principal, identityPolicies }: RequestContext): void {
    const result = evaluateIdentityPolicies(identityPolicies, { principalArn: principal.arn, action, resourceArn: resource })
    if (!result.allowed) throw accessDenied(principal.arn, action, resource, result)
  }

  #verifyRecipient(recipient: JsonObject): Promise<VerifiedRecipient> {
    return verifyRecipient({
      recipient,
      verify: this.#o.verifyAttestation,
      roots: this.#o.attestationRoots,
      now: this.#o.clock(),
      requireRoots: this.#o.requireAttestationRoots,
    })
  }

  #keyArn(keyId: string, account: string): string {
    return `arn:aws:kms:${this.#o.region}:${account}:key/${keyId}`
  }

  #aliasArn(aliasName: string, account: string): string {
    return `arn:aws:kms:${this.#o.region}:${account}:${aliasName}`
  }
}

/** The account of a key: the one in its ARN. */
function accountOfKey(key: KmsKeyRecord): string {
  return key.arn.split(':')[4]!
}

function material(key: KmsKeyRecord): Buffer {
  return Buffer.from(key.material, 'base64')
}

function encryptionContextKeys(context: Readonly<Record<string, string>> | undefined): Record<string, string | string[]> {
  const keys: Record<string, string | string[]> = {}
  if (context === undefined) return keys
  for (const [k, v] of Object.entries(context)) keys[`kms:EncryptionContext:${k}`] = v
  keys['kms:EncryptionContextKeys'] = Object.keys(context)
  return keys
}

function checkSymmetricAlgorithm(algorithm: string | undefined): void {
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw kmsError('InvalidKeyUsageException', `The requested encryption algorithm ${algorithm} is not supported by this key (KeySpec SYMMETRIC_DEFAULT).`)
  }
}

function checkPolicyName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') throw kmsError('NotFoundException', `Policy ${name.slice(0, 128)} does not exist. The only key policy name is "default".`)
}

function dryRunError(): AwsServiceError {
  return kmsError('DryRunOperationException', DRY_RUN_MESSAGE, 412)
}

function byCreation(a: KmsKeyRecord, b: KmsKeyRecord): number {
  return a.creationDate - b.creationDate || (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0)
}

function readTags(input: JsonObject): { TagKey: string; TagValue: string }[] {
  const tags = readObjectList(input, 'Tags') ?? []
  return tags.map((tag) => {
    const key = isJsonObject(tag) ? tag.TagKey : undefined
    const value = isJsonObject(tag) ? tag.TagValue : undefined
    if (typeof key !== 'string' || key.length < 1 || key.length > 128 || typeof value !== 'string' || value.length > 256) {
      throw kmsError('TagException', 'Tags need a TagKey (1-128 characters) and a TagValue (0-256 characters).')
    }
    return { TagKey: key, TagValue: value }
  })
}

function invalidMarker(): AwsServiceError {
  return kmsError('InvalidMarkerException', 'The request contains a marker that is not valid.')
}
