import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type KeySpec,
  type KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  paginateListKeys,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms'
import type { LocalAws } from '@enclave-custody/local-aws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACCOUNT, awsError, kmsFor, REGION, startTestAws } from './local-aws-fixtures.js'

let aws: LocalAws
let kms: KMSClient
let keyId: string
let keyArn: string

beforeAll(async () => {
  aws = await startTestAws()
  kms = kmsFor(aws, 'admin')
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'main test key' }))
  keyId = KeyMetadata!.KeyId!
  keyArn = KeyMetadata!.Arn!
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/custody', TargetKeyId: keyId }))
})
afterAll(async () => {
  kms?.destroy()
  await aws?.close()
})

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('CreateKey', () => {
  it('creates a symmetric key with AWS-shaped metadata', async () => {
    const before = Date.now()
    const { KeyMetadata: m } = await kms.send(new CreateKeyCommand({ Description: 'd', Tags: [{ TagKey: 'app', TagValue: 'custody' }] }))
    expect(m?.KeyId).toMatch(UUID)
    expect(m).toMatchObject({
      AWSAccountId: ACCOUNT,
      Arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${m?.KeyId}`,
      Enabled: true,
      Description: 'd',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: 'Enabled',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
    })
    expect(m?.CreationDate).toBeInstanceOf(Date)
    expect(m!.CreationDate!.getTime()).toBeGreaterThanOrEqual(before - 1000)
    expect(m!.CreationDate!.getTime()).toBeLessThanOrEqual(Date.now() + 1000)
  })

  it('stores a given policy verbatim', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/admin` }, Action: 'kms:*', Resource: '*' }],
    })
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Policy: policy }))
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId }))).Policy).toBe(policy)
  })

  it.each([
    ['RSA_2048', 'UnsupportedOperationException'],
    ['ECC_SECG_P256K1', 'UnsupportedOperationException'],
    ['HMAC_256', 'UnsupportedOperationException'],
    ['NOT_A_SPEC', 'ValidationException'],
  ])('KeySpec %s → %s', async (spec, code) => {
    expect((await awsError(kms.send(new CreateKeyCommand({ KeySpec: spec as KeySpec })))).name).toBe(code)
  })

  it('rejects other usages, origins, both spec members, multi-Region and bad tags', async () => {
    expect(await awsError(kms.send(new CreateKeyCommand({ KeyUsage: 'SIGN_VERIFY' })))).toMatchObject({
      name: 'ValidationException',
      message: 'KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT',
      status: 400,
    })
    expect((await awsError(kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' })))).name).toBe('UnsupportedOperationException')
    expect((await awsError(kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT' })))).name).toBe(
      'ValidationException',
    )
    expect((await awsError(kms.send(new CreateKeyCommand({ MultiRegion: true })))).name).toBe('UnsupportedOperationException')
    expect((await awsError(kms.send(new CreateKeyCommand({ Tags: [{ TagKey: '', TagValue: 'x' }] })))).name).toBe('TagException')
  })

  it('rejects a malformed policy and one that locks the caller out (unless bypassed)', async () => {
    expect((await awsError(kms.send(new CreateKeyCommand({ Policy: '{"Statement": 5}' })))).name).toBe('MalformedPolicyDocumentException')
    const otherOnly = JSON.stringify({
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/someone-else` }, Action: 'kms:*', Resource: '*' }],
    })
    expect(await awsError(kms.send(new CreateKeyCommand({ Policy: otherOnly })))).toMatchObject({
      name: 'MalformedPolicyDocumentException',
      message: 'The new key policy will not allow you to update the key policy in the future.',
    })
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Policy: otherOnly, BypassPolicyLockoutSafetyCheck: true }))
    expect((await awsError(kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId })))).name).toBe('AccessDeniedException')
  })
})

describe('DescribeKey and KeyId forms', () => {
  it.each([
    ['key id', () => keyId],
    ['key ARN', () => keyArn],
    ['alias name', () => 'alias/custody'],
    ['alias ARN', () => `arn:aws:kms:${REGION}:${ACCOUNT}:alias/custody`],
  ])('resolves a %s', async (_, id) => {
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: id() }))
    expect(KeyMetadata?.Arn).toBe(keyArn)
    expect(KeyMetadata?.Description).toBe('main test key')
  })

  it('NotFoundException for unknown keys, aliases, foreign ARNs and malformed ids', async () => {
    const missing = '00000000-0000-4000-8000-000000000000'
    expect(await awsError(kms.send(new DescribeKeyCommand({ KeyId: missing })))).toEqual({
      name: 'NotFoundException',
      message: `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${missing}' does not exist`,
      status: 400,
    })
    expect(await awsError(kms.send(new DescribeKeyCommand({ KeyId: 'alias/nope' })))).toMatchObject({
      name: 'NotFoundException',
      message: `Alias arn:aws:kms:${REGION}:${ACCOUNT}:alias/nope is not found.`,
    })
    expect((await awsError(kms.send(new DescribeKeyCommand({ KeyId: keyArn.replace(REGION, 'us-west-2') })))).name).toBe('NotFoundException')
    expect((await awsError(kms.send(new DescribeKeyCommand({ KeyId: keyArn.replace(ACCOUNT, '999999999999') })))).name).toBe('NotFoundException')
    expect(await awsError(kms.send(new DescribeKeyCommand({ KeyId: 'not-a-key' })))).toMatchObject({ name: 'NotFoundException', message: "Invalid keyId 'not-a-key'" })
  })

  it('ValidationException when KeyId is missing', async () => {
    expect(await awsError(kms.send(new DescribeKeyCommand({ KeyId: undefined })))).toMatchObject({
      name: 'ValidationException',
      message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    })
  })
})

describe('ListKeys', () => {
  it('pages through every key with Limit/Marker (and the SDK paginator)', async () => {
    const aws2 = await startTestAws()
    const kms2 = kmsFor(aws2)
    try {
      const created: string[] = []
      for (let i = 0; i < 5; i++) created.push((await kms2.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!)
      const first = await kms2.send(new ListKeysCommand({ Limit: 2 }))
      expect(first.Keys).toHaveLength(2)
      expect(first.Truncated).toBe(true)
      expect(first.NextMarker).toBeTypeOf('string')
      const seen: string[] = []
      for await (const page of paginateListKeys({ client: kms2, pageSize: 2 }, {})) seen.push(...(page.Keys ?? []).map((k) => k.KeyId!))
      expect(seen).toEqual(created)
      const last = await kms2.send(new ListKeysCommand({}))
      expect(last.Truncated).toBe(false)
      expect(last.NextMarker).toBeUndefined()
      expect(last.Keys?.[0]).toEqual({ KeyId: created[0], KeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${created[0]}` })
      expect((await awsError(kms2.send(new ListKeysCommand({ Marker: 'bogus' })))).name).toBe('InvalidMarkerException')
      expect((await awsError(kms2.send(new ListKeysCommand({ Limit: 0 })))).name).toBe('ValidationException')
    } finally {
      kms2.destroy()
      await aws2.close()
    }
  })
})

describe('CreateAlias / ListAliases', () => {
  it('lists aliases, optionally for one key, with AWS fields', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/other', TargetKeyId: KeyMetadata!.Arn }))
    const all = await kms.send(new ListAliasesCommand({}))
    const names = all.Aliases?.map((a) => a.AliasName)
    expect(names).toEqual(expect.arrayContaining(['alias/custody', 'alias/other']))
    const mine = await kms.send(new ListAliasesCommand({ KeyId: 'alias/custody' }))
    expect(mine.Aliases).toHaveLength(1)
    expect(mine.Aliases?.[0]).toMatchObject({ AliasName: 'alias/custody', AliasArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/custody`, TargetKeyId: keyId })
    expect(mine.Aliases?.[0]?.CreationDate).toBeInstanceOf(Date)
    const paged = await kms.send(new ListAliasesCommand({ Limit: 1 }))
    expect(paged.Truncated).toBe(true)
    const next = await kms.send(new ListAliasesCommand({ Limit: 1, Marker: paged.NextMarker }))
    expect(next.Aliases?.[0]?.AliasName).not.toBe(paged.Aliases?.[0]?.AliasName)
  })

  it.each([
    ['an existing alias', 'alias/custody', () => keyId, 'AlreadyExistsException'],
    ['no alias/ prefix', 'custody2', () => keyId, 'InvalidAliasNameException'],
    ['the reserved alias/aws/ prefix', 'alias/aws/mine', () => keyId, 'InvalidAliasNameException'],
    ['invalid characters', 'alias/with space', () => keyId, 'ValidationException'],
    ['a missing target key', 'alias/x1', () => '00000000-0000-4000-8000-000000000000', 'NotFoundException'],
    ['an alias as target', 'alias/x2', () => 'alias/custody', 'ValidationException'],
  ])('rejects %s', async (_, aliasName, target, code) => {
    expect((await awsError(kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: target() })))).name).toBe(code)
  })

  it('AlreadyExistsException names the alias ARN', async () => {
    expect((await awsError(kms.send(new CreateAliasCommand({ AliasName: 'alias/custody', TargetKeyId: keyId })))).message).toBe(
      `An alias with the name arn:aws:kms:${REGION}:${ACCOUNT}:alias/custody already exists`,
    )
  })
})

describe('Encrypt / Decrypt', () => {
  const plaintext = new TextEncoder().encode('0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318')
  const context = { keyId: 'key-1', purpose: 'custody' }

  it('round-trips through the alias with an encryption context', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/custody', Plaintext: plaintext, EncryptionContext: context }))
    expect(enc.KeyId).toBe(keyArn)
    expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT')
    expect(Buffer.from(enc.CiphertextBlob!).includes(Buffer.from(plaintext))).toBe(false)
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { purpose: 'custody', keyId: 'key-1' } }))
    expect(dec.Plaintext).toEqual(plaintext)
    expect(dec.KeyId).toBe(keyArn)
    expect(dec.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT')
    const withKeyId = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context, KeyId: 'alias/custody' }))
    expect(withKeyId.Plaintext).toEqual(plaintext)
  })

  it('InvalidCiphertextException for a wrong context, tampering and truncation', async () => {
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }))
    const blob = CiphertextBlob!
    const cases: [string, Uint8Array, Record<string, string> | undefined][] = [
      ['no context', blob, undefined],
      ['other context', blob, { ...context, keyId: 'key-2' }],
      ['flipped last byte', Uint8Array.from(blob, (b, i) => (i === blob.length - 1 ? b ^ 1 : b)), context],
      ['flipped IV byte', Uint8Array.from(blob, (b, i) => (i === 20 ? b ^ 1 : b)), context],
      ['truncated', blob.subarray(0, blob.length - 5), context],
      ['garbage', new Uint8Array([9, 9, 9]), context],
    ]
    for (const [label, ciphertext, ctx] of cases) {
      const err = await awsError(kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: ctx })))
      expect(err.name, label).toBe('InvalidCiphertextException')
      expect(err.status, label).toBe(400)
    }
  })

  it('IncorrectKeyException when KeyId names another key', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))
    expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob, KeyId: KeyMetadata!.KeyId })))).toMatchObject({
      name: 'IncorrectKeyException',
      message: 'The key ID in the request does not identify a CMK that can perform this operation.',
    })
    expect((await awsError(kms.send(new DecryptCommand({ CiphertextBlob, KeyId: 'alias/missing' })))).name).toBe('NotFoundException')
  })

  it('AccessDeniedException for a blob naming a key this KMS does not have', async () => {
    const other = await startTestAws()
    const otherKms = kmsFor(other)
    try {
      const { KeyMetadata } = await otherKms.send(new CreateKeyCommand({}))
      const { CiphertextBlob } = await otherKms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: plaintext }))
      expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob })))).toMatchObject({
        name: 'AccessDeniedException',
        message: 'The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.',
      })
    } finally {
      otherKms.destroy()
      await other.close()
    }
  })

  it('validates inputs like KMS', async () => {
    expect((await awsError(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(4097) })))).message).toBe(
      "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    )
    expect((await awsError(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: undefined })))).name).toBe('ValidationException')
    expect((await awsError(kms.send(new EncryptCommand({ KeyId: 'alias/missing', Plaintext: plaintext })))).name).toBe('NotFoundException')
    expect((await awsError(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })))).name).toBe(
      'InvalidKeyUsageException',
    )
  })

  it('DryRun answers DryRunOperationException (412) after authorisation, and encrypts nothing', async () => {
    expect(await awsError(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, DryRun: true })))).toEqual({
      name: 'DryRunOperationException',
      message: 'The request would have succeeded, but the DryRun option is set.',
      status: 412,
    })
  })
})

describe('GenerateDataKey', () => {
  it.each([
    [{ KeySpec: 'AES_256' as const }, 32],
    [{ KeySpec: 'AES_128' as const }, 16],
    [{ NumberOfBytes: 64 }, 64],
  ])('%o → %i-byte key whose CiphertextBlob decrypts to it', async (spec, length) => {
    const out = await kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/custody', EncryptionContext: { k: 'v' }, ...spec }))
    expect(out.Plaintext).toHaveLength(length)
    expect(out.KeyId).toBe(keyArn)
    expect(out.CiphertextForRecipient).toBeUndefined()
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: { k: 'v' } }))
    expect(dec.Plaintext).toEqual(out.Plaintext)
  })

  it('rejects missing, conflicting and out-of-range sizes, and unknown keys', async () => {
    expect(await awsError(kms.send(new GenerateDataKeyCommand({ KeyId: keyId })))).toMatchObject({
      name: 'ValidationException',
      message: 'Please specify either number of bytes or key spec.',
    })
    expect((await awsError(kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', NumberOfBytes: 32 })))).name).toBe('ValidationException')
    expect((await awsError(kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 1025 })))).name).toBe('ValidationException')
    expect((await awsError(kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/none', KeySpec: 'AES_256' })))).name).toBe('NotFoundException')
  })
})

describe('GenerateRandom', () => {
  it('returns fresh random bytes of the requested length', async () => {
    const a = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }))
    const b = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }))
    expect(a.Plaintext).toHaveLength(32)
    expect(Buffer.compare(a.Plaintext!, b.Plaintext!)).not.toBe(0)
    expect((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }))).Plaintext).toHaveLength(1024)
  })

  it.each([0, 1025, undefined])('rejects NumberOfBytes %s', async (n) => {
    expect((await awsError(kms.send(new GenerateRandomCommand({ NumberOfBytes: n })))).name).toBe('ValidationException')
  })
})

describe('GetKeyPolicy / PutKeyPolicy', () => {
  it('a new key has the AWS default policy', async () => {
    const { Policy, PolicyName } = await kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))
    expect(PolicyName).toBe('default')
    expect(JSON.parse(Policy!)).toEqual({
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
    })
    expect((await awsError(kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'other' })))).name).toBe('NotFoundException')
  })

  it('replaces the policy, and rejects malformed or lock-out policies', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    const id = KeyMetadata!.KeyId!
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/admin` }, Action: 'kms:*', Resource: '*' },
        { Sid: 'NoEncrypt', Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt', Resource: '*' },
      ],
    })
    const out = await kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: policy }))
    expect(out.$metadata.httpStatusCode).toBe(200)
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy).toBe(policy)
    expect((await awsError(kms.send(new EncryptCommand({ KeyId: id, Plaintext: new Uint8Array([1]) })))).name).toBe('AccessDeniedException')
    for (const bad of ['not json', '{}', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}']) {
      expect((await awsError(kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: bad })))).name).toBe('MalformedPolicyDocumentException')
    }
    const lockout = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:Decrypt', Resource: '*' }] })
    expect((await awsError(kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: lockout })))).message).toBe(
      'The new key policy will not allow you to update the key policy in the future.',
    )
    expect((await awsError(kms.send(new PutKeyPolicyCommand({ KeyId: 'alias/none', Policy: policy })))).name).toBe('NotFoundException')
  })
})

describe('key rotation', () => {
  it('EnableKeyRotation / GetKeyRotationStatus / DisableKeyRotation', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    const id = KeyMetadata!.KeyId!
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled).toBe(false)
    await kms.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 180 }))
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }))
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180, KeyId: KeyMetadata!.Arn })
    expect(status.NextRotationDate!.getTime() - KeyMetadata!.CreationDate!.getTime()).toBe(180 * 86_400_000)
    await kms.send(new DisableKeyRotationCommand({ KeyId: id }))
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled).toBe(false)
    expect((await awsError(kms.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 30 })))).name).toBe('ValidationException')
    expect((await awsError(kms.send(new EnableKeyRotationCommand({ KeyId: 'alias/none' })))).name).toBe('NotFoundException')
  })
})
