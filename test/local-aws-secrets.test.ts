import { randomUUID } from 'node:crypto'
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  paginateListSecrets,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager'
import type { LocalAws } from '@enclave-custody/local-aws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACCOUNT, awsError, REGION, secretsFor, startTestAws } from './local-aws-fixtures.js'

const DAY = 86_400_000
let now = Date.parse('2026-05-01T10:00:00Z')
let aws: LocalAws
let sm: SecretsManagerClient

beforeAll(async () => {
  // The clock drives deletion windows; SigV4 skew is checked against it too, so the client signs with the same offset.
  aws = await startTestAws({ clock: () => new Date(now) })
  sm = secretsFor(aws, 'admin', { systemClockOffset: now - Date.now() })
})
afterAll(async () => {
  sm?.destroy()
  await aws?.close()
})

/** Move the server clock (and the client's signing clock with it). */
function advance(ms: number): void {
  now += ms
  sm.config.systemClockOffset = now - Date.now()
}

const ARN = new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:enclave-custody/keys/k1-[A-Za-z0-9]{6}$`)

describe('CreateSecret / GetSecretValue / DescribeSecret', () => {
  it('creates a string secret readable by name, ARN and partial ARN', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'enclave-custody/keys/k1', SecretString: '{"v":1}', Description: 'Sealed Key', Tags: [{ Key: 'app', Value: 'custody' }] }))
    expect(created.ARN).toMatch(ARN)
    expect(created.Name).toBe('enclave-custody/keys/k1')
    expect(created.VersionId).toMatch(/^[0-9a-f-]{36}$/)
    for (const id of ['enclave-custody/keys/k1', created.ARN!, created.ARN!.slice(0, -7)]) {
      const got = await sm.send(new GetSecretValueCommand({ SecretId: id }))
      expect(got).toMatchObject({ ARN: created.ARN, Name: 'enclave-custody/keys/k1', VersionId: created.VersionId, SecretString: '{"v":1}', VersionStages: ['AWSCURRENT'] })
      expect(got.CreatedDate?.getTime()).toBe(now)
    }
    const described = await sm.send(new DescribeSecretCommand({ SecretId: created.ARN }))
    expect(described).toMatchObject({
      ARN: created.ARN,
      Name: 'enclave-custody/keys/k1',
      Description: 'Sealed Key',
      RotationEnabled: false,
      Tags: [{ Key: 'app', Value: 'custody' }],
      VersionIdsToStages: { [created.VersionId!]: ['AWSCURRENT'] },
    })
    expect(described.CreatedDate?.getTime()).toBe(now)
    expect(described.LastAccessedDate?.getTime()).toBe(Date.parse('2026-05-01T00:00:00Z'))
  })

  it('stores binary secrets as bytes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    await sm.send(new CreateSecretCommand({ Name: 'binary', SecretBinary: bytes }))
    const got = await sm.send(new GetSecretValueCommand({ SecretId: 'binary' }))
    expect(got.SecretBinary).toEqual(bytes)
    expect(got.SecretString).toBeUndefined()
  })

  it('a secret created without a value has no version yet', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'empty-one' }))
    expect(created.VersionId).toBeUndefined()
    expect(await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'empty-one' })))).toEqual({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
      status: 400,
    })
    const put = await sm.send(new PutSecretValueCommand({ SecretId: 'empty-one', SecretString: 'first' }))
    expect(put.VersionStages).toEqual(['AWSCURRENT'])
  })

  it('ClientRequestToken makes CreateSecret idempotent for the same value only', async () => {
    const token = randomUUID()
    const first = await sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'a', ClientRequestToken: token }))
    expect(first.VersionId).toBe(token)
    const again = await sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'a', ClientRequestToken: token }))
    expect(again).toMatchObject({ ARN: first.ARN, VersionId: token })
    expect(await awsError(sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'b', ClientRequestToken: token })))).toEqual({
      name: 'ResourceExistsException',
      message: 'The operation failed because the secret idem already exists.',
      status: 400,
    })
    expect((await awsError(sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'a' })))).name).toBe('ResourceExistsException')
  })

  it('rejects both value kinds, bad names and unknown secrets', async () => {
    expect(await awsError(sm.send(new CreateSecretCommand({ Name: 'both', SecretString: 'a', SecretBinary: new Uint8Array([1]) })))).toMatchObject({
      name: 'InvalidParameterException',
      message: "You can't specify both a binary secret value and a string secret value in the same secret.",
    })
    expect((await awsError(sm.send(new CreateSecretCommand({ Name: 'has space', SecretString: 'a' })))).name).toBe('InvalidParameterException')
    expect((await awsError(sm.send(new CreateSecretCommand({ Name: undefined, SecretString: 'a' })))).name).toBe('ValidationException')
    for (const command of [new GetSecretValueCommand({ SecretId: 'nope' }), new DescribeSecretCommand({ SecretId: 'nope' })]) {
      expect(await awsError(sm.send(command))).toEqual({ name: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret.", status: 400 })
    }
    expect(
      (await awsError(sm.send(new GetSecretValueCommand({ SecretId: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:enclave-custody/keys/k1-AAAAAA` })))).name,
    ).toBe('ResourceNotFoundException')
  })
})

describe('PutSecretValue and staging labels', () => {
  it('moves AWSCURRENT to the new version and AWSPREVIOUS to the old one', async () => {
    const v1 = await sm.send(new CreateSecretCommand({ Name: 'rotating', SecretString: 'one' }))
    const v2 = await sm.send(new PutSecretValueCommand({ SecretId: 'rotating', SecretString: 'two' }))
    expect(v2.VersionStages).toEqual(['AWSCURRENT'])
    const v3 = await sm.send(new PutSecretValueCommand({ SecretId: v1.ARN, SecretString: 'three' }))
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'rotating' }))).SecretString).toBe('three')
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'rotating', VersionStage: 'AWSPREVIOUS' }))).SecretString).toBe('two')
    const byId = await sm.send(new GetSecretValueCommand({ SecretId: 'rotating', VersionId: v1.VersionId }))
    expect(byId).toMatchObject({ SecretString: 'one', VersionStages: [] })
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'rotating' }))).VersionIdsToStages).toEqual({
      [v2.VersionId!]: ['AWSPREVIOUS'],
      [v3.VersionId!]: ['AWSCURRENT'],
    })
  })

  it('custom VersionStages leave AWSCURRENT where it is', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'staged', SecretString: 'live' }))
    const pending = await sm.send(new PutSecretValueCommand({ SecretId: 'staged', SecretString: 'next', VersionStages: ['AWSPENDING'] }))
    expect(pending.VersionStages).toEqual(['AWSPENDING'])
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'staged' }))).SecretString).toBe('live')
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'staged', VersionStage: 'AWSPENDING' }))).SecretString).toBe('next')
  })

  it('is idempotent per ClientRequestToken and refuses to modify a version', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'tokened', SecretString: 'v1' }))
    const token = randomUUID()
    const a = await sm.send(new PutSecretValueCommand({ SecretId: 'tokened', SecretString: 'v2', ClientRequestToken: token }))
    const b = await sm.send(new PutSecretValueCommand({ SecretId: 'tokened', SecretString: 'v2', ClientRequestToken: token }))
    expect(b.VersionId).toBe(a.VersionId)
    expect(Object.keys((await sm.send(new DescribeSecretCommand({ SecretId: 'tokened' }))).VersionIdsToStages!)).toHaveLength(2)
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'tokened', VersionStage: 'AWSPREVIOUS' }))).SecretString).toBe('v1')
    expect(await awsError(sm.send(new PutSecretValueCommand({ SecretId: 'tokened', SecretString: 'v3', ClientRequestToken: token })))).toMatchObject({
      name: 'ResourceExistsException',
      message: "You can't modify an existing version, you can only create new versions.",
    })
  })

  it('errors: no value, both values, unknown secret, unknown version or stage', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'errs', SecretString: 'x' }))
    expect((await awsError(sm.send(new PutSecretValueCommand({ SecretId: 'errs' })))).name).toBe('InvalidParameterException')
    expect((await awsError(sm.send(new PutSecretValueCommand({ SecretId: 'errs', SecretString: 'a', SecretBinary: new Uint8Array([1]) })))).name).toBe(
      'InvalidParameterException',
    )
    expect((await awsError(sm.send(new PutSecretValueCommand({ SecretId: 'nope', SecretString: 'a' })))).name).toBe('ResourceNotFoundException')
    const unknownVersion = randomUUID()
    expect(await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'errs', VersionId: unknownVersion })))).toMatchObject({
      name: 'ResourceNotFoundException',
      message: `Secrets Manager can't find the specified secret value for VersionId: ${unknownVersion}`,
    })
    expect((await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'errs', VersionStage: 'AWSPREVIOUS' })))).message).toBe(
      "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
    )
  })
})

describe('ListSecrets', () => {
  it('filters by name prefix (case-sensitive), negation, description and tags; pages with NextToken', async () => {
    for (const name of ['list/a', 'list/b', 'list/c', 'List/upper']) {
      await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'x', Description: `Item ${name}`, Tags: [{ Key: `tag-${name.slice(-1)}`, Value: 'v' }] }))
    }
    const names = async (filters: { Key: 'name' | 'description' | 'tag-key' | 'all'; Values: string[] }[]) =>
      ((await sm.send(new ListSecretsCommand({ Filters: filters }))).SecretList ?? []).map((s) => s.Name).sort()
    expect(await names([{ Key: 'name', Values: ['list/'] }])).toEqual(['list/a', 'list/b', 'list/c'])
    expect(await names([{ Key: 'name', Values: ['list/a', 'list/c'] }])).toEqual(['list/a', 'list/c'])
    expect(await names([{ Key: 'name', Values: ['list/'] }, { Key: 'name', Values: ['!list/b'] }])).toEqual(['list/a', 'list/c'])
    expect(await names([{ Key: 'description', Values: ['item list/'] }])).toEqual(['List/upper', 'list/a', 'list/b', 'list/c'])
    expect(await names([{ Key: 'tag-key', Values: ['tag-r'] }])).toEqual(['List/upper'])
    expect(await names([{ Key: 'all', Values: ['UPPER'] }])).toEqual(['List/upper'])

    const first = await sm.send(new ListSecretsCommand({ MaxResults: 2, Filters: [{ Key: 'name', Values: ['list/'] }] }))
    expect(first.SecretList).toHaveLength(2)
    expect(first.NextToken).toBeTypeOf('string')
    const entry = first.SecretList![0]!
    expect(entry).toMatchObject({ Name: 'list/a', Description: 'Item list/a' })
    expect(Object.values(entry.SecretVersionsToStages ?? {})).toEqual([['AWSCURRENT']])
    const second = await sm.send(new ListSecretsCommand({ MaxResults: 2, NextToken: first.NextToken, Filters: [{ Key: 'name', Values: ['list/'] }] }))
    expect(second.SecretList?.map((s) => s.Name)).toEqual(['list/c'])
    expect(second.NextToken).toBeUndefined()

    const all: string[] = []
    for await (const page of paginateListSecrets({ client: sm, pageSize: 3 }, {})) all.push(...(page.SecretList ?? []).map((s) => s.Name!))
    expect(all).toEqual(expect.arrayContaining(['list/a', 'list/b', 'list/c', 'List/upper', 'rotating']))
    expect(new Set(all).size).toBe(all.length)

    expect((await awsError(sm.send(new ListSecretsCommand({ NextToken: 'garbage' })))).name).toBe('InvalidNextTokenException')
    expect((await awsError(sm.send(new ListSecretsCommand({ MaxResults: 0 })))).name).toBe('ValidationException')
  })
})

describe('DeleteSecret / RestoreSecret', () => {
  it('schedules deletion (30 days by default), blocks use, and restores', async () => {
    const { ARN } = await sm.send(new CreateSecretCommand({ Name: 'to-delete', SecretString: 'x' }))
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'to-delete' }))
    expect(deleted).toMatchObject({ ARN, Name: 'to-delete' })
    expect(deleted.DeletionDate?.getTime()).toBe(now + 30 * DAY)
    const marked = "You can't perform this operation on the secret because it was marked for deletion."
    expect(await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'to-delete' })))).toEqual({ name: 'InvalidRequestException', message: marked, status: 400 })
    expect((await awsError(sm.send(new PutSecretValueCommand({ SecretId: 'to-delete', SecretString: 'y' })))).message).toBe(marked)
    expect((await awsError(sm.send(new CreateSecretCommand({ Name: 'to-delete', SecretString: 'y' })))).message).toBe(
      "You can't create this secret because a secret with this name is already scheduled for deletion.",
    )
    expect((await awsError(sm.send(new DeleteSecretCommand({ SecretId: 'to-delete' })))).name).toBe('InvalidRequestException')
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'to-delete' }))).DeletedDate?.getTime()).toBe(now)
    const listed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['to-delete'] }] }))
    expect(listed.SecretList).toEqual([])
    const planned = await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: true, Filters: [{ Key: 'name', Values: ['to-delete'] }] }))
    expect(planned.SecretList?.map((s) => s.Name)).toEqual(['to-delete'])

    expect(await sm.send(new RestoreSecretCommand({ SecretId: ARN }))).toMatchObject({ ARN, Name: 'to-delete' })
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'to-delete' }))).SecretString).toBe('x')
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'to-delete' }))).DeletedDate).toBeUndefined()
    expect((await awsError(sm.send(new RestoreSecretCommand({ SecretId: 'never-existed' })))).name).toBe('ResourceNotFoundException')
  })

  it('a secret disappears when its recovery window has passed', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'short-window', SecretString: 'x' }))
    const { DeletionDate } = await sm.send(new DeleteSecretCommand({ SecretId: 'short-window', RecoveryWindowInDays: 7 }))
    expect(DeletionDate?.getTime()).toBe(now + 7 * DAY)
    advance(7 * DAY - 1000)
    expect((await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'short-window' })))).name).toBe('InvalidRequestException')
    advance(1000)
    expect((await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'short-window' })))).name).toBe('ResourceNotFoundException')
    expect((await awsError(sm.send(new RestoreSecretCommand({ SecretId: 'short-window' })))).name).toBe('ResourceNotFoundException')
    await sm.send(new CreateSecretCommand({ Name: 'short-window', SecretString: 'reborn' }))
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'short-window' }))).SecretString).toBe('reborn')
  })

  it('ForceDeleteWithoutRecovery deletes at once, also a secret already scheduled', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'forced', SecretString: 'x' }))
    const out = await sm.send(new DeleteSecretCommand({ SecretId: 'forced', ForceDeleteWithoutRecovery: true }))
    expect(out.DeletionDate?.getTime()).toBe(now)
    expect((await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'forced' })))).name).toBe('ResourceNotFoundException')
    await sm.send(new CreateSecretCommand({ Name: 'forced', SecretString: 'again' }))
    await sm.send(new DeleteSecretCommand({ SecretId: 'forced' }))
    await sm.send(new DeleteSecretCommand({ SecretId: 'forced', ForceDeleteWithoutRecovery: true }))
    expect((await awsError(sm.send(new DescribeSecretCommand({ SecretId: 'forced' })))).name).toBe('ResourceNotFoundException')
  })

  it.each([
    [{ RecoveryWindowInDays: 6 }, 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).'],
    [{ RecoveryWindowInDays: 31 }, 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).'],
    [{ RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."],
  ])('InvalidParameterException for %o', async (options, message) => {
    await sm.send(new CreateSecretCommand({ Name: `param-${randomUUID()}`, SecretString: 'x' })).then(async ({ Name }) => {
      expect(await awsError(sm.send(new DeleteSecretCommand({ SecretId: Name, ...options })))).toEqual({ name: 'InvalidParameterException', message, status: 400 })
      expect((await sm.send(new GetSecretValueCommand({ SecretId: Name }))).SecretString).toBe('x')
    })
  })

  it('ResourceNotFoundException when deleting an unknown secret', async () => {
    expect((await awsError(sm.send(new DeleteSecretCommand({ SecretId: 'ghost' })))).name).toBe('ResourceNotFoundException')
  })
})
