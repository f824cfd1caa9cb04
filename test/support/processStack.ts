/**
 * The custody stack as on an instance, on loopback, every server its own process: local AWS (KMS + Secrets
 * Manager, SigV4 and least-privilege IAM enforced), the enclave runtime (`custody-enclave`, software attestation)
 * and the parent proxy (`custody-proxy`). The caller's process holds only clients. Each process can be killed
 * (SIGKILL) and started again on the same port and data directory.
 *
 * sealing 'kms': keys sealed to the attested KMS key, records in Secrets Manager, signing policies in Secrets
 * Manager (the production wiring). sealing 'dev': AES-sealed records and policies under the enclave's data
 * directory; no local AWS process.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { devIdentityPolicies } from '@enclave-custody/cli'
import { createSoftwareNsm, SOFTWARE_NSM_ROOT_CERT_FILE } from '@enclave-custody/enclave-runtime'
import type { RequestMessage } from '@enclave-custody/sdk/protocol'
import { type AttestationPolicy, buildKeyPolicy, createCustodyClient, createKmsImporter, type CustodyClient, type KmsImporter, nitroEnclave, type Stamper } from '@enclave-custody/sdk'
import { freePort } from './processes.js'

const repoRoot = join(import.meta.dirname, '..', '..')

/** How much of a process's output is kept (the tail): a long run must not grow the caller's memory with logs. */
const OUTPUT_TAIL = 64 * 1024

/** A server process of the stack. */
export type StackProcess = {
  readonly name: string
  /** Its pid (the Node process itself: spawned without a shell). */
  pid(): number
  /** The tail of its stdout + stderr. */
  output(): string
  /** Whether it is running. */
  running(): boolean
  /** SIGKILL, and wait until it is gone. */
  kill9(): Promise<void>
  /** SIGTERM (graceful), and wait until it is gone. */
  stop(): Promise<number | null>
  /** Start it again with the same arguments (same port, same data directory). */
  start(): Promise<void>
}

/** Every child still running is SIGKILLed when this process exits (a watchdog's exit, Ctrl-C): no orphan servers. */
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

/** Spawn a workspace TypeScript bin; `start()` resolves once its output matches `ready`. */
function stackProcess(name: string, script: string, args: () => string[], env: Record<string, string>, ready: RegExp, onReady?: (m: RegExpMatchArray) => void): StackProcess {
  let child: ChildProcess | undefined
  let out = ''
  let exited: Promise<number | null> = Promise.resolve(null)
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null
  const self: StackProcess = {
    name,
    pid: () => child?.pid ?? 0,
    output: () => out,
    running,
    async kill9() {
      if (running()) child!.kill('SIGKILL')
      await exited
    },
    async stop() {
      if (running()) child!.kill('SIGTERM')
      return exited
    },
    async start() {
      if (running()) throw new Error(`${name} is already running`)
      out = ''
      const c = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', join(repoRoot, script), ...args()], {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child = c
      live.add(c)
      exited = new Promise((resolve) =>
        c.once('exit', (code) => {
          live.delete(c)
          resolve(code)
        }),
      )
      await new Promise<void>((resolve, reject) => {
        let done = false
        const timer = setTimeout(() => finish(new Error(`${name} did not start in 60 s:\n${out.slice(-2000)}`)), 60_000)
        const finish = (e?: Error) => {
          if (done) return
          done = true
          clearTimeout(timer)
          if (e) {
            c.kill('SIGKILL')
            reject(e)
          } else resolve()
        }
        const collect = (d: Buffer) => {
          out = (out + d.toString()).slice(-OUTPUT_TAIL)
          if (!done) {
            const m = out.match(ready)
            if (m) {
              onReady?.(m)
              finish()
            }
          }
        }
        c.stdout!.on('data', collect)
        c.stderr!.on('data', collect)
        c.once('exit', (code, signal) => finish(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${out.slice(-2000)}`)))
      })
    },
  }
  return self
}

export type ProcessStackOptions = {
  /** Everything the stack persists: `<dir>/nsm`, `<dir>/aws`, `<dir>/enclave`. */
  dir: string
  /** @default 'kms' */
  sealing?: 'kms' | 'dev'
}

export type ProcessStack = {
  proxyUrl: string
  /** What a client requires of the enclave: the software NSM's PCR0 and root. */
  attestation: AttestationPolicy
  enclave: StackProcess
  proxy: StackProcess
  /** Local AWS (sealing 'kms' only). */
  aws?: StackProcess
  awsEndpoint?: string
  region: string
  /** The importer role's side (sealing 'kms' only): seals with KMS Encrypt and stores records in Secrets Manager. */
  importer?: KmsImporter
  /** The importer role's AWS clients (sealing 'kms' only). */
  importerAws?: { kms: KMSClient; secretsManager: SecretsManagerClient }
  /** A client of this stack (attested, stamped by `stamper`). */
  client(
    stamper: Stamper,
    options?: {
      retry?: { attempts: number; baseDelayMs?: number; maxDelayMs?: number }
      timeoutMs?: number
      /** Sees every message the client sends (each try of a retried request is one). */
      onRequest?: (message: RequestMessage) => void
      /** Sees every answer as it came back, unverified (diagnostics). */
      onResponse?: (message: RequestMessage, response: unknown) => void
    },
  ): CustodyClient
  /** The server processes, for memory sampling. */
  processes(): StackProcess[]
  /** Stop everything (SIGTERM, then SIGKILL what is left). */
  close(): Promise<void>
}

const ACCOUNT = '444455556666'
const REGION = 'us-east-1'
const ROLES = {
  admin: { accessKeyId: 'AKIALOADADMIN0000001', secretAccessKey: 'load-admin-secret', arn: `arn:aws:iam::${ACCOUNT}:role/admin` },
  importer: { accessKeyId: 'AKIALOADIMPORTER0001', secretAccessKey: 'load-importer-secret', arn: `arn:aws:iam::${ACCOUNT}:role/importer` },
  instance: { accessKeyId: 'AKIALOADINSTANCE0001', secretAccessKey: 'load-instance-secret', arn: `arn:aws:iam::${ACCOUNT}:role/instance` },
}

/** Start the stack; on failure whatever started is stopped. */
export async function startProcessStack({ dir, sealing = 'kms' }: ProcessStackOptions): Promise<ProcessStack> {
  const nsmDir = join(dir, 'nsm')
  const nsm = await createSoftwareNsm({ ca: { dataDir: nsmDir } })
  const rootFile = join(nsmDir, SOFTWARE_NSM_ROOT_CERT_FILE)
  const attestation: AttestationPolicy = { pcr0: [nsm.pcrs[0]!], roots: [await readFile(rootFile, 'utf8')] }
  const started: StackProcess[] = []
  const closers: (() => void)[] = []
  const close = async () => {
    for (const c of closers.splice(0)) c()
    for (const p of started.reverse()) {
      const stopped = p.stop()
      const timer = setTimeout(() => void p.kill9(), 5_000)
      await stopped
      clearTimeout(timer)
    }
  }
  try {
    let aws: StackProcess | undefined
    let awsEndpoint: string | undefined
    let importer: KmsImporter | undefined
    let importerAws: ProcessStack['importerAws']
    const enclavePort = await freePort()
    let enclaveArgs: string[]
    let enclaveEnv: Record<string, string> = {}
    let proxyArgs = ['--port', '0', '--enclave-port', String(enclavePort)]
    let proxyEnv: Record<string, string> = {}
    if (sealing === 'kms') {
      const awsDir = join(dir, 'aws')
      await mkdir(awsDir, { recursive: true, mode: 0o700 })
      const principalsFile = join(dir, 'principals.json')
      const identity = devIdentityPolicies({ accountId: ACCOUNT, region: REGION })
      const principals = Object.fromEntries(
        (Object.keys(ROLES) as (keyof typeof ROLES)[]).map((role) => {
          const { accessKeyId, ...rest } = ROLES[role]
          return [accessKeyId, { ...rest, policies: [identity[role]] }]
        }),
      )
      await writeFile(principalsFile, JSON.stringify(principals), { mode: 0o600 })
      // A fixed port: the enclave and the proxy keep their endpoint across a restart of local AWS.
      const awsPort = await freePort()
      awsEndpoint = `http://127.0.0.1:${awsPort}`
      aws = stackProcess(
        'local-aws',
        'packages/local-aws/src/bin.ts',
        () => ['--port', String(awsPort), '--data-dir', awsDir, '--account-id', ACCOUNT, '--region', REGION, '--principals', principalsFile, '--attestation-root', rootFile, '--quiet'],
        {},
        /^http:\/\/127\.0\.0\.1:\d+$/m,
      )
      await aws.start()
      started.push(aws)
      const clientFor = <T>(Ctor: new (c: object) => T, p: { accessKeyId: string; secretAccessKey: string }) =>
        new Ctor({ region: REGION, endpoint: awsEndpoint, credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey }, maxAttempts: 1 })
      const admin = clientFor(KMSClient, ROLES.admin)
      const { KeyId: kmsKeyId, Arn: kmsKeyArn } = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!
      const policy = buildKeyPolicy({ pcr0: nsm.pcrs[0]!, instanceRoleArn: ROLES.instance.arn, importerRoleArn: ROLES.importer.arn, adminArns: ROLES.admin.arn })
      await admin.send(new PutKeyPolicyCommand({ KeyId: kmsKeyId!, Policy: JSON.stringify(policy) }))
      admin.destroy()
      importerAws = { kms: clientFor(KMSClient, ROLES.importer), secretsManager: clientFor(SecretsManagerClient, ROLES.importer) }
      const { kms, secretsManager } = importerAws
      closers.push(() => kms.destroy(), () => secretsManager.destroy())
      importer = createKmsImporter({ kms, secretsManager, kmsKeyId: kmsKeyId! })
      enclaveArgs = ['--port', String(enclavePort), '--sealing', 'kms', '--mode', 'development', '--attestation', 'software', '--software-nsm-dir', nsmDir]
      enclaveEnv = { CUSTODY_REGION: REGION, CUSTODY_KMS_ENDPOINT: awsEndpoint, CUSTODY_SECRETS_ENDPOINT: awsEndpoint, CUSTODY_KMS_KEY_ID: kmsKeyArn! }
      proxyArgs = [...proxyArgs, '--records', 'secretsmanager', '--credentials', 'env']
      proxyEnv = { CUSTODY_REGION: REGION, CUSTODY_AWS_ENDPOINT: awsEndpoint, AWS_ACCESS_KEY_ID: ROLES.instance.accessKeyId, AWS_SECRET_ACCESS_KEY: ROLES.instance.secretAccessKey }
    } else {
      // Dev sealing keeps the software NSM's CA under <data dir>/nsm: the one made above.
      enclaveArgs = ['--port', String(enclavePort), '--sealing', 'dev', '--data-dir', dir, '--mode', 'development']
    }
    const enclave = stackProcess('enclave', 'packages/enclave-runtime/src/bin/enclave.ts', () => enclaveArgs, enclaveEnv, /enclave server listening/)
    await enclave.start()
    started.push(enclave)
    let proxyUrl = ''
    const proxy = stackProcess('proxy', 'packages/parent-proxy/src/bin/proxy.ts', () => proxyArgs, proxyEnv, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/, (m) => {
      proxyUrl = m[1]!
    })
    await proxy.start()
    started.push(proxy)
    // A restarted proxy listens on the port it had.
    proxyArgs = proxyArgs.map((a, i) => (proxyArgs[i - 1] === '--port' ? new URL(proxyUrl).port : a))
    const ownImporter = importer
    return {
      proxyUrl,
      attestation,
      enclave,
      proxy,
      ...(aws ? { aws, awsEndpoint } : {}),
      region: REGION,
      ...(importer ? { importer, importerAws } : {}),
      client: (stamper, options = {}) => {
        const transport = nitroEnclave({ url: proxyUrl, attestation, ...(options.retry ? { retry: options.retry } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) })
        const { onRequest, onResponse } = options
        return createCustodyClient({
          transport:
            onRequest || onResponse
              ? {
                  ...transport,
                  request: async (message) => {
                    onRequest?.(message)
                    const response = await transport.request(message)
                    onResponse?.(message, response)
                    return response
                  },
                }
              : transport,
          stamper,
          ...(ownImporter ? { importer: ownImporter } : {}),
        })
      },
      processes: () => [...(aws ? [aws] : []), enclave, proxy],
      close,
    }
  } catch (e) {
    await close()
    throw e
  }
}

/** Resident set size of a process, from /proc/<pid>/status (bytes; undefined when unreadable or gone). */
export function rssOf(pid: number): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB$/m)
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}
