/**
 * The parent proxy as it runs on EC2: instance credentials from IMDSv2, key records from Secrets Manager,
 * a pool of enclave connections that fails fast and reconnects, timeouts, TLS with bearer tokens and
 * mTLS, 100 concurrent requests, and draining on shutdown.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { createAttestedRuntime, createLocalRuntime, createSoftwareNsm, type EnclaveServer, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { createImdsCredentialsProvider, createSecretsManagerRecordSource, type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { devIdentityPolicies } from '@enclave-custody/cli'
import { startLocalAws } from '@enclave-custody/local-aws'
import {
  type AttestationPolicy,
  apiKeyStamper,
  attestEnclave,
  buildKeyPolicy,
  createCustodyClient,
  createKmsImporter,
  generateApiKey,
  isCustodyError,
  nitroEnclave,
  stampRequest,
} from '@enclave-custody/sdk'
import { type Operation, PROTOCOL_VERSION, STAMP_HEADER } from '@enclave-custody/sdk/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ImdsEmulator, startImdsEmulator } from './support/imdsEmulator.js'
import { ANVIL_KEYS } from './vectors.js'

const ACCOUNT = '111122223333'
const P = {
  admin: { accessKeyId: 'AKIAADMIN00000000001', secretAccessKey: 'admin-secret', arn: `arn:aws:iam::${ACCOUNT}:role/admin` },
  importer: { accessKeyId: 'AKIAIMPORTER00000001', secretAccessKey: 'importer-secret', arn: `arn:aws:iam::${ACCOUNT}:role/importer` },
  instance: {
    accessKeyId: 'ASIAINSTANCE00000001',
    secretAccessKey: 'instance-secret',
    sessionToken: 'instance-session-token',
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/custody-instance/i-0123456789abcdef0`,
  },
}
const tx = { chainId: 1, nonce: 0, gas: 21000, maxFeePerGas: 1, maxPriorityFeePerGas: 1 }
// One caller: every client and raw request of this file stamps with the same API key.
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
/** The stamp header of one raw HTTP request to an enclave of audience `aud` (params exactly as the proxy forwards them). */
const stampHeader = async (op: Operation, params: unknown, aud: string) => ({
  [STAMP_HEADER]: JSON.stringify(await stampRequest({ stamper, v: PROTOCOL_VERSION, op, params, aud })),
})
const dirs: string[] = []
const tempDir = async (name: string) => {
  const d = await mkdtemp(join(tmpdir(), `custody-${name}-`))
  dirs.push(d)
  return d
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

describe('IMDSv2 credentials', () => {
  let imds: ImdsEmulator
  let clock = Date.parse('2026-01-01T00:00:00Z')
  beforeAll(async () => {
    imds = await startImdsEmulator({ role: 'custody-instance', credentials: P.instance, lifetimeMs: 60 * 60_000, now: () => clock })
  })
  afterAll(() => imds.close())

  it('fetch a session token, then the role, then its credentials; cache them until shortly before expiry', async () => {
    const provider = createImdsCredentialsProvider({ endpoint: imds.endpoint, refreshBeforeMs: 5 * 60_000, now: () => clock })
    const first = await provider()
    expect(first).toMatchObject({ accessKeyId: P.instance.accessKeyId, sessionToken: P.instance.sessionToken })
    expect(imds.seen.slice(0, 3)).toEqual([
      'PUT /latest/api/token (token: no)',
      'GET /latest/meta-data/iam/security-credentials/ (token: yes)',
      'GET /latest/meta-data/iam/security-credentials/custody-instance (token: yes)',
    ])
    await Promise.all([provider(), provider(), provider()])
    expect(imds.served).toBe(1)
    clock += 56 * 60_000 // 4 minutes before expiry: inside the refresh window
    await Promise.all([provider(), provider()])
    expect(imds.served).toBe(2) // one refresh shared by concurrent callers
  })

  it('re-authenticate when the session token is revoked', async () => {
    const provider = createImdsCredentialsProvider({ endpoint: imds.endpoint, now: () => clock })
    await provider()
    imds.revokeTokens()
    clock += 60 * 60_000
    const before = imds.served
    await provider()
    expect(imds.served).toBe(before + 1)
    expect(imds.seen.filter((s) => s.startsWith('PUT')).length).toBeGreaterThanOrEqual(3)
  })

  it('serve cached credentials while IMDS is down, and fail with UNAVAILABLE once they are stale', async () => {
    const provider = createImdsCredentialsProvider({ endpoint: imds.endpoint, refreshBeforeMs: 5 * 60_000, now: () => clock })
    const creds = await provider()
    const down = createImdsCredentialsProvider({ endpoint: 'http://127.0.0.1:9', now: () => clock })
    const error = await down().catch((e: unknown) => e)
    expect(isCustodyError(error, 'UNAVAILABLE')).toBe(true)
    expect(creds.accessKeyId).toBe(P.instance.accessKeyId)
  })
})

describe('the production proxy against local KMS + Secrets Manager and IMDSv2', () => {
  let aws: Awaited<ReturnType<typeof startLocalAws>>
  let imds: ImdsEmulator
  let server: EnclaveServer
  let proxy: ParentProxy
  let closeRuntime: () => void
  let attestation: AttestationPolicy

  beforeAll(async () => {
    const dir = await tempDir('prodproxy')
    const nsm = await createSoftwareNsm({ ca: { dataDir: join(dir, 'nsm') } })
    aws = await startLocalAws({
      port: 0,
      dataDir: join(dir, 'aws'),
      accountId: ACCOUNT,
      region: 'eu-west-1',
      attestationRoots: [nsm.rootCertificatePem],
      // Least-privilege IAM per role, as the dev stack and the CDK stack grant it.
      principals: Object.fromEntries(
        (Object.keys(P) as (keyof typeof P)[]).map((role) => {
          const { accessKeyId, ...rest } = P[role]
          return [accessKeyId, { ...rest, policies: [devIdentityPolicies({ accountId: ACCOUNT, region: 'eu-west-1' })[role]] }]
        }),
      ),
    })
    const clientFor = <T>(Ctor: new (c: object) => T, p: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
      new Ctor({ region: 'eu-west-1', endpoint: aws.endpoint, credentials: p })
    const admin = clientFor(KMSClient, P.admin)
    const { KeyId: keyId, Arn: keyArn } = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!
    await admin.send(
      new PutKeyPolicyCommand({
        KeyId: keyId!,
        Policy: JSON.stringify(buildKeyPolicy({ pcr0: nsm.pcrs[0]!, instanceRoleArn: P.instance.arn, importerRoleArn: P.importer.arn, adminArns: P.admin.arn })),
      }),
    )
    imds = await startImdsEmulator({ role: 'custody-instance', credentials: P.instance, lifetimeMs: 60 * 60_000 })
    attestation = { pcr0: [nsm.pcrs[0]!], roots: [nsm.rootCertificatePem] }
    const runtime = await createAttestedRuntime({
      attestation: nsm,
      region: 'eu-west-1',
      kmsEndpoint: aws.endpoint,
      kmsKeyArn: keyArn!,
      allowHttpKmsEndpoint: true,
      secretsEndpoint: aws.endpoint,
      allowHttpSecretsEndpoint: true,
    })
    closeRuntime = runtime.close
    server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
    const credentials = createImdsCredentialsProvider({ endpoint: imds.endpoint })
    const secrets = new SecretsManagerClient({
      region: 'eu-west-1',
      endpoint: aws.endpoint,
      credentials: async () => {
        const { expiration, ...c } = await credentials()
        return { ...c, ...(expiration ? { expiration: new Date(expiration) } : {}) }
      },
    })
    proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port }, records: createSecretsManagerRecordSource({ client: secrets }), credentials })
    const importer = createKmsImporter({ kms: clientFor(KMSClient, P.importer), secretsManager: clientFor(SecretsManagerClient, P.importer), kmsKeyId: keyId! })
    const custody = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation }), stamper, importer })
    await custody.importKey({ privateKey: ANVIL_KEYS[0], keyId: 'treasury' })
  })

  afterAll(async () => {
    await proxy?.close()
    await server?.close()
    closeRuntime?.()
    await aws?.close()
    await imds?.close()
  })

  it('signs with instance credentials obtained only through IMDSv2 and a record from Secrets Manager', async () => {
    const custody = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation }), stamper })
    expect((await custody.getKey('treasury')).address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
    const signed = await custody.signEip1559('treasury', tx)
    expect(signed.from).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
    expect(imds.seen.every((s) => s.startsWith('PUT') || s.endsWith('(token: yes)'))).toBe(true)
    expect(imds.served).toBeGreaterThanOrEqual(1)
  })

  it('serves 100 concurrent sign requests', async () => {
    const custody = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation }), stamper })
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => custody.signEip1559('treasury', { ...tx, nonce: i })))
    expect(new Set(results.map((r) => r.hash)).size).toBe(100)
  })
})

/**
 * A plain dev-sealed runtime, its sealing key, software NSM CA and keys in `dataDir`, so that a restart keeps
 * its trust configuration (the stamps' audience), its attestation root and its keys. `aud` comes from
 * attesting it.
 */
async function devRuntime(dataDir: string) {
  const runtime = await createLocalRuntime({ dataDir })
  const { aud } = await attestEnclave((m) => runtime.handler.handle(m), runtime.attestation)
  return { ...runtime, aud }
}

/** A dev enclave server, on a fixed port when given (so that it can be restarted there). */
async function devEnclave(dataDir: string, port = 0): Promise<{ server: EnclaveServer; attestation: AttestationPolicy; aud: string }> {
  const { handler, attestation, aud } = await devRuntime(dataDir)
  return { server: await startEnclaveServer({ handler, port }), attestation, aud }
}

describe('enclave failures', () => {
  it('an enclave restart mid-traffic: requests fail fast with UNAVAILABLE, then succeed after reconnect', async () => {
    const dir = await tempDir('restart')
    let enclave = await devEnclave(dir)
    const port = enclave.server.port
    const proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port }, poolSize: 2, enclaveTimeoutMs: 5_000 })
    const custody = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, timeoutMs: 5_000, attestation: enclave.attestation }), stamper })
    await custody.importKey({ privateKey: ANVIL_KEYS[0], keyId: 'k' })
    expect((await custody.signEip1559('k', tx)).from).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')

    await enclave.server.close()
    const outcomes: { code: string; ms: number }[] = []
    for (let i = 0; i < 10; i++) {
      const started = performance.now()
      const e = await custody.signEip1559('k', tx).catch((err: { code?: string }) => err)
      outcomes.push({ code: (e as { code?: string }).code ?? 'signed', ms: performance.now() - started })
    }
    expect(outcomes.every((o) => o.code === 'UNAVAILABLE')).toBe(true)
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(1_000) // fail fast, never hang

    enclave = await devEnclave(dir, port)
    let signed = false
    const deadline = Date.now() + 8_000 // the reconnect backoff is capped at 5 s
    while (!signed && Date.now() < deadline) {
      // The restarted enclave (new boot: new response key, attested again by the same client) has the key on disk.
      signed = await custody.signEip1559('k', tx).then(
        () => true,
        async () => {
          await new Promise((r) => setTimeout(r, 100))
          return false
        },
      )
    }
    expect(signed).toBe(true)
    await proxy.close()
    await enclave.server.close()
  }, 30_000)

  it('an unresponsive enclave: the request times out (HTTP 504, TIMEOUT) instead of hanging', async () => {
    const silent: Server = createServer((socket) => socket.resume()) // reads, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as { port: number }).port
    const proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port }, enclaveTimeoutMs: 300 })
    const started = performance.now()
    const res = await fetch(`${proxy.url}/v1/keys/k`)
    expect(res.status).toBe(504)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('TIMEOUT')
    expect(performance.now() - started).toBeLessThan(2_000)
    const health = await fetch(`${proxy.url}/healthz`)
    expect(health.status).toBe(504)
    await proxy.close()
    await new Promise((r) => silent.close(r))
  })

  it('drains in-flight requests on close', async () => {
    const inner = await devRuntime(await tempDir('drain'))
    const slow = await startEnclaveServer({
      port: 0,
      handler: {
        handle: async (m, c) => {
          await new Promise((r) => setTimeout(r, 300))
          return inner.handler.handle(m, c)
        },
      },
    })
    const proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: slow.port } })
    const pending = fetch(`${proxy.url}/v1/keys`, { headers: await stampHeader('key.list', {}, inner.aud) })
    await new Promise((r) => setTimeout(r, 50))
    expect(proxy.inFlight).toBe(1)
    const closing = proxy.close()
    const res = await pending
    expect(res.status).toBe(200)
    await closing
    await expect(fetch(`${proxy.url}/v1/keys`, { headers: await stampHeader('key.list', {}, inner.aud) })).rejects.toThrow()
    await slow.close()
  })
})

describe('TLS and caller authentication', () => {
  let dir: string
  let enclave: EnclaveServer
  let aud: string
  let attestation: AttestationPolicy
  const token = 'tok_0123456789abcdef0123456789abcdef'

  beforeAll(async () => {
    dir = await tempDir('tls')
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.pem')
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr')
    await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n')
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem')
    ;({ server: enclave, aud, attestation } = await devEnclave(join(dir, 'enclave')))
  })
  afterAll(() => enclave?.close())

  /**
   * GET over HTTPS trusting the test CA, optionally with a bearer token or a client certificate. `/v1/keys` goes
   * with a valid request stamp, so that a 401 is the proxy's refusal of the caller, not the enclave's of the request.
   */
  async function get(url: string, { auth, cert }: { auth?: string; cert?: { cert: Buffer; key: Buffer } } = {}): Promise<number> {
    const ca = await readFile(join(dir, 'ca.pem'))
    const stamp = new URL(url).pathname === '/v1/keys' ? await stampHeader('key.list', {}, aud) : {}
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { ca, ...(cert ?? {}), headers: { ...stamp, ...(auth ? { authorization: auth } : {}) } }, (res) => {
        res.resume()
        resolve(res.statusCode!)
      })
      req.on('error', reject)
      req.end()
    })
  }

  it('refuses to start in plain HTTP or without authentication on a non-loopback address', async () => {
    await expect(startParentProxy({ enclave: { host: '127.0.0.1', port: enclave.port }, host: '0.0.0.0' })).rejects.toThrow(/plain HTTP is allowed only on loopback/)
    const tls = { cert: await readFile(join(dir, 'server.pem')), key: await readFile(join(dir, 'server.key')) }
    await expect(startParentProxy({ enclave: { host: '127.0.0.1', port: enclave.port }, host: '0.0.0.0', tls })).rejects.toThrow(/must authenticate/)
    await expect(
      startParentProxy({ enclave: { host: '127.0.0.1', port: enclave.port }, tls, auth: { bearerTokens: ['short'] } }),
    ).rejects.toThrow(/at least 32 characters/)
  })

  it('serves HTTPS; bearer token required except for /healthz', async () => {
    const tls = { cert: await readFile(join(dir, 'server.pem')), key: await readFile(join(dir, 'server.key')) }
    const proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: enclave.port }, tls, auth: { bearerTokens: [token] } })
    expect(proxy.url.startsWith('https://')).toBe(true)
    expect(await get(`${proxy.url}/v1/keys`)).toBe(401)
    expect(await get(`${proxy.url}/v1/keys`, { auth: `Bearer ${token}x` })).toBe(401)
    expect(await get(`${proxy.url}/v1/keys`, { auth: `Bearer ${token}` })).toBe(200)
    expect(await get(`${proxy.url}/healthz`)).toBe(200)
    await proxy.close()
  })

  it('accepts a client certificate from the configured CA (mTLS) and refuses one from elsewhere', async () => {
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=app', '-keyout', 'client.key', '-out', 'client.csr')
    ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.pem')
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=rogue', '-keyout', 'rogue.key', '-out', 'rogue.pem')
    const tls = { cert: await readFile(join(dir, 'server.pem')), key: await readFile(join(dir, 'server.key')), clientCa: await readFile(join(dir, 'ca.pem')) }
    const proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: enclave.port }, tls, auth: { mtls: true } })
    const client = { cert: await readFile(join(dir, 'client.pem')), key: await readFile(join(dir, 'client.key')) }
    const rogue = { cert: await readFile(join(dir, 'rogue.pem')), key: await readFile(join(dir, 'rogue.key')) }
    expect(await get(`${proxy.url}/v1/keys`, { cert: client })).toBe(200)
    expect(await get(`${proxy.url}/v1/keys`, { cert: rogue })).toBe(401)
    expect(await get(`${proxy.url}/v1/keys`)).toBe(401)
    await proxy.close()
  })

  it('the SDK reaches an mTLS proxy with a private CA and a client certificate (nitroEnclave tls), and a bearer-token proxy (token)', async () => {
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=sdk', '-keyout', 'sdk.key', '-out', 'sdk.csr')
    ssl('x509', '-req', '-in', 'sdk.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'sdk.pem')
    const ca = await readFile(join(dir, 'ca.pem'), 'utf8')
    const client = { cert: await readFile(join(dir, 'sdk.pem'), 'utf8'), key: await readFile(join(dir, 'sdk.key'), 'utf8') }
    const serverTls = { cert: await readFile(join(dir, 'server.pem')), key: await readFile(join(dir, 'server.key')) }
    const mtls = await startParentProxy({ enclave: { host: '127.0.0.1', port: enclave.port }, tls: { ...serverTls, clientCa: ca }, auth: { mtls: true } })
    const custody = (transport: ReturnType<typeof nitroEnclave>) => createCustodyClient({ transport, stamper })
    try {
      const signer = custody(nitroEnclave({ url: mtls.url, attestation, tls: { ca, ...client } }))
      const { keyId } = await signer.importKey({ generate: true })
      expect((await signer.signMessage(keyId, { message: 'over mTLS' })).signature).toMatch(/^0x[0-9a-f]{130}$/)
      await signer.close()
      // Without the client certificate the proxy refuses the caller (unsigned: UNAVAILABLE); without the private CA
      // the SDK does not trust the proxy's certificate and sends nothing.
      await expect(custody(nitroEnclave({ url: mtls.url, attestation, tls: { ca } })).listKeys()).rejects.toMatchObject({ code: 'UNAVAILABLE' })
      await expect(custody(nitroEnclave({ url: mtls.url, attestation, tls: client })).listKeys()).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('cannot reach the parent proxy'),
      })
    } finally {
      await mtls.close()
    }
    const bearer = await startParentProxy({ enclave: { host: '127.0.0.1', port: enclave.port }, tls: serverTls, auth: { bearerTokens: [token] } })
    try {
      expect(await custody(nitroEnclave({ url: bearer.url, attestation, tls: { ca }, token })).listKeys()).toEqual(expect.any(Array))
      await expect(custody(nitroEnclave({ url: bearer.url, attestation, tls: { ca }, token: `${token}x` })).listKeys()).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    } finally {
      await bearer.close()
    }
  })

  it('refuses bad tls and token options, naming the field', () => {
    const url = 'https://127.0.0.1:1'
    const cases: [Record<string, unknown>, string][] = [
      [{ token: 'short' }, 'token'],
      [{ token: `${'a'.repeat(40)} b` }, 'token'],
      [{ tls: { cert: 'x' } }, 'tls.key'],
      [{ tls: { key: 'x' } }, 'tls.cert'],
      [{ tls: { ca: 1 } }, 'tls.ca'],
      [{ tls: { ca: 'x', pfx: 'y' } }, 'tls'],
      [{ tls: { ca: 'x' }, fetch: globalThis.fetch }, 'tls'],
    ]
    for (const [options, field] of cases) {
      expect(() => nitroEnclave({ url, attestation, ...options } as Parameters<typeof nitroEnclave>[0]), field).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ field: expect.stringContaining(field) }) }),
      )
    }
    expect(() => nitroEnclave({ url: 'http://127.0.0.1:1', attestation, tls: { ca: 'x' } })).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'tls' }) }))
  })
})
