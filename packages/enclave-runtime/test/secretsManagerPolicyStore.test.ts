/**
 * The enclave reads a key's signing policy itself from Secrets Manager (issue 12, "Rollback"): the production
 * policy store against the real local-aws, through the real AWS SDK client, with the importer's
 * `storeSigningPolicy` writing what the enclave reads.
 *
 * Local AWS with two accounts — ours (A: the sealing key's, the instance role reads, the importer role writes)
 * and the attacker's (B: may do anything in its own account) — and a second local AWS in another region (A
 * there too). A hostile endpoint in front of local AWS (plain HTTP, as development allows; in production TLS to
 * Secrets Manager ends in the enclave, tested at the end) stands for a parent that answers with whatever genuine
 * Secrets Manager answer suits it: another account's secret of the same name, the same secret in another region,
 * another key's policy, an older version. Each is refused; a policy that cannot be read is UNAVAILABLE, never
 * "no policy".
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, request as httpRequest, type Server } from 'node:http'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { KMSClient } from '@aws-sdk/client-kms'
import { CreateSecretCommand, GetSecretValueCommand, type GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type LocalAws, type LocalAwsLogEntry, startLocalAws } from '@enclave-custody/local-aws'
import {
  approveSigningPolicy,
  createKmsImporter,
  isCustodyError,
  normalizeSigningPolicyDocument,
  type SignedSigningPolicy,
  type Stamper,
  signingPolicySecretName,
} from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSoftwareNsm } from '../src/attestation/softwareNsm.js'
import { createAttestedRuntime } from '../src/attestedRuntime.js'
import { policyStoreLocationOf } from '../src/policy/store/policyStoreLocationOf.js'
import { createSecretsManagerPolicyStore, type CreateSecretsManagerPolicyStoreParameters } from '../src/policy/store/secretsManagerPolicyStore.js'
import { parseCaBundle } from '../src/trust/parseCaBundle.js'
import { hasCommand } from './shellHelpers.js'
import { newStamper } from './support/stamps.js'

const REGION = 'eu-central-1'
const OTHER_REGION = 'eu-west-1'
const A = '111122223333' // ours: the sealing key's account
const B = '999988887777' // the attacker's
/** The partial ARN the store asks for: in account A and REGION, `enclave-custody/policies/<keyId>/policy`. */
const partialArnOf = (keyId: string, account = A) => `arn:aws:secretsmanager:${REGION}:${account}:secret:enclave-custody/policies/${keyId}/policy`
const POLICIES = (region: string, account: string) => `arn:aws:secretsmanager:${region}:${account}:secret:enclave-custody/policies/*`
const allow = (actions: string[], resource: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }] })
const secret = () => randomBytes(20).toString('hex')
const P = {
  // As packages/infra grants them: the instance role reads policies, the importer role writes (and reads) them.
  instanceA: { accessKeyId: 'AKIAPOLINSTANCEA0001', secretAccessKey: secret(), arn: `arn:aws:iam::${A}:role/custody-instance`, policies: [allow(['secretsmanager:GetSecretValue'], POLICIES(REGION, A))] },
  importerA: {
    accessKeyId: 'AKIAPOLIMPORTERA0001',
    secretAccessKey: secret(),
    arn: `arn:aws:iam::${A}:role/custody-importer`,
    policies: [allow(['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'], POLICIES(REGION, A))],
  },
  // The account's root: reads anything of A (AWSPREVIOUS, to show what PutSecretValue left behind).
  adminA: { accessKeyId: 'AKIAPOLADMINA0000001', secretAccessKey: secret(), arn: `arn:aws:iam::${A}:root` },
  attackerB: { accessKeyId: 'AKIAPOLATTACKERB0001', secretAccessKey: secret(), arn: `arn:aws:iam::${B}:role/attacker`, policies: [allow(['secretsmanager:*'], '*')] },
}
type Who = keyof typeof P
const credentials = (who: Who) => ({ accessKeyId: P[who].accessKeyId, secretAccessKey: P[who].secretAccessKey })
const principals = () => Object.fromEntries(Object.values(P).map(({ accessKeyId, ...rest }) => [accessKeyId, rest]))

let aws: LocalAws
let awsOtherRegion: LocalAws
let requests: LocalAwsLogEntry[]
const clients: { destroy(): void }[] = []
const secretsClient = (who: Who, target: LocalAws = aws) => {
  const c = new SecretsManagerClient({ region: target.region, endpoint: target.endpoint, credentials: credentials(who), maxAttempts: 1 })
  clients.push(c)
  return c
}
const importerOf = (target: LocalAws = aws, who: Who = 'importerA') => {
  const kms = new KMSClient({ region: target.region, endpoint: target.endpoint, credentials: credentials(who) })
  clients.push(kms)
  return createKmsImporter({ kms, secretsManager: secretsClient(who, target), kmsKeyId: 'unused' })
}
/** The store as the attested runtime makes it, pointed at `endpoint` (local AWS by default). */
const storeAt = (endpoint: string, extra: Partial<CreateSecretsManagerPolicyStoreParameters> = {}) => {
  const store = createSecretsManagerPolicyStore({ region: REGION, account: A, endpoint, allowHttpEndpoint: true, ...extra })
  clients.push({ destroy: () => store.close() })
  return store
}

beforeAll(async () => {
  requests = []
  aws = await startLocalAws({ region: REGION, accountId: A, principals: principals(), log: (e) => requests.push(e) })
  awsOtherRegion = await startLocalAws({ region: OTHER_REGION, accountId: A, principals: principals() })
}, 60_000)
afterAll(async () => {
  for (const c of clients) c.destroy()
  await aws?.close()
  await awsOtherRegion?.close()
})

/** The one owner of this file's keys, and each key's (random) secp256k1 public key. */
const owner = newStamper()
const publicKeys = new Map<string, string>()
const publicKeyOf = (keyId: string) => {
  if (!publicKeys.has(keyId)) publicKeys.set(keyId, `0x${Buffer.from(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false)).toString('hex')}`)
  return publicKeys.get(keyId)!
}
/** A signed policy document for `keyId`: one allow rule under `max` wei, approved by `by`. */
async function signedPolicy(keyId: string, version: number, { max = '1000', by = owner }: { max?: string; by?: Stamper } = {}): Promise<SignedSigningPolicy> {
  const document = normalizeSigningPolicyDocument({ keyId, keyPublicKey: publicKeyOf(keyId), version, rules: [{ id: 'small', effect: 'allow', when: { value: { lte: max } } }], signers: [] })
  return { document, approvals: [await approveSigningPolicy(by, document)] }
}
let n = 0
const freshKeyId = (base = 'key') => `${base}-${++n}x${randomBytes(3).toString('hex')}`

/** The error `fn` throws (fails the test when it resolves). */
async function thrown(fn: () => Promise<unknown>): Promise<{ code?: string; message: string; retryable?: boolean; details?: Record<string, unknown> }> {
  try {
    await fn()
  } catch (e) {
    return e as { code?: string; message: string }
  }
  throw new Error('did not throw')
}

/** The awsJson wire form of a GetSecretValue answer, as Secrets Manager sends it. */
const wire = (out: GetSecretValueCommandOutput) => ({
  ARN: out.ARN,
  Name: out.Name,
  VersionId: out.VersionId,
  ...(out.SecretString === undefined ? {} : { SecretString: out.SecretString }),
  VersionStages: out.VersionStages,
  CreatedDate: (out.CreatedDate?.getTime() ?? 0) / 1000,
})

type Exchange = { target: string; body: Record<string, unknown> }
/**
 * An HTTP endpoint in front of local AWS: each request goes on byte for byte (so SigV4 still verifies; the
 * Host header too), and `answer` may replace what came back. Records each request's target and body.
 */
async function hostileEndpoint(answer: (upstream: Record<string, unknown>, exchange: Exchange) => Promise<Record<string, unknown>> | Record<string, unknown> = (u) => u) {
  const seen: Exchange[] = []
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    const exchange = { target: String(req.headers['x-amz-target']), body: JSON.parse(body.toString('utf8')) as Record<string, unknown> }
    seen.push(exchange)
    const upstream = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
      const out = httpRequest({ host: aws.host, port: aws.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        const parts: Buffer[] = []
        r.on('data', (c: Buffer) => parts.push(c))
        r.on('end', () => resolve({ status: r.statusCode ?? 500, headers: r.headers, text: Buffer.concat(parts).toString('utf8') }))
      })
      out.on('error', reject)
      out.end(body)
    })
    if (upstream.status !== 200) {
      res.writeHead(upstream.status, { 'content-type': String(upstream.headers['content-type']) })
      res.end(upstream.text)
      return
    }
    const replaced = JSON.stringify(await answer(JSON.parse(upstream.text) as Record<string, unknown>, exchange))
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': String(upstream.headers['x-amzn-requestid']) })
    res.end(replaced)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  clients.push({ destroy: () => server.close() })
  return { endpoint, seen }
}

describe('createSecretsManagerPolicyStore against local AWS', () => {
  it('reads what the importer stored: the partial ARN in the pinned account and region, AWSCURRENT, the forwarded credentials', async () => {
    const keyId = freshKeyId('treasury')
    const importer = importerOf()
    const v1 = await signedPolicy(keyId, 1)
    const stored = await importer.storeSigningPolicy(v1)
    expect(stored.arn).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${A}:secret:enclave-custody/policies/${keyId}/policy-[A-Za-z0-9]{6}$`))
    expect(await importer.readSigningPolicy(keyId)).toEqual(v1)

    const recorder = await hostileEndpoint() // passes everything through unchanged, and records it
    const store = storeAt(recorder.endpoint)
    expect(store.kind).toBe('secrets-manager')
    expect(store.write).toBeUndefined()
    expect(await store.read(keyId, { credentials: credentials('instanceA') })).toEqual(JSON.parse(JSON.stringify(v1)))
    expect(recorder.seen).toEqual([
      { target: 'secretsmanager.GetSecretValue', body: { SecretId: partialArnOf(keyId), VersionStage: 'AWSCURRENT' } },
    ])
    expect(store.secretIdOf(keyId)).toBe(recorder.seen[0]!.body.SecretId)
    expect(store.secretNameOf(keyId)).toBe(signingPolicySecretName(keyId))
  })

  it('after PutSecretValue the newer version is AWSCURRENT, and that is what the enclave reads', async () => {
    const keyId = freshKeyId('hot')
    const importer = importerOf()
    const first = await importer.storeSigningPolicy(await signedPolicy(keyId, 1))
    const v2 = await signedPolicy(keyId, 2, { max: '5' })
    const second = await importer.storeSigningPolicy(v2)
    expect(second.arn).toBe(first.arn)
    expect(second.versionId).not.toBe(first.versionId)
    const read = (await storeAt(aws.endpoint).read(keyId, { credentials: credentials('instanceA') })) as SignedSigningPolicy
    expect(read.document.version).toBe(2)
    expect(read).toEqual(JSON.parse(JSON.stringify(v2)))
    // The first version is still there, as AWSPREVIOUS: the store never asks for it.
    const previous = await secretsClient('adminA').send(new GetSecretValueCommand({ SecretId: first.arn, VersionStage: 'AWSPREVIOUS' }))
    expect((JSON.parse(previous.SecretString!) as SignedSigningPolicy).document.version).toBe(1)
  })

  it('a key without a stored policy reads undefined (ResourceNotFoundException)', async () => {
    const keyId = freshKeyId('none')
    expect(await storeAt(aws.endpoint).read(keyId, { credentials: credentials('instanceA') })).toBeUndefined()
    // Control: the same request names the same secret the importer then creates.
    await importerOf().storeSigningPolicy(await signedPolicy(keyId, 1))
    expect(await storeAt(aws.endpoint).read(keyId, { credentials: credentials('instanceA') })).toBeDefined()
  })

  it('credentials of another account are refused (UNAVAILABLE), never "no policy" — even where that account holds a secret of the same name', async () => {
    const keyId = freshKeyId('victim')
    await importerOf().storeSigningPolicy(await signedPolicy(keyId, 3))
    const absent = freshKeyId('victim-without-policy')
    // The attacker's own account holds permissive "policies" for both names.
    for (const id of [keyId, absent]) {
      await secretsClient('attackerB').send(new CreateSecretCommand({ Name: signingPolicySecretName(id), SecretString: JSON.stringify(await signedPolicy(id, 99, { max: '1000000000000000000000' })) }))
    }
    const store = storeAt(aws.endpoint)
    for (const id of [keyId, absent]) {
      const e = await thrown(() => store.read(id, { credentials: credentials('attackerB') }))
      expect([id, isCustodyError(e, 'UNAVAILABLE'), e.retryable]).toEqual([id, true, false])
      expect(e.message).toMatch(/^unavailable: Secrets Manager refused to return the signing policy \(AccessDeniedException, HTTP 400, request [\w-]+\)$/)
    }
  })

  describe('an answer for another secret than the one asked for is an IntegrityError', () => {
    let keyId: string
    let genuine: { otherAccount: GetSecretValueCommandOutput; otherRegion: GetSecretValueCommandOutput; otherKey: GetSecretValueCommandOutput; previous: GetSecretValueCommandOutput }
    beforeAll(async () => {
      keyId = freshKeyId('pinned')
      const name = signingPolicySecretName(keyId)
      await importerOf().storeSigningPolicy(await signedPolicy(keyId, 1))
      await importerOf().storeSigningPolicy(await signedPolicy(keyId, 2))
      const otherKeyId = freshKeyId('other')
      await importerOf().storeSigningPolicy(await signedPolicy(otherKeyId, 7))
      // The same name in the attacker's account, and in our account in another region (both genuine answers).
      await secretsClient('attackerB').send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(await signedPolicy(keyId, 50)) }))
      await importerOf(awsOtherRegion, 'adminA').storeSigningPolicy(await signedPolicy(keyId, 60))
      genuine = {
        otherAccount: await secretsClient('attackerB').send(new GetSecretValueCommand({ SecretId: name })),
        otherRegion: await secretsClient('adminA', awsOtherRegion).send(new GetSecretValueCommand({ SecretId: name })),
        otherKey: await secretsClient('instanceA').send(new GetSecretValueCommand({ SecretId: signingPolicySecretName(otherKeyId) })),
        previous: await secretsClient('adminA').send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' })),
      }
      expect(genuine.otherRegion.ARN).toContain(`:${OTHER_REGION}:${A}:`)
      expect(genuine.otherAccount.ARN).toContain(`:${REGION}:${B}:`)
    })

    const cases: [string, (upstream: Record<string, unknown>) => Record<string, unknown>, string][] = [
      ['the same name in another account', () => wire(genuine.otherAccount), 'ARN'],
      ['the same name in another region', () => wire(genuine.otherRegion), 'ARN'],
      ['another key’s policy', () => wire(genuine.otherKey), 'ARN'],
      ['the right ARN with another Name', (u) => ({ ...u, Name: `${u.Name as string}x` }), 'Name'],
      ['an ARN without the 6-character suffix', (u) => ({ ...u, ARN: (u.ARN as string).slice(0, -7) }), 'ARN'],
      ['an ARN with more after the suffix', (u) => ({ ...u, ARN: `${u.ARN as string}-AbCdEf` }), 'ARN'],
      ['no ARN', ({ ARN: _, ...u }) => u, 'ARN'],
      ['the older version (AWSPREVIOUS)', () => wire(genuine.previous), 'VersionStages'],
      ['a value that is not JSON', (u) => ({ ...u, SecretString: '{"document":' }), 'SecretString'],
      ['a binary value', ({ SecretString: _, ...u }) => ({ ...u, SecretBinary: Buffer.from('{}').toString('base64') }), 'SecretString'],
    ]
    it.each(cases)('%s', async (_, answer, field) => {
      const hostile = await hostileEndpoint((u) => answer(u))
      const e = await thrown(() => storeAt(hostile.endpoint).read(keyId, { credentials: credentials('instanceA') }))
      expect(isCustodyError(e, 'INTEGRITY_ERROR'), e.message).toBe(true)
      expect(e.details).toEqual({ field })
    })

    it('control: the genuine answer passes through the same endpoint', async () => {
      const honest = await hostileEndpoint()
      expect(((await storeAt(honest.endpoint).read(keyId, { credentials: credentials('instanceA') })) as SignedSigningPolicy).document.version).toBe(2)
    })
  })

  it('an unreachable endpoint is UNAVAILABLE (retryable), not "no policy"', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createNetServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number }
        s.close(() => resolve(port))
      })
    })
    const e = await thrown(() => storeAt(`http://127.0.0.1:${closed}`, { maxAttempts: 1 }).read(freshKeyId(), { credentials: credentials('instanceA') }))
    expect([e.code, e.retryable]).toEqual(['UNAVAILABLE', true])
    expect(e.message).toBe('unavailable: cannot reach Secrets Manager to read the signing policy (ECONNREFUSED)')
  })

  it('an endpoint that never answers is UNAVAILABLE at the deadline', async () => {
    const sockets: Socket[] = []
    const silent = createNetServer((s) => sockets.push(s))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    try {
      const started = Date.now()
      const e = await thrown(() =>
        storeAt(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, { deadlineMs: 400 }).read(freshKeyId(), { credentials: credentials('instanceA') }),
      )
      expect(e.code).toBe('UNAVAILABLE')
      expect(Date.now() - started).toBeLessThan(4_000)
      expect(sockets.length).toBeGreaterThan(0) // it did connect, and was left waiting
    } finally {
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })

  it('without forwarded credentials nothing is sent: UNAVAILABLE, not retryable (never ambient credentials)', async () => {
    const recorder = await hostileEndpoint()
    const store = storeAt(recorder.endpoint)
    for (const context of [undefined, {}, { credentials: { accessKeyId: 'not an id!', secretAccessKey: 'x' } }]) {
      const e = await thrown(() => store.read(freshKeyId(), context as never))
      expect([e.code, e.retryable]).toEqual(['UNAVAILABLE', false])
    }
    expect(recorder.seen).toEqual([])
  })

  describe('keyIds ending in "-" and six characters (as a bare name, a partial ARN Secrets Manager takes for a complete one)', () => {
    /** GetSecretValue requests local AWS answered for the instance role since `from` (the log has no SecretId). */
    const instanceReads = (from: number) => requests.slice(from).filter((r) => r.target === 'secretsmanager.GetSecretValue' && r.principal === P.instanceA.arn)

    it('pay-eu0001: its absence, then its policy, each by one request for the partial ARN, never by bare name', async () => {
      const keyId = 'pay-eu0001'
      // Control: the bare name is the ambiguous kind; the name the store uses is not.
      expect(/-[A-Za-z0-9]{6}$/.test(`enclave-custody/policies/${keyId}`)).toBe(true)
      const recorder = await hostileEndpoint()
      const store = storeAt(recorder.endpoint)
      const before = requests.length
      expect(await store.read(keyId, { credentials: credentials('instanceA') })).toBeUndefined()
      expect(recorder.seen).toEqual([{ target: 'secretsmanager.GetSecretValue', body: { SecretId: partialArnOf(keyId), VersionStage: 'AWSCURRENT' } }])
      expect(instanceReads(before).map((r) => [r.status, r.errorCode])).toEqual([[400, 'ResourceNotFoundException']])

      const v4 = await signedPolicy(keyId, 4)
      const { arn } = await importerOf().storeSigningPolicy(v4)
      expect(arn).toMatch(new RegExp(`^${partialArnOf(keyId)}-[A-Za-z0-9]{6}$`))
      const afterStore = requests.length
      expect(await store.read(keyId, { credentials: credentials('instanceA') })).toEqual(JSON.parse(JSON.stringify(v4)))
      expect(recorder.seen.map((s) => s.body.SecretId)).toEqual([partialArnOf(keyId), partialArnOf(keyId)])
      expect(instanceReads(afterStore).map((r) => [r.status, r.errorCode])).toEqual([[200, undefined]])
    })

    it('credentials of another account get UNAVAILABLE for pay-eu… too, in one request: never "no policy", never a retry by name', async () => {
      const keyId = `pay-eu${randomBytes(2).toString('hex')}`
      const recorder = await hostileEndpoint()
      const e = await thrown(() => storeAt(recorder.endpoint).read(keyId, { credentials: credentials('attackerB') }))
      expect(isCustodyError(e, 'UNAVAILABLE')).toBe(true)
      expect(recorder.seen.map((s) => s.body.SecretId)).toEqual([partialArnOf(keyId)])
    })

    it('a keyId that is another key’s id and its secret’s ARN suffix names its own (absent) secret, not the other’s', async () => {
      const keyId = freshKeyId('treasury')
      const { arn } = await importerOf().storeSigningPolicy(await signedPolicy(keyId, 1))
      const lookalike = `${keyId}${arn.slice(-7)}` // with bare names, its partial ARN was the other secret's full ARN
      expect(`arn:aws:secretsmanager:${REGION}:${A}:secret:enclave-custody/policies/${lookalike}`).toBe(arn.replace('/policy-', '-'))
      const recorder = await hostileEndpoint()
      expect(await storeAt(recorder.endpoint).read(lookalike, { credentials: credentials('instanceA') })).toBeUndefined()
      expect(recorder.seen.map((s) => s.body.SecretId)).toEqual([partialArnOf(lookalike)])
    })
  })

  it('refuses malformed parameters, and a plain http endpoint unless development allows it', () => {
    const base = { region: REGION, account: A }
    const cases: [Partial<CreateSecretsManagerPolicyStoreParameters>, string][] = [
      [{ region: 'eu-central-1.evil.com' }, 'region'],
      [{ account: '12345' }, 'account'],
      [{ account: `${A}:secret:x` }, 'account'],
      [{ partition: 'aws:x' }, 'partition'],
      [{ endpoint: 'http://127.0.0.1:4566' }, 'endpoint'],
      [{ endpoint: 'ftp://secretsmanager.example' }, 'endpoint'],
      [{ prefix: 'enclave-custody/policies' }, 'prefix'],
      [{ prefix: 'enclave custody/' }, 'prefix'],
      [{ caCertificates: [] }, 'caCertificates'],
      [{ caCertificates: ['not a certificate'] }, 'caCertificates'],
      [{ deadlineMs: 0 }, 'deadlineMs'],
    ]
    for (const [extra, field] of cases) {
      let error: unknown
      try {
        createSecretsManagerPolicyStore({ ...base, ...extra })
      } catch (e) {
        error = e
      }
      expect([extra, isCustodyError(error, 'INVALID_ARGUMENT') && (error.details?.field as string)]).toEqual([extra, field])
    }
    expect(() => createSecretsManagerPolicyStore({ ...base, endpoint: 'http://127.0.0.1:4566', allowHttpEndpoint: true }).close()).not.toThrow()
  })

  it('refuses a keyId that is not one before sending anything', async () => {
    const recorder = await hostileEndpoint()
    const store = storeAt(recorder.endpoint)
    for (const keyId of ['../keys/treasury', 'a/b', '', 'x'.repeat(65)]) {
      expect((await thrown(() => store.read(keyId, { credentials: credentials('instanceA') }))).details).toEqual({ field: 'keyId', rule: expect.any(String) })
    }
    expect(recorder.seen).toEqual([])
  })
})

describe('createAttestedRuntime reads policies where its sealing key lives', () => {
  it('derives account and region from the pinned key ARN and reads through the configured endpoint', async () => {
    const keyId = freshKeyId('runtime')
    await importerOf().storeSigningPolicy(await signedPolicy(keyId, 5))
    const kmsKeyArn = `arn:aws:kms:${REGION}:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
    expect(policyStoreLocationOf(kmsKeyArn)).toEqual({ partition: 'aws', region: REGION, account: A })
    const nsm = await createSoftwareNsm()
    const recorder = await hostileEndpoint()
    const runtime = await createAttestedRuntime({ attestation: nsm, region: REGION, kmsKeyArn, secretsEndpoint: recorder.endpoint, allowHttpSecretsEndpoint: true })
    try {
      expect(runtime.policyStore.kind).toBe('secrets-manager')
      expect(((await runtime.policyStore.read(keyId, { credentials: credentials('instanceA') })) as SignedSigningPolicy).document.version).toBe(5)
      expect(recorder.seen[0]!.body.SecretId).toBe(partialArnOf(keyId))
    } finally {
      runtime.close()
    }
    // A key of another account makes a store of that account: the account is the image's, not the parent's.
    const elsewhere = await createAttestedRuntime({ attestation: nsm, region: REGION, kmsKeyArn: kmsKeyArn.replace(A, B), secretsEndpoint: recorder.endpoint, allowHttpSecretsEndpoint: true })
    try {
      await thrown(() => elsewhere.policyStore.read(keyId, { credentials: credentials('instanceA') }))
      expect(recorder.seen.at(-1)!.body.SecretId).toBe(partialArnOf(keyId, B))
    } finally {
      elsewhere.close()
    }
    await expect(createAttestedRuntime({ attestation: nsm, region: REGION, kmsKeyArn, secretsEndpoint: recorder.endpoint })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'endpoint' },
    })
  })
})

// ------------------------------------------------------------------------------------------------ TLS
const haveOpenssl = hasCommand('openssl')
if (!haveOpenssl) console.warn('[policy store TLS] SKIPPED: openssl is not installed, so the test CAs cannot be made; TLS pinning to Secrets Manager is NOT tested')

/** HTTPS in front of local AWS: TLS ends here, the bytes go on unchanged. Counts the bytes it forwarded. */
async function tlsTerminator(leaf: { cert: string; key: string }) {
  const stats = { bytesForwarded: 0 }
  const sockets = new Set<Socket>()
  const server: TlsServer = createTlsServer({ cert: leaf.cert, key: leaf.key }, (tlsSocket) => {
    const upstream = connect({ host: '127.0.0.1', port: aws.port })
    sockets.add(tlsSocket).add(upstream)
    tlsSocket.on('data', (chunk: Buffer) => {
      stats.bytesForwarded += chunk.length
    })
    tlsSocket.pipe(upstream).pipe(tlsSocket)
    const end = () => {
      tlsSocket.destroy()
      upstream.destroy()
    }
    tlsSocket.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  clients.push({
    destroy: () => {
      for (const s of sockets) s.destroy()
      server.close()
    },
  })
  return { endpoint: `https://127.0.0.1:${(server.address() as { port: number }).port}`, stats }
}

describe.runIf(haveOpenssl)('TLS to Secrets Manager ends in the enclave, against its own roots', () => {
  let dir: string
  let trustedCa: string
  let trusted: Awaited<ReturnType<typeof tlsTerminator>>
  let other: Awaited<ReturnType<typeof tlsTerminator>>
  let keyId: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-policy-tls-'))
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    await writeFile(join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n')
    for (const name of ['trusted', 'other']) {
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=policy test ${name} CA`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`)
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', `${name}-leaf.key`, '-out', `${name}-leaf.csr`)
      openssl('x509', '-req', '-in', `${name}-leaf.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial', '-days', '2', '-extfile', 'leaf.ext', '-out', `${name}-leaf.pem`)
    }
    const read = (f: string) => readFile(join(dir, f), 'utf8')
    trustedCa = await read('trusted-ca.pem')
    trusted = await tlsTerminator({ cert: await read('trusted-leaf.pem'), key: await read('trusted-leaf.key') })
    other = await tlsTerminator({ cert: await read('other-leaf.pem'), key: await read('other-leaf.key') })
    keyId = freshKeyId('tls')
    await importerOf().storeSigningPolicy(await signedPolicy(keyId, 8))
  }, 60_000)
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('reads through a server whose certificate a CA of its roots issued', async () => {
    const store = createSecretsManagerPolicyStore({ region: REGION, account: A, endpoint: trusted.endpoint, caCertificates: parseCaBundle(trustedCa, 'ca') })
    clients.push({ destroy: () => store.close() })
    expect(((await store.read(keyId, { credentials: credentials('instanceA') })) as SignedSigningPolicy).document.version).toBe(8)
  })

  it('refuses a server whose certificate another CA issued, and by default any CA but Amazon’s: UNAVAILABLE, nothing sent', async () => {
    const before = requests.length
    const forwarded = other.stats.bytesForwarded + trusted.stats.bytesForwarded
    for (const [endpoint, roots] of [
      [other.endpoint, parseCaBundle(trustedCa, 'ca')],
      [trusted.endpoint, undefined],
    ] as const) {
      const store = createSecretsManagerPolicyStore({ region: REGION, account: A, endpoint, ...(roots ? { caCertificates: roots } : {}) })
      clients.push({ destroy: () => store.close() })
      const e = await thrown(() => store.read(keyId, { credentials: credentials('instanceA') }))
      expect([e.code, e.retryable]).toEqual(['UNAVAILABLE', false])
      expect(e.message).toMatch(/^unavailable: Secrets Manager's TLS certificate is not trusted by this enclave image, the signing policy was not read \([A-Z_]+\)$/)
    }
    expect(requests.length).toBe(before)
    expect(other.stats.bytesForwarded + trusted.stats.bytesForwarded).toBe(forwarded)
  })
})
