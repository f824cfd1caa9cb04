import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { KEY_ID_PATTERN, KEY_ID_RULE } from '@enclave-custody/sdk/protocol'
import { readPcrFile } from './readPcrFile.js'

/** PCR0 of a debug-mode enclave: every measurement reads as zeros. */
export const DEBUG_PCR0 = '0'.repeat(96)

/** The validated deployment settings of the custody app, read once from CDK context. */
export type CustodyConfig = {
  /** @default 'EnclaveCustody' */
  readonly stackName: string
  /** Absolute path of the prebuilt enclave image (EIF). */
  readonly eifPath: string
  /** Expected PCR0 (ImageSha384) of the EIF, lower-case hex; all zeros in debug mode. */
  readonly pcr0: string
  /** Where `pcr0` came from. */
  readonly pcr0Source: 'context' | 'pcr-file' | 'debug'
  /** Further measurements the key policy requires (PCR1 kernel, PCR2 application, PCR8 signing certificate). */
  readonly pcrs: Readonly<Partial<Record<1 | 2 | 8, string>>>
  /** The key policy accepts a debug-mode enclave (PCR0 = 0…0). Never in production. */
  readonly allowDebugEnclave: boolean
  /** Key administrators; absent means the account root (IAM policies decide). */
  readonly adminArns: readonly string[] | undefined
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
  /** Directory of the host files (systemd units, vsock-proxy.yaml, …). @default packages/enclave-runtime/host */
  readonly hostFilesPath: string | undefined
  /** Loud warnings to print and attach to the stack (debug enclave). */
  readonly warnings: readonly string[]
}

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
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/

/**
 * Read and validate the custody app's CDK context (`-c key=value` or `cdk.json`), failing fast with
 * a message that names the key. PCR0 comes from `-c pcr0` or from nitro-cli's PCR JSON beside the
 * EIF; both given and different is refused, and none at all is refused unless
 * `allowDebugEnclave=true`, which uses the all-zero PCR0 of a debug-mode enclave and warns.
 *
 * @throws CustodyConfigError naming the context key.
 * @example
 * const config = readCustodyConfig({ context: (k) => app.node.tryGetContext(k) })
 */
export function readCustodyConfig({ context, cwd = process.cwd() }: ReadCustodyConfigParameters): CustodyConfig {
  const warnings: string[] = []
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

  const stackName = str('stackName') ?? 'EnclaveCustody'
  if (!STACK_NAME.test(stackName)) throw new CustodyConfigError('stackName', 'must start with a letter and hold only letters, digits and hyphens (at most 128)')

  // The enclave image and its measurements.
  const eifContext = str('eifPath')
  if (!eifContext) throw new CustodyConfigError('eifPath', 'is required: the prebuilt enclave image (nitro-cli build-enclave --output-file …), e.g. -c eifPath=build/custody.eif')
  const eifPath = resolve(cwd, eifContext)
  if (!existsSync(eifPath) || !statSync(eifPath).isFile()) throw new CustodyConfigError('eifPath', `${eifPath} is not a file`)

  const allowDebugEnclave = bool('allowDebugEnclave', false)
  const pcrContext = (i: 0 | 1 | 2 | 8): string | undefined => {
    const v = str(`pcr${i}`)
    if (v === undefined) return undefined
    const hex = v.replace(/^0x/i, '')
    if (!HEX96.test(hex)) throw new CustodyConfigError(`pcr${i}`, 'must be 96 hex digits (SHA-384), as nitro-cli prints it')
    return hex.toLowerCase()
  }
  const measured = readPcrFile(eifPath)
  const fromContext = { 0: pcrContext(0), 1: pcrContext(1), 2: pcrContext(2), 8: pcrContext(8) }
  for (const i of [0, 1, 2, 8] as const) {
    const fileValue = measured?.pcrs[i]
    if (fromContext[i] !== undefined && fileValue !== undefined && fromContext[i] !== fileValue) {
      throw new CustodyConfigError(`pcr${i}`, `${fromContext[i]} differs from PCR${i} ${fileValue} in ${measured!.path}: the EIF is not the image you measured; rebuild or fix the value`)
    }
  }

  let pcr0: string
  let pcr0Source: CustodyConfig['pcr0Source']
  const pcrs: Partial<Record<1 | 2 | 8, string>> = {}
  if (allowDebugEnclave) {
    for (const i of [0, 1, 2, 8] as const) {
      if (fromContext[i] !== undefined) {
        throw new CustodyConfigError(`pcr${i}`, 'conflicts with allowDebugEnclave=true: a debug-mode enclave attests all-zero PCRs, so no measured value can match')
      }
    }
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

  // Key administration.
  const adminList = list('adminArn')
  for (const [i, arn] of adminList.entries()) {
    if (!IAM_ARN.test(arn)) throw new CustodyConfigError('adminArn', `entry ${i + 1} must be an IAM role, user or account root ARN (comma-separated list)`)
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
  const minCapacity = int('minCapacity', 0, 100) ?? 2
  const desiredCapacity = int('desiredCapacity', 0, 100) ?? minCapacity
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
    stackName,
    eifPath,
    pcr0,
    pcr0Source,
    pcrs,
    allowDebugEnclave,
    adminArns: adminList.length > 0 ? adminList : undefined,
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
