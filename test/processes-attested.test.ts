/**
 * The production executables wired as on an instance, but on loopback: `custody-enclave --sealing kms`
 * (software attestation standing in for /dev/nsm) and `custody-proxy --records secretsmanager`, against
 * local KMS + Secrets Manager enforcing the attested key policy.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { createSoftwareNsm, SOFTWARE_NSM_ROOT_CERT_FILE } from '@enclave-custody/enclave-runtime'
import { devIdentityPolicies } from '@enclave-custody/cli'
import { startLocalAws } from '@enclave-custody/local-aws'
import { apiKeyStamper, buildKeyPolicy, createCustodyClient, createKmsImporter, generateApiKey, nitroEnclave } from '@enclave-custody/sdk'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort, killStarted, runTs, waitForOutput } from './support/processes.js'
import { ANVIL_KEYS, repoRoot } from './vectors.js'

const ACCOUNT = '444455556666'
const REGION = 'us-east-1'
const P = {
  admin: { accessKeyId: 'AKIAPROCADMIN0000001', secretAccessKey: 'admin-secret', arn: `arn:aws:iam::${ACCOUNT}:role/admin` },
  importer: { accessKeyId: 'AKIAPROCIMPORTER0001', secretAccessKey: 'importer-secret', arn: `arn:aws:iam::${ACCOUNT}:role/importer` },
  instance: { accessKeyId: 'AKIAPROCINSTANCE0001', secretAccessKey: 'instance-secret', arn: `arn:aws:iam::${ACCOUNT}:role/instance` },
}
const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  killStarted()
  for (const f of cleanups.reverse()) await f()
})

const run = (bin: string, args: string[], env: Record<string, string>) =>
  runTs(join(repoRoot, bin === 'proxy' ? 'packages/parent-proxy/src/bin' : 'packages/enclave-runtime/src/bin', `${bin}.ts`), args, env)

describe('production executables on loopback', () => {
  it('custody-enclave (kms sealing) + custody-proxy (Secrets Manager records) sign with keys only KMS can unseal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custody-procs-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const nsmDir = join(dir, 'nsm')
    const nsm = await createSoftwareNsm({ ca: { dataDir: nsmDir } })
    const aws = await startLocalAws({
      port: 0,
      dataDir: join(dir, 'aws'),
      accountId: ACCOUNT,
      region: REGION,
      attestationRoots: [nsm.rootCertificatePem],
      // Least-privilege IAM per role, as the dev stack and the CDK stack grant it.
      principals: Object.fromEntries(
        (Object.keys(P) as (keyof typeof P)[]).map((role) => {
          const { accessKeyId, ...rest } = P[role]
          return [accessKeyId, { ...rest, policies: [devIdentityPolicies({ accountId: ACCOUNT, region: REGION })[role]] }]
        }),
      ),
    })
    cleanups.push(() => aws.close())
    const clientFor = <T>(Ctor: new (c: object) => T, p: { accessKeyId: string; secretAccessKey: string }) =>
      new Ctor({ region: REGION, endpoint: aws.endpoint, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey } })
    const admin = clientFor(KMSClient, P.admin)
    const { KeyId: kmsKeyId, Arn: kmsKeyArn } = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!
    // The enclave process measures the same runtime code, so its PCR0 is this one.
    const policy = buildKeyPolicy({ pcr0: nsm.pcrs[0]!, instanceRoleArn: P.instance.arn, importerRoleArn: P.importer.arn, adminArns: P.admin.arn })
    await admin.send(new PutKeyPolicyCommand({ KeyId: kmsKeyId!, Policy: JSON.stringify(policy) }))

    const enclavePort = await freePort()
    const enclave = run(
      'enclave',
      ['--port', String(enclavePort), '--sealing', 'kms', '--mode', 'development', '--attestation', 'software', '--software-nsm-dir', nsmDir],
      { CUSTODY_REGION: REGION, CUSTODY_KMS_ENDPOINT: aws.endpoint, CUSTODY_SECRETS_ENDPOINT: aws.endpoint, CUSTODY_KMS_KEY_ID: kmsKeyArn! },
    )
    await waitForOutput(enclave.output, /enclave server listening/)
    expect(enclave.output()).toContain('"attestation":"software"')

    const proxy = run('proxy', ['--port', '0', '--enclave-port', String(enclavePort), '--records', 'secretsmanager', '--credentials', 'env'], {
      CUSTODY_REGION: REGION,
      CUSTODY_AWS_ENDPOINT: aws.endpoint,
      AWS_ACCESS_KEY_ID: P.instance.accessKeyId,
      AWS_SECRET_ACCESS_KEY: P.instance.secretAccessKey,
    })
    const [, url] = await waitForOutput(proxy.output, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)

    const importer = createKmsImporter({ kms: clientFor(KMSClient, P.importer), secretsManager: clientFor(SecretsManagerClient, P.importer), kmsKeyId: kmsKeyId! })
    // The enclave process must attest to the PCR0 computed here and chain to its software NSM's root.
    const attestation = { pcr0: [nsm.pcrs[0]!], roots: [await readFile(join(nsmDir, SOFTWARE_NSM_ROOT_CERT_FILE), 'utf8')] }
    const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
    const custody = createCustodyClient({ transport: nitroEnclave({ url: url!, attestation }), stamper, importer })
    const imported = await custody.importKey({ privateKey: ANVIL_KEYS[0], keyId: 'ops-imported' })
    const generated = await custody.importKey({ generate: true, keyId: 'ops-generated' })
    expect((await custody.listKeys()).map((k) => k.keyId)).toEqual(['ops-generated', 'ops-imported'])
    const tx = { chainId: 1, nonce: 0, gas: 21000, maxFeePerGas: 1, maxPriorityFeePerGas: 1 }
    expect((await custody.signEip1559('ops-imported', tx)).from).toBe(imported.address)
    expect((await custody.signEip1559('ops-generated', tx)).from).toBe(generated.address)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)

    for (const p of [proxy, enclave]) {
      p.child.kill('SIGTERM')
      expect(await p.exited).toBe(0)
    }
  }, 60_000)
})
