/**
 * TLS to KMS ends in the enclave runtime, against the roots the image carries — not Node's default store,
 * not NODE_EXTRA_CA_CERTS, not NODE_TLS_REJECT_UNAUTHORIZED. Local KMS is served over HTTPS by a TLS
 * terminator in front of local-aws (a raw byte pipe, so SigV4 still verifies); its certificates come from
 * two test CAs made with openssl at test time: "trusted" (in the runtime's bundle) and "other" (which the
 * process-wide stores would accept). Through the real request handler, the real AWS SDK and, in a child
 * process, the real `custody-enclave` executable.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { type LocalAws, startLocalAws } from '@enclave-custody/local-aws'
import { buildKeyPolicy } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, killStarted, runTs, waitForOutput } from '../../../test/support/processes.js'
import { createSoftwareNsm, type SoftwareNsm } from '../src/attestation/softwareNsm.js'
import { createAttestedRuntime } from '../src/attestedRuntime.js'
import { parseCaBundle } from '../src/trust/parseCaBundle.js'
import { hasCommand, PACKAGE_DIR } from './shellHelpers.js'
import { rawClient } from './socketClient.js'
import { audienceOf, newStamper, stampMessage } from './support/stamps.js'

const REGION = 'eu-west-1'
const ACCOUNT = '222233334444'
const P = {
  // The account root: creates the key and sets its policy (root has every permission, no identity policy needed).
  admin: { accessKeyId: 'AKIATLSTESTADMIN0001', secretAccessKey: 'admin-secret', arn: `arn:aws:iam::${ACCOUNT}:root` },
  instance: { accessKeyId: 'AKIATLSTESTINSTANCE1', secretAccessKey: 'instance-secret', arn: `arn:aws:iam::${ACCOUNT}:role/instance` },
}
const CREDENTIALS = { accessKeyId: P.instance.accessKeyId, secretAccessKey: P.instance.secretAccessKey }

const haveOpenssl = hasCommand('openssl')
if (!haveOpenssl) console.warn('[kms TLS] SKIPPED: openssl is not installed, so the test CAs cannot be made; TLS pinning to KMS is NOT tested')

type Pki = { trustedCa: string; otherCa: string; trustedLeaf: { cert: string; key: string }; otherLeaf: { cert: string; key: string }; dir: string }

/** Two CAs and a 127.0.0.1 server certificate from each, with openssl. */
async function makePki(dir: string): Promise<Pki> {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  await writeFile(join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n')
  for (const name of ['trusted', 'other']) {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=custody test ${name} CA`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`)
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', `${name}-leaf.key`, '-out', `${name}-leaf.csr`)
    openssl('x509', '-req', '-in', `${name}-leaf.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial', '-days', '2', '-extfile', 'leaf.ext', '-out', `${name}-leaf.pem`)
  }
  const read = (f: string) => readFile(join(dir, f), 'utf8')
  return {
    dir,
    trustedCa: await read('trusted-ca.pem'),
    otherCa: await read('other-ca.pem'),
    trustedLeaf: { cert: await read('trusted-leaf.pem'), key: await read('trusted-leaf.key') },
    otherLeaf: { cert: await read('other-leaf.pem'), key: await read('other-leaf.key') },
  }
}

/** HTTPS in front of local-aws: TLS ends here, the bytes go on unchanged. Counts handshakes and bytes forwarded. */
async function tlsTerminator(leaf: { cert: string; key: string }, upstreamPort: number) {
  const stats = { handshakes: 0, bytesForwarded: 0 }
  const sockets = new Set<Socket>()
  const server: TlsServer = createTlsServer({ cert: leaf.cert, key: leaf.key }, (tlsSocket) => {
    stats.handshakes++
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort })
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
  server.on('tlsClientError', () => {}) // the refused handshakes
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    endpoint: `https://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

let dir: string
let pki: Pki
let nsm: SoftwareNsm
let aws: LocalAws
let kmsKeyArn: string
let awsRequests: string[]
let trusted: Awaited<ReturnType<typeof tlsTerminator>>
let other: Awaited<ReturnType<typeof tlsTerminator>>

beforeAll(async () => {
  if (!haveOpenssl) return
  dir = await mkdtemp(join(tmpdir(), 'custody-kms-tls-'))
  pki = await makePki(dir)
  nsm = await createSoftwareNsm({ ca: { dataDir: join(dir, 'nsm') } })
  awsRequests = []
  aws = await startLocalAws({
    region: REGION,
    accountId: ACCOUNT,
    attestationRoots: [nsm.rootCertificatePem],
    principals: Object.fromEntries(Object.values(P).map(({ accessKeyId, ...rest }) => [accessKeyId, rest])),
    log: (entry) => awsRequests.push(entry.target ?? entry.method),
  })
  const admin = new KMSClient({ region: REGION, endpoint: aws.endpoint, credentials: P.admin })
  const created = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!
  kmsKeyArn = created.Arn!
  const policy = buildKeyPolicy({ pcr0: nsm.pcrs[0]!, instanceRoleArn: P.instance.arn, importerRoleArn: P.admin.arn, adminArns: P.admin.arn })
  await admin.send(new PutKeyPolicyCommand({ KeyId: created.KeyId!, Policy: JSON.stringify(policy) }))
  admin.destroy()
  trusted = await tlsTerminator(pki.trustedLeaf, aws.port)
  other = await tlsTerminator(pki.otherLeaf, aws.port)
}, 60_000)

afterAll(async () => {
  killStarted()
  await trusted?.close()
  await other?.close()
  await aws?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const generate = { v: 1, id: 'g', op: 'key.generate', params: {} }
/** The one caller of this file. */
const stamper = newStamper()
/** `generate`, stamped for the runtime of audience `aud`. */
const generateFor = (aud: string) => stampMessage(generate, { stamper, aud })

describe.runIf(haveOpenssl)('TLS to KMS ends in the runtime, against its own bundle', () => {
  it('talks to KMS whose certificate a CA of its bundle issued', async () => {
    const runtime = await createAttestedRuntime({ attestation: nsm, region: REGION, kmsEndpoint: trusted.endpoint, kmsKeyArn, kmsCaCertificates: parseCaBundle(pki.trustedCa, 'ca') })
    try {
      const before = awsRequests.length
      const response = await runtime.handler.handle(await generateFor(runtime.identity.aud), { credentials: CREDENTIALS })
      expect(response.ok, JSON.stringify(response)).toBe(true)
      expect(awsRequests.length - before).toBe(1) // GenerateDataKey, over TLS
      expect(trusted.stats.handshakes).toBeGreaterThan(0)
    } finally {
      runtime.close()
    }
  })

  it('refuses KMS whose certificate another CA issued: no request reaches KMS, a typed UNAVAILABLE', async () => {
    const runtime = await createAttestedRuntime({ attestation: nsm, region: REGION, kmsEndpoint: other.endpoint, kmsKeyArn, kmsCaCertificates: parseCaBundle(pki.trustedCa, 'ca') })
    try {
      const before = awsRequests.length
      const response = await runtime.handler.handle(await generateFor(runtime.identity.aud), { credentials: CREDENTIALS })
      expect(response).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', retryable: false } })
      expect(response.ok ? '' : response.error.message).toMatchInlineSnapshot(`"unavailable: KMS's TLS certificate is not trusted by this enclave image, GenerateDataKey was not sent (UNABLE_TO_VERIFY_LEAF_SIGNATURE)"`)
      expect(awsRequests.length).toBe(before)
      expect(other.stats.bytesForwarded).toBe(0)
    } finally {
      runtime.close()
    }
  })

  it('by default trusts only the Amazon Trust Services roots: a test CA is refused', async () => {
    const runtime = await createAttestedRuntime({ attestation: nsm, region: REGION, kmsEndpoint: trusted.endpoint, kmsKeyArn })
    try {
      const before = awsRequests.length
      const response = await runtime.handler.handle(await generateFor(runtime.identity.aud), { credentials: CREDENTIALS })
      expect(response).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE', retryable: false } })
      expect(awsRequests.length).toBe(before)
    } finally {
      runtime.close()
    }
  })

  it('custody-enclave ignores NODE_EXTRA_CA_CERTS and NODE_TLS_REJECT_UNAUTHORIZED: only --kms-ca-bundle counts', async () => {
    await writeFile(join(dir, 'bundle.pem'), `# the image's KMS roots\n${pki.trustedCa}`)
    const hostileEnv = { NODE_EXTRA_CA_CERTS: join(dir, 'other-ca.pem'), NODE_TLS_REJECT_UNAUTHORIZED: '0' }
    // The same environment makes Node's default HTTPS client accept the other CA's server.
    const probe = spawn(process.execPath, ['-e', `require('https').get('${other.endpoint}/healthz', (r) => { r.resume(); console.log('status', r.statusCode) }).on('error', (e) => console.log('error', e.code))`], {
      env: { ...process.env, ...hostileEnv },
    })
    let probeOut = ''
    probe.stdout.on('data', (c: Buffer) => {
      probeOut += c.toString()
    })
    await new Promise((resolve) => probe.once('exit', resolve))
    expect(probeOut.trim()).toBe('status 200')

    const start = async (endpoint: string) => {
      const port = await freePort()
      const enclave = runTs(
        join(PACKAGE_DIR, 'src/bin/enclave.ts'),
        ['--port', String(port), '--sealing', 'kms', '--attestation', 'software', '--allow-software-attestation', '--software-nsm-dir', join(dir, 'nsm')],
        { ...hostileEnv, CUSTODY_REGION: REGION, CUSTODY_KMS_KEY_ID: kmsKeyArn, CUSTODY_KMS_ENDPOINT: endpoint, CUSTODY_KMS_CA_BUNDLE: join(dir, 'bundle.pem'), CUSTODY_MODE: 'production' },
      )
      await waitForOutput(enclave.output, /enclave server listening/, 60_000)
      const client = await rawClient(port)
      const aud = await audienceOf(async (m) => {
        client.send(m)
        return client.next()
      })
      client.send({ ...((await generateFor(aud)) as object), context: { credentials: CREDENTIALS } })
      const answer = (await client.next()) as { ok: boolean; error?: { code: string; message: string } }
      client.socket.destroy()
      enclave.child.kill('SIGTERM')
      expect(await enclave.exited).toBe(0)
      return { answer, output: enclave.output() }
    }
    const before = awsRequests.length
    const forwardedBefore = other.stats.bytesForwarded
    const [good, bad] = await Promise.all([start(trusted.endpoint), start(other.endpoint)])
    expect(good.answer.ok, JSON.stringify(good.answer)).toBe(true)
    expect(good.output).toContain('"kmsTrust":"bundle"')
    // Refused: no byte of the request reached the other CA's server. (The typed UNAVAILABLE is asserted
    // in-process above; through the executable the handler's error logging currently turns every error
    // answer into a generic INTERNAL — reported to the lead, handler.ts is not this test's.)
    expect(bad.answer.ok, JSON.stringify(bad.answer)).toBe(false)
    expect(awsRequests.length - before).toBe(1) // only the trusted runtime's GenerateDataKey
    expect(other.stats.bytesForwarded - forwardedBefore).toBe(0)
  }, 120_000)

  it('custody-enclave refuses a bundle that is not one, and plain http in production mode', async () => {
    await writeFile(join(dir, 'leaf-only.pem'), pki.trustedLeaf.cert)
    const envs: Record<string, string>[] = [
      { CUSTODY_KMS_CA_BUNDLE: join(dir, 'leaf-only.pem'), CUSTODY_KMS_ENDPOINT: trusted.endpoint },
      { CUSTODY_KMS_CA_BUNDLE: join(dir, 'missing.pem'), CUSTODY_KMS_ENDPOINT: trusted.endpoint },
      { CUSTODY_KMS_ENDPOINT: aws.endpoint },
    ]
    const runs = envs.map((env) =>
      runTs(join(PACKAGE_DIR, 'src/bin/enclave.ts'), ['--port', '0', '--sealing', 'kms', '--attestation', 'software', '--allow-software-attestation'], {
        CUSTODY_REGION: REGION,
        CUSTODY_KMS_KEY_ID: kmsKeyArn,
        ...env,
      }),
    )
    const results = await Promise.all(runs.map(async (r) => ({ code: await r.exited, firstLine: r.output().split('\n')[0] })))
    expect(results).toMatchInlineSnapshot(`
      [
        {
          "code": 2,
          "firstLine": "custody-enclave: invalid --kms-ca-bundle / CUSTODY_KMS_CA_BUNDLE: certificate 1 is not a CA certificate",
        },
        {
          "code": 2,
          "firstLine": "custody-enclave: invalid --kms-ca-bundle / CUSTODY_KMS_CA_BUNDLE: cannot read the file",
        },
        {
          "code": 2,
          "firstLine": "custody-enclave: invalid --kms-endpoint / CUSTODY_KMS_ENDPOINT: must be https in production mode (plain http only with --mode development)",
        },
      ]
    `)
  }, 120_000)
})
