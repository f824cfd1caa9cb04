import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { createAttestedRuntime, createSoftwareNsm, type Logger, SOFTWARE_NSM_ROOT_CERT_FILE, silentLogger, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { createAuditFileSink, createSecretsManagerRecordSource, startParentProxy } from '@enclave-custody/parent-proxy'
import { startLocalAws } from '@enclave-custody/local-aws'
import { type AttestationPolicy, buildKeyPolicy, createKmsImporter, type KmsImporter } from '@enclave-custody/sdk'
import { type Anvil, startAnvil } from './anvil.js'
import { type DevConfig, type DevPrincipal, devIdentityPolicies, loadDevConfig, saveDevConfig } from './devConfig.js'

export type DevStackOptions = {
  /** Everything the stack persists lives here: local AWS state, the software NSM's CA, dev credentials. */
  dataDir: string
  /** Start anvil too. @default true */
  anvil?: boolean
  /** @default 11155111 */
  chainId?: number
  /** Port of the parent proxy on 127.0.0.1. @default 0 (a free port) */
  proxyPort?: number
  /** Port of anvil's JSON-RPC on 127.0.0.1. @default 0 (a free port) */
  rpcPort?: number
  /** Progress lines ("starting anvil…"). */
  onProgress?: (line: string) => void
  logger?: Logger
  /** Per-call delay of local AWS, for realistic benchmarks. @default 0 */
  awsLatencyMs?: number
  /** Abort a start in progress: whatever already started is stopped and the promise rejects. */
  signal?: AbortSignal
  /**
   * Route every AWS client of the stack through another endpoint in front of local AWS (tests use a
   * recording tap to assert over every byte local AWS sends). Returns the endpoint clients should use.
   */
  tapAws?: (endpoint: string) => Promise<string>
  /**
   * API public keys that may use keys the data directory holds from before keys had owners (`custody dev` passes
   * its dev API key, so that an older data directory keeps working). @default none
   */
  legacyOwners?: readonly string[]
  /** How long the enclave keeps an unsealed key (the bench sets 1 ms to measure decrypt-per-request). @default 300_000 */
  keyCacheTtlMs?: number
}

export type DevStack = {
  proxyUrl: string
  enclavePort: number
  /** Local KMS + Secrets Manager endpoint. */
  awsEndpoint: string
  region: string
  /** The attested KMS key (its key id). */
  kmsKeyId: string
  /** Its full key ARN: the enclave runtime pins it, as a production image does (`CUSTODY_KMS_KEY_ID`). */
  kmsKeyArn: string
  /** PCR0 the key policy requires (the software NSM's measurement of the runtime code). */
  pcr0: string
  /** What a client must require of the enclave: this PCR0 and the software NSM's root (pass to `nitroEnclave`). */
  attestation: AttestationPolicy
  /** The software NSM's root certificate file (PEM), for `CUSTODY_ATTESTATION_ROOT`. */
  attestationRootFile: string
  /**
   * `<dataDir>/audit.jsonl`: the proxy appends the enclave's signed audit events here (mode 0600; kept across
   * restarts, one boot segment per start), for `custody audit verify`. Complete once `close` resolved.
   */
  auditLogFile: string
  /** The importer role's side: seals keys with KMS Encrypt and stores records (pass it to createCustodyClient). */
  importer: KmsImporter
  /** The dev principals (admin, importer, instance) and their credentials. */
  config: DevConfig
  anvil?: Anvil
  /** Stop everything that was started, in reverse order. Safe to call twice. */
  close(): Promise<void>
}

/** File name of the audit log in the data directory. */
const AUDIT_LOG_FILE = 'audit.jsonl'

/**
 * Write `<dataDir>/.gitignore` with `*` unless the directory has one: the data directory holds dev credentials,
 * the dev API key and local key records, and must never be committed (it often sits inside a repository).
 */
async function ignoreInGit(dataDir: string): Promise<void> {
  try {
    await writeFile(join(dataDir, '.gitignore'), '# Written by `custody dev`: dev credentials and keys live here; never commit them.\n*\n', { flag: 'wx', mode: 0o600 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
}

const credentialsOf = (p: DevPrincipal) => ({ accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey })

/**
 * The local stack, shaped like production: local KMS and Secrets Manager (wire-compatible, SigV4 and key
 * policies enforced), the enclave runtime with software attestation unsealing only through KMS
 * `Recipient` and reading signing policies from local Secrets Manager itself, the parent proxy fetching
 * records from Secrets Manager with the instance role, and optionally anvil. The KMS key policy is the
 * production one: Decrypt and GenerateDataKey only for the instance role under the runtime's PCR0, Encrypt
 * only for the importer.
 */
export async function startDevStack({
  dataDir,
  anvil: withAnvil = true,
  chainId = 11155111,
  proxyPort = 0,
  rpcPort = 0,
  onProgress: report = () => {},
  logger = silentLogger,
  awsLatencyMs = 0,
  signal,
  tapAws,
  legacyOwners,
  keyCacheTtlMs,
}: DevStackOptions): Promise<DevStack> {
  const stops: (() => Promise<void> | void)[] = []
  /** Every step reports progress here, so an abort takes effect between steps. */
  const onProgress = (line: string) => {
    signal?.throwIfAborted()
    report(line)
  }
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => {})
  }
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    await ignoreInGit(dataDir)
    const config = await loadDevConfig(dataDir)
    const { region, principals } = config
    const identityPolicies = devIdentityPolicies({ accountId: config.accountId, region })

    let anvil: Anvil | undefined
    if (withAnvil) {
      onProgress(`starting anvil (chain id ${chainId})`)
      anvil = await startAnvil({ chainId, port: rpcPort })
      stops.push(anvil.stop)
    }

    onProgress('starting software NSM and local KMS + Secrets Manager')
    const nsm = await createSoftwareNsm({ ca: { dataDir: join(dataDir, 'nsm') } })
    const aws = await startLocalAws({
      port: 0,
      dataDir: join(dataDir, 'aws'),
      accountId: config.accountId,
      region,
      attestationRoots: [nsm.rootCertificatePem],
      // Each role with its least-privilege IAM policy: local-aws enforces them (the account root delegates to IAM).
      principals: Object.fromEntries(
        (Object.keys(principals) as (keyof typeof principals)[]).map((role) => [
          principals[role].accessKeyId,
          { secretAccessKey: principals[role].secretAccessKey, arn: principals[role].arn, policies: [identityPolicies[role]] },
        ]),
      ),
      latencyMs: awsLatencyMs,
      log: (entry) => logger.info({ svc: 'local-aws', ...entry }, 'aws request'),
    })
    stops.push(aws.close)
    const awsEndpoint = tapAws ? await tapAws(aws.endpoint) : aws.endpoint
    const client = <T>(Ctor: new (c: object) => T, p: DevPrincipal) => new Ctor({ region, endpoint: awsEndpoint, credentials: credentialsOf(p), maxAttempts: 2 })

    // The attested key: created once, its policy re-applied at every start because PCR0 measures the
    // runtime's code and changes with it.
    const admin = client(KMSClient, principals.admin)
    stops.push(() => admin.destroy())
    let kmsKeyId = config.kmsKeyId
    const exists = kmsKeyId && (await admin.send(new DescribeKeyCommand({ KeyId: kmsKeyId })).then(() => true, () => false))
    if (!exists) {
      const created = await admin.send(new CreateKeyCommand({ Description: 'enclave-custody dev: seals private keys for the attested enclave' }))
      kmsKeyId = created.KeyMetadata!.KeyId!
      await admin.send(new CreateAliasCommand({ AliasName: `alias/enclave-custody-dev-${kmsKeyId.slice(0, 8)}`, TargetKeyId: kmsKeyId }))
      await saveDevConfig(dataDir, { ...config, kmsKeyId })
    }
    const kmsKeyArn = (await admin.send(new DescribeKeyCommand({ KeyId: kmsKeyId! }))).KeyMetadata!.Arn!
    const pcr0 = nsm.pcrs[0]!
    const policy = buildKeyPolicy({ pcr0, instanceRoleArn: principals.instance.arn, importerRoleArn: principals.importer.arn, adminArns: principals.admin.arn })
    await admin.send(new PutKeyPolicyCommand({ KeyId: kmsKeyId!, Policy: JSON.stringify(policy) }))

    onProgress('starting enclave runtime (software attestation, KMS unsealing)')
    // Signing policies: local Secrets Manager (the same endpoint), plain http as KMS — development only.
    const runtime = await createAttestedRuntime({
      attestation: nsm,
      region,
      kmsEndpoint: awsEndpoint,
      kmsKeyArn,
      allowHttpKmsEndpoint: true,
      secretsEndpoint: awsEndpoint,
      allowHttpSecretsEndpoint: true,
      logger,
      ...(legacyOwners ? { legacyOwners } : {}),
      ...(keyCacheTtlMs === undefined ? {} : { keyCacheTtlMs }),
    })
    stops.push(() => runtime.close())
    const server = await startEnclaveServer({ handler: runtime.handler, port: 0, logger })
    stops.push(server.close)

    onProgress('starting parent proxy')
    const instanceSecrets = client(SecretsManagerClient, principals.instance)
    stops.push(() => instanceSecrets.destroy())
    const auditLogFile = join(dataDir, AUDIT_LOG_FILE)
    const auditLog = createAuditFileSink(auditLogFile, { logger })
    stops.push(auditLog.close) // after the proxy closed: it flushes the last events
    const proxy = await startParentProxy({
      port: proxyPort,
      enclave: { host: server.host, port: server.port },
      records: createSecretsManagerRecordSource({ client: instanceSecrets }),
      credentials: async () => credentialsOf(principals.instance),
      logger,
      auditSink: auditLog.write,
    })
    stops.push(proxy.close)

    const importerKms = client(KMSClient, principals.importer)
    const importerSecrets = client(SecretsManagerClient, principals.importer)
    stops.push(() => importerKms.destroy(), () => importerSecrets.destroy())
    const importer = createKmsImporter({ kms: importerKms, secretsManager: importerSecrets, kmsKeyId: kmsKeyArn })

    signal?.throwIfAborted()
    const attestation: AttestationPolicy = { pcr0: [pcr0], roots: [nsm.rootCertificatePem] }
    const attestationRootFile = join(dataDir, 'nsm', SOFTWARE_NSM_ROOT_CERT_FILE)
    return { proxyUrl: proxy.url, enclavePort: server.port, awsEndpoint, region, kmsKeyId: kmsKeyId!, kmsKeyArn, pcr0, attestation, attestationRootFile, auditLogFile, importer, config: { ...config, kmsKeyId: kmsKeyId! }, anvil, close }
  } catch (e) {
    await close()
    throw e
  }
}
