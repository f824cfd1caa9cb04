import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { KEY_ID_PATTERN, KEY_ID_RULE } from '@enclave-custody/sdk/protocol'
import { parseKmsKeyArn } from './parseKmsKeyArn.js'
import { readBuildInfo } from './readBuildInfo.js'
import { readPcrFile } from './readPcrFile.js'
import { type PcrMeasurements, readPcrJson } from './readPcrJson.js'

/** PCR0 of a debug-mode enclave: every measurement reads as zeros. */
export const DEBUG_PCR0 = '0'.repeat(96)

/** What the keys stack (`<stackName>-Keys`) is built from: needed in both modes. */
export type CustodyKeysConfig = {
  /** Base name: the fleet stack's name; the keys stack is `<stackName>-Keys`. @default 'EnclaveCustody' */
  readonly stackName: string
  /** `<stackName>-Keys`: the sealing key, its policy, the two roles it names, the alarm on it. */
  readonly keysStackName: string
  /** Key administrators; absent means the account root (IAM policies decide). */
  readonly adminArns: readonly string[] | undefined
  /**
   * Who may assume the OFFLINE importer role (`custody import-key`; kms:Encrypt on the sealing key): IAM role,
   * user or account root ARNs; absent means the account root (IAM policies decide).
   */
  readonly importerPrincipalArns: readonly string[] | undefined
  /** Assuming the importer role requires MFA. @default true */
  readonly importerRequireMfa: boolean
  /**
   * Nobody may ever change the key policy again (`BypassPolicyLockoutSafetyCheck`). IRREVERSIBLE: the
   * accepted PCR0 becomes final for this key. @default false
   */
  readonly lockKeyPolicy: boolean
  /** An e-mail address subscribed to the key-alarm topic (it must confirm the subscription). */
  readonly alarmEmail: string | undefined
  /** Loud warnings to print and attach to the stack (debug enclave, locked policy, bootstrap). */
  readonly warnings: readonly string[]
}

/** What the fleet stack (`<stackName>`) and the attested key policy are built from. */
export type CustodyFleetConfig = {
  /** Absolute path of the prebuilt enclave image (EIF). */
  readonly eifPath: string
  /** Expected PCR0 (ImageSha384) of the EIF, lower-case hex; all zeros in debug mode. */
  readonly pcr0: string
  /** Where `pcr0` came from. */
  readonly pcr0Source: 'context' | 'pcr-file' | 'debug'
  /** Further measurements the key policy requires (PCR1 kernel, PCR2 application, PCR8 signing certificate). */
  readonly pcrs: Readonly<Partial<Record<1 | 2 | 8, string>>>
  /**
   * The image being replaced during a PCR0 rotation: the key policy accepts its PCR0 (and its value of every
   * bound PCR1/2/8) as well, so that instances still running it keep unsealing until the rolling update ends.
   * Absent outside a rotation.
   */
  readonly previousPcrs: Readonly<{ 0: string } & Partial<Record<1 | 2 | 8, string>>> | undefined
  /** The key policy accepts a debug-mode enclave (PCR0 = 0…0). Never in production. */
  readonly allowDebugEnclave: boolean
  /**
   * The sealing key's full ARN, as measured into the image (`build-eif.sh --kms-key-arn`); the keys stack's
   * `SealingKeyArn` output. Never an alias or a bare key id.
   */
  readonly kmsKeyArn: string
  /** Where `kmsKeyArn` came from: `-c kmsKeyArn`, or `build-info.txt` beside the EIF. */
  readonly kmsKeyArnSource: 'context' | 'build-info'
  /** @default 'm6i.xlarge' */
  readonly instanceType: string
  /** @default 2 */
  readonly minCapacity: number
  /** @default max(2, minCapacity, desiredCapacity) */
  readonly maxCapacity: number
  /** @default minCapacity */
  readonly desiredCapacity: number
  /** @default false */
  readonly enableNat: boolean
  /** ACM certificate of the load balancer's TLS listener; absent: a CloudFormation parameter asked at deploy. */
  readonly certificateArn: string | undefined
  /** DNS name the certificate covers; absent: a CloudFormation parameter asked at deploy. */
  readonly domainName: string | undefined
  /** Extra client networks that may reach the load balancer (the signing Lambda always may). @default [] */
  readonly allowedClientCidrs: readonly string[]
  /** keyId the Lambda uses when a payload names none. @default 'default' */
  readonly defaultKeyId: string
  /** Directory of the host files (systemd units, vsock-proxy.yaml, …). @default packages/parent-proxy/host */
  readonly hostFilesPath: string | undefined
}

/**
 * The validated deployment settings of the custody app, read once from CDK context. Two modes:
 * - `bootstrap-keys` (`-c bootstrapKeys=true`): only the keys stack, with the bootstrap key policy (nobody
 *   can use the key yet). The first deploy, before the image exists: its ARN goes into the image.
 * - `deploy` (`-c eifPath=… -c kmsKeyArn=…`): the keys stack with the attested policy for the image's
 *   PCR0, then the fleet stack that runs it.
 */
export type CustodyConfig = (CustodyKeysConfig & { readonly mode: 'bootstrap-keys' }) | (CustodyKeysConfig & CustodyFleetConfig & { readonly mode: 'deploy' })

/** A context value that does not check out; `key` is the `-c` name. */
export class CustodyConfigError extends Error {
  override name = 'CustodyConfigError'
  readonly key: string
  constructor(key: string, message: string) {
    super(`enclave-custody: -c ${key}: ${message}`)
    this.key = key
  }
}

export type ReadCustodyConfigParameters = {
  /** Reads one context value (`app.node.tryGetContext`). */
  context: (key: string) => unknown
  /** Base of a relative `eifPath`. @default process.cwd() */
  cwd?: string
}

const HEX96 = /^[0-9a-fA-F]{96}$/
const IAM_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(?:root|role\/[\w+=,.@/-]{1,512}|user\/[\w+=,.@/-]{1,512})$/
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:certificate\/[0-9a-f-]{36}$/
const HOSTNAME = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/
const CIDR4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\/(?:3[0-2]|[12]?\d)$/
const INSTANCE_TYPE = /^([a-z][a-z0-9-]*)\.([a-z0-9]+)$/
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,122}$/
const EMAIL = /^[^@\s,]{1,64}@[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i
/** Context keys that only make sense with an image (refused with bootstrapKeys=true). */
const IMAGE_KEYS = ['eifPath', 'kmsKeyArn', 'pcr0', 'pcr1', 'pcr2', 'pcr8', 'previousPcr0', 'previousPcr1', 'previousPcr2', 'previousPcr8', 'previousPcrsPath', 'allowDebugEnclave', 'lockKeyPolicy'] as const

/**
 * Read and validate the custody app's CDK context (`-c key=value` or `cdk.json`), failing fast with
 * a message that names the key.
 *
 * `-c bootstrapKeys=true` selects the keys-only first deploy. Otherwise `eifPath` and `kmsKeyArn` (the full
 * key ARN the image was built with) are required. PCR0 comes from `-c pcr0` or from nitro-cli's PCR JSON
 * beside the EIF; both given and different is refused, and none at all is refused unless
 * `allowDebugEnclave=true`, which uses the all-zero PCR0 of a debug-mode enclave and warns. During a PCR0
 * rotation `previousPcr0` (or `previousPcrsPath`, the old build's PCR JSON) names the image being replaced.
 *
 * @throws CustodyConfigError naming the context key.
 * @example
 * import { readCustodyConfig } from './readCustodyConfig.js'
 * const config = readCustodyConfig({ context: (k) => app.node.tryGetContext(k) })
 */
export function readCustodyConfig({ context, cwd = process.cwd() }: ReadCustodyConfigParameters): CustodyConfig {
  const warnings: string[] = []
  const given = (key: string): boolean => {
    const v = context(key)
    return v !== undefined && v !== null && v !== ''
  }
  const str = (key: string): string | undefined => {
    const v = context(key)
    if (v === undefined || v === null || v === '') return undefined
    if (typeof v !== 'string') throw new CustodyConfigError(key, `must be a string (got ${typeof v})`)
    return v.trim()
  }
  const bool = (key: string, fallback: boolean): boolean => {
    const v = context(key)
    if (v === undefined || v === null || v === '') return fallback
    if (v === true || v === 'true') return true
    if (v === false || v === 'false') return false
    throw new CustodyConfigError(key, 'must be true or false')
  }
  const int = (key: string, min: number, max: number): number | undefined => {
    const v = context(key)
    if (v === undefined || v === null || v === '') return undefined
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,4}$/.test(v) ? Number(v) : Number.NaN
    if (!Number.isInteger(n) || n < min || n > max) throw new CustodyConfigError(key, `must be an integer from ${min} to ${max}`)
    return n
  }
  const list = (key: string): string[] => (str(key) ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  const pcrContext = (key: string): string | undefined => {
    const v = str(key)
    if (v === undefined) return undefined
    const hex = v.replace(/^0x/i, '')
    if (!HEX96.test(hex)) throw new CustodyConfigError(key, 'must be 96 hex digits (SHA-384), as nitro-cli prints it')
    return hex.toLowerCase()
  }

  const stackName = str('stackName') ?? 'EnclaveCustody'
  if (!STACK_NAME.test(stackName)) throw new CustodyConfigError('stackName', 'must start with a letter and hold only letters, digits and hyphens (at most 123: the keys stack adds "-Keys")')

  // Key administration and the key alarm (both modes).
  const adminList = list('adminArn')
  for (const [i, arn] of adminList.entries()) {
    if (!IAM_ARN.test(arn)) throw new CustodyConfigError('adminArn', `entry ${i + 1} must be an IAM role, user or account root ARN (comma-separated list)`)
  }
  const alarmEmail = str('alarmEmail')
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail)) throw new CustodyConfigError('alarmEmail', 'must be one e-mail address')
  // The offline importer role's trust (both modes: the role is in the keys stack).
  const importerList = list('importerPrincipalArn')
  for (const [i, arn] of importerList.entries()) {
    if (!IAM_ARN.test(arn)) throw new CustodyConfigError('importerPrincipalArn', `entry ${i + 1} must be an IAM role, user or account root ARN (comma-separated list; no service principal)`)
  }
  const importerRequireMfa = bool('importerRequireMfa', true)
  if (!importerRequireMfa) {
    warnings.push('importerRequireMfa=false: the importer role (kms:Encrypt on the sealing key) can be assumed without MFA. Only for a pipeline principal that cannot present MFA.')
  }
  const keys = {
    stackName,
    keysStackName: `${stackName}-Keys`,
    adminArns: adminList.length > 0 ? adminList : undefined,
    importerPrincipalArns: importerList.length > 0 ? importerList : undefined,
    importerRequireMfa,
    alarmEmail,
  }

  // Mode 1: the keys stack alone, before any image exists.
  if (bool('bootstrapKeys', false)) {
    for (const key of IMAGE_KEYS) {
      if (given(key)) {
        throw new CustodyConfigError(
          key,
          'conflicts with bootstrapKeys=true, which creates only the keys stack with the bootstrap policy (no image yet); drop bootstrapKeys for the deploy with an image',
        )
      }
    }
    warnings.push(
      'bootstrapKeys=true: the keys stack gets the BOOTSTRAP key policy, under which nobody can unseal anything. Right for the first deploy only: ' +
        'deployed after the attested policy, it replaces that policy and every enclave loses Decrypt until the next deploy with -c eifPath.',
    )
    return { mode: 'bootstrap-keys', ...keys, lockKeyPolicy: false, warnings }
  }

  // Mode 2: the enclave image and its measurements.
  const eifContext = str('eifPath')
  if (!eifContext) {
    throw new CustodyConfigError(
      'eifPath',
      'is required: the prebuilt enclave image (build-eif.sh --kms-key-arn …), e.g. -c eifPath=build/custody.eif. ' +
        'First deploy, before the image exists: -c bootstrapKeys=true creates the keys stack, whose SealingKeyArn output the image is built with.',
    )
  }
  const eifPath = resolve(cwd, eifContext)
  if (!existsSync(eifPath) || !statSync(eifPath).isFile()) throw new CustodyConfigError('eifPath', `${eifPath} is not a file`)

  // The sealing key ARN the image pins: -c kmsKeyArn, or build-eif.sh's build-info.txt beside the EIF.
  const buildInfo = readBuildInfo(eifPath)
  const kmsKeyArnContext = str('kmsKeyArn')
  if (kmsKeyArnContext !== undefined) {
    const parsed = parseKmsKeyArn(kmsKeyArnContext)
    if (!parsed.ok) throw new CustodyConfigError('kmsKeyArn', parsed.rule)
  }
  if (kmsKeyArnContext !== undefined && buildInfo?.kmsKeyArn !== undefined && kmsKeyArnContext !== buildInfo.kmsKeyArn) {
    throw new CustodyConfigError('kmsKeyArn', `differs from kms_key_arn in ${buildInfo.path}: the EIF was built for another key; rebuild it with --kms-key-arn or fix the value`)
  }
  const chosenKeyArn = kmsKeyArnContext ?? buildInfo?.kmsKeyArn
  if (chosenKeyArn === undefined) {
    throw new CustodyConfigError(
      'kmsKeyArn',
      'is required: the sealing key ARN the image was built with (build-eif.sh --kms-key-arn; the SealingKeyArn output of the keys stack), ' +
        'or build-eif.sh\'s build-info.txt beside the EIF',
    )
  }
  const parsedKey = parseKmsKeyArn(chosenKeyArn)
  if (!parsedKey.ok) throw new CustodyConfigError('kmsKeyArn', `(from ${buildInfo?.path}) ${parsedKey.rule}`)
  if (buildInfo?.region !== undefined && buildInfo.region !== parsedKey.value.region) {
    throw new CustodyConfigError('kmsKeyArn', `is a key in ${parsedKey.value.region} but ${buildInfo.path} says the image calls KMS in ${buildInfo.region}`)
  }
  const kmsKeyArn = parsedKey.value.arn
  const kmsKeyArnSource: CustodyFleetConfig['kmsKeyArnSource'] = kmsKeyArnContext === undefined ? 'build-info' : 'context'

  const allowDebugEnclave = bool('allowDebugEnclave', false)
  const lockKeyPolicy = bool('lockKeyPolicy', false)
  const measured = readPcrFile(eifPath)
  const fromContext = { 0: pcrContext('pcr0'), 1: pcrContext('pcr1'), 2: pcrContext('pcr2'), 8: pcrContext('pcr8') }
  for (const i of [0, 1, 2, 8] as const) {
    const fileValue = measured?.pcrs[i]
    if (fromContext[i] !== undefined && fileValue !== undefined && fromContext[i] !== fileValue) {
      throw new CustodyConfigError(`pcr${i}`, `${fromContext[i]} differs from PCR${i} ${fileValue} in ${measured!.path}: the EIF is not the image you measured; rebuild or fix the value`)
    }
  }

  let pcr0: string
  let pcr0Source: CustodyFleetConfig['pcr0Source']
  const pcrs: Partial<Record<1 | 2 | 8, string>> = {}
  if (allowDebugEnclave) {
    for (const i of [0, 1, 2, 8] as const) {
      if (fromContext[i] !== undefined) {
        throw new CustodyConfigError(`pcr${i}`, 'conflicts with allowDebugEnclave=true: a debug-mode enclave attests all-zero PCRs, so no measured value can match')
      }
    }
    if (lockKeyPolicy) throw new CustodyConfigError('lockKeyPolicy', 'conflicts with allowDebugEnclave=true: it would accept every debug-mode enclave forever')
    pcr0 = DEBUG_PCR0
    pcr0Source = 'debug'
    warnings.push(
      'allowDebugEnclave=true: the KMS key policy accepts PCR0 = 0…0, which every DEBUG-MODE enclave presents whatever code it runs. ' +
        'Anyone who can start a debug enclave on the fleet can unseal every key. Development only; never hold real funds with this stack.',
    )
    if (measured) warnings.push(`allowDebugEnclave=true ignores the measured PCR0 in ${measured.path}.`)
  } else {
    const chosen = fromContext[0] ?? measured?.pcrs[0]
    if (!chosen) {
      throw new CustodyConfigError(
        'pcr0',
        `no PCR0 for ${eifPath}: pass -c pcr0=<96 hex digits> (nitro-cli build-enclave / describe-eif prints it), or put nitro-cli's PCR JSON beside the EIF ` +
          `(${eifPath}.pcrs.json or pcrs.json in its folder). For a throwaway debug-mode enclave only: -c allowDebugEnclave=true.`,
      )
    }
    if (chosen === DEBUG_PCR0) throw new CustodyConfigError('pcr0', 'is all zeros, the PCR0 of a debug-mode enclave; say -c allowDebugEnclave=true if that is really what you want')
    pcr0 = chosen
    pcr0Source = fromContext[0] ? 'context' : 'pcr-file'
    for (const i of [1, 2, 8] as const) if (fromContext[i] !== undefined) pcrs[i] = fromContext[i]
  }

  // PCR0 rotation: the image being replaced, from -c previousPcr<i> and/or its build's PCR JSON.
  const previousPath = str('previousPcrsPath')
  let previousFile: PcrMeasurements | undefined
  if (previousPath !== undefined) {
    try {
      previousFile = readPcrJson(resolve(cwd, previousPath))
    } catch (e) {
      throw new CustodyConfigError('previousPcrsPath', (e as Error).message)
    }
  }
  const previousContext = { 0: pcrContext('previousPcr0'), 1: pcrContext('previousPcr1'), 2: pcrContext('previousPcr2'), 8: pcrContext('previousPcr8') }
  let previousPcrs: CustodyFleetConfig['previousPcrs']
  if (previousFile || Object.values(previousContext).some((v) => v !== undefined)) {
    const firstKey = previousFile ? 'previousPcrsPath' : `previousPcr${([0, 1, 2, 8] as const).find((i) => previousContext[i] !== undefined)}`
    if (allowDebugEnclave) throw new CustodyConfigError(firstKey, 'conflicts with allowDebugEnclave=true: a debug-mode enclave has no measurement to rotate from')
    if (lockKeyPolicy) {
      throw new CustodyConfigError(firstKey, 'conflicts with lockKeyPolicy=true: a locked policy would accept the previous image forever; finish the rotation first, then lock')
    }
    const previous: Partial<Record<0 | 1 | 2 | 8, string>> = {}
    for (const i of [0, 1, 2, 8] as const) {
      const c = previousContext[i]
      const f = previousFile?.pcrs[i]
      if (c !== undefined && f !== undefined && c !== f) throw new CustodyConfigError(`previousPcr${i}`, `differs from PCR${i} in ${previousFile!.path}`)
      if (c !== undefined && i !== 0 && pcrs[i] === undefined) {
        throw new CustodyConfigError(`previousPcr${i}`, `the key policy does not bind PCR${i} (no -c pcr${i}), so there is no previous value to accept`)
      }
      const v = c ?? f
      if (v !== undefined && (i === 0 || pcrs[i] !== undefined)) previous[i] = v
    }
    if (previous[0] === undefined) throw new CustodyConfigError('previousPcr0', 'is required with any other previousPcr<i>: the PCR0 of the image being replaced')
    if (previous[0] === DEBUG_PCR0) throw new CustodyConfigError('previousPcr0', 'is all zeros, the PCR0 of a debug-mode enclave; a production key never accepts it')
    if (previous[0] === pcr0) throw new CustodyConfigError('previousPcr0', 'equals pcr0: nothing is being rotated; drop it')
    for (const i of [1, 2, 8] as const) {
      if (pcrs[i] !== undefined && previous[i] === undefined) {
        throw new CustodyConfigError(
          `previousPcr${i}`,
          `is required: the key policy binds PCR${i}, so instances of the previous image need their PCR${i} accepted too (-c previousPcr${i}=…, or -c previousPcrsPath=<its pcrs.json>)`,
        )
      }
    }
    previousPcrs = previous as { 0: string } & Partial<Record<1 | 2 | 8, string>>
    warnings.push(
      `PCR0 rotation: the key policy accepts the previous image (PCR0 ${previous[0].slice(0, 16)}…) as well as the new one. ` +
        'Once every instance runs the new image (custody pcr0 --asg …), deploy again without previousPcr0/previousPcrsPath.',
    )
  }

  if (lockKeyPolicy) {
    warnings.push(
      'lockKeyPolicy=true: IRREVERSIBLE. The sealing key policy is applied with BypassPolicyLockoutSafetyCheck and denies kms:PutKeyPolicy to everyone, ' +
        'the account root and AWS support included. Only this PCR0 can ever unseal keys sealed under this KMS key: a new enclave image means new keys. ' +
        'Every later deploy that would change the policy fails.',
    )
  }

  // The fleet.
  const instanceType = str('instanceType') ?? 'm6i.xlarge'
  const itMatch = INSTANCE_TYPE.exec(instanceType)
  if (!itMatch) throw new CustodyConfigError('instanceType', 'must look like m6i.xlarge')
  const [, family, size] = itMatch as unknown as [string, string, string]
  if (/^t\d/.test(family) || family === 'a1' || size === 'metal' || /^(?:nano|micro|small|medium)$/.test(size)) {
    throw new CustodyConfigError('instanceType', `${instanceType} cannot run a Nitro Enclave (burstable, a1, metal and sub-large sizes are unsupported); use e.g. m6i.xlarge`)
  }
  if (size === 'large' && !/g[a-z]*$/.test(family)) {
    throw new CustodyConfigError('instanceType', `${instanceType} has 2 vCPUs; an Intel or AMD parent needs at least 4 to give an enclave its own cores (use ${family}.xlarge)`)
  }
  const minCapacity = int('minCapacity', 1, 100) ?? 2
  const desiredCapacity = int('desiredCapacity', 1, 100) ?? minCapacity
  const maxCapacity = int('maxCapacity', 1, 100) ?? Math.max(2, minCapacity, desiredCapacity)
  if (!(minCapacity <= desiredCapacity && desiredCapacity <= maxCapacity)) {
    throw new CustodyConfigError('desiredCapacity', `must satisfy minCapacity (${minCapacity}) ≤ desiredCapacity (${desiredCapacity}) ≤ maxCapacity (${maxCapacity})`)
  }

  // The load balancer's TLS.
  const certificateArn = str('certificateArn')
  if (certificateArn !== undefined && !ACM_ARN.test(certificateArn)) throw new CustodyConfigError('certificateArn', 'must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)')
  const domainName = str('domainName')?.toLowerCase()
  if (domainName !== undefined && !HOSTNAME.test(domainName)) throw new CustodyConfigError('domainName', 'must be a DNS name such as custody.example.com (the name the certificate covers)')
  const allowedClientCidrs = list('allowedClientCidrs')
  for (const c of allowedClientCidrs) if (!CIDR4.test(c)) throw new CustodyConfigError('allowedClientCidrs', `${JSON.stringify(c.slice(0, 40))} is not an IPv4 CIDR such as 10.1.0.0/16`)

  const defaultKeyId = str('keyId') ?? 'default'
  if (!KEY_ID_PATTERN.test(defaultKeyId)) throw new CustodyConfigError('keyId', KEY_ID_RULE)

  const hostFilesContext = str('hostFilesPath')
  const hostFilesPath = hostFilesContext === undefined ? undefined : resolve(cwd, hostFilesContext)
  if (hostFilesPath !== undefined && !(existsSync(hostFilesPath) && statSync(hostFilesPath).isDirectory())) {
    throw new CustodyConfigError('hostFilesPath', `${hostFilesPath} is not a directory`)
  }

  return {
    mode: 'deploy',
    ...keys,
    lockKeyPolicy,
    eifPath,
    pcr0,
    pcr0Source,
    pcrs,
    previousPcrs,
    allowDebugEnclave,
    kmsKeyArn,
    kmsKeyArnSource,
    instanceType,
    minCapacity,
    maxCapacity,
    desiredCapacity,
    enableNat: bool('enableNat', false),
    certificateArn,
    domainName,
    allowedClientCidrs,
    defaultKeyId,
    hostFilesPath,
    warnings,
  }
}
