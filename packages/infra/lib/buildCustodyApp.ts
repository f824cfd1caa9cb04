import { type App, Validations } from 'aws-cdk-lib'
import { AwsSolutionsChecks } from 'cdk-nag'
import { type CustodyConfig, readCustodyConfig } from './config/readCustodyConfig.js'
import { CustodyKeysStack } from './stacks/CustodyKeysStack.js'
import { CustodyStack, type CustodyStackProps } from './stacks/CustodyStack.js'

export type BuildCustodyAppParameters = {
  /** Base of a relative `eifPath`. @default process.cwd() */
  cwd?: string
  /** Fleet stack properties that context cannot express (tests point `hostFilesPath` at fixtures). */
  overrides?: Partial<CustodyStackProps>
  /** Where loud warnings go. @default console.warn */
  warn?: (message: string) => void
}

export type BuildCustodyAppReturnType = {
  /** `<stackName>-Keys`: the sealing key and its policy, the roles it names (instance, offline importer), the alarm. Always built. */
  keysStack: CustodyKeysStack
  /** `<stackName>`: the fleet. Absent with `-c bootstrapKeys=true` (no image yet). */
  stack: CustodyStack | undefined
  config: CustodyConfig
}

/**
 * Read and validate the app's context, create the stacks from it and register the cdk-nag AwsSolutions pack,
 * so that any unacknowledged finding fails the synth. What `bin/app.ts` runs.
 *
 * The deployment order needs no cycle: the keys stack comes first (with `bootstrapKeys=true` alone, before the
 * image exists, whose build measures the key's ARN); a deploy with `eifPath` and `kmsKeyArn` then puts the
 * attested policy for the image's PCR0 (and, during a rotation, the previous one) on the key in the keys stack
 * and creates or updates the fleet stack, which depends on the keys stack and never on the reverse.
 *
 * @throws CustodyConfigError naming the context key that is missing or wrong.
 * @example
 * import { App } from 'aws-cdk-lib'
 * import { buildCustodyApp } from './buildCustodyApp.js'
 * const { keysStack, stack } = buildCustodyApp(new App())
 */
export function buildCustodyApp(app: App, { cwd, overrides = {}, warn = console.warn }: BuildCustodyAppParameters = {}): BuildCustodyAppReturnType {
  const config = readCustodyConfig({ context: (key) => app.node.tryGetContext(key), ...(cwd ? { cwd } : {}) })
  for (const w of config.warnings) warn(`\n${'!'.repeat(78)}\n!! enclave-custody WARNING: ${w}\n${'!'.repeat(78)}\n`)
  const keysProps = {
    ...(config.adminArns ? { adminArns: config.adminArns } : {}),
    ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
    ...(config.importerPrincipalArns ? { importerPrincipalArns: config.importerPrincipalArns } : {}),
    importerRequireMfa: config.importerRequireMfa,
    aliasName: `alias/${config.stackName}/sealing`,
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }))
  if (config.mode === 'bootstrap-keys') return { keysStack: new CustodyKeysStack(app, config.keysStackName, keysProps), stack: undefined, config }

  const previous = config.previousPcrs
  const withPrevious = (current: string, old: string | undefined) => (old === undefined ? current : [current, old])
  const pcrs: Partial<Record<1 | 2 | 8, string | string[]>> = {}
  for (const i of [1, 2, 8] as const) {
    const current = config.pcrs[i]
    if (current !== undefined) pcrs[i] = withPrevious(current, previous?.[i])
  }
  // One list for the key policy and the signing Lambda's client: what may unseal is what the Lambda trusts.
  const pcr0 = withPrevious(config.pcr0, previous?.[0])
  const keysStack = new CustodyKeysStack(app, config.keysStackName, {
    ...keysProps,
    attestation: { pcr0, pcrs, allowDebugEnclave: config.allowDebugEnclave },
    lockKeyPolicy: config.lockKeyPolicy,
  })
  const stack = new CustodyStack(app, config.stackName, {
    eifPath: config.eifPath,
    pcr0: config.pcr0,
    acceptedPcr0s: typeof pcr0 === 'string' ? [pcr0] : pcr0,
    pcrs: config.pcrs,
    allowDebugEnclave: config.allowDebugEnclave,
    kmsKeyArn: config.kmsKeyArn,
    keys: {
      instanceRoleArn: keysStack.instanceRole.roleArn,
      importerRoleArn: keysStack.importerRole.roleArn,
      sealingKeyArn: keysStack.sealingKey.keyArn,
    },
    instanceType: config.instanceType,
    minCapacity: config.minCapacity,
    maxCapacity: config.maxCapacity,
    desiredCapacity: config.desiredCapacity,
    enableNat: config.enableNat,
    ...(config.certificateArn ? { certificateArn: config.certificateArn } : {}),
    ...(config.domainName ? { domainName: config.domainName } : {}),
    allowedClientCidrs: config.allowedClientCidrs,
    defaultKeyId: config.defaultKeyId,
    ...(config.hostFilesPath ? { hostFilesPath: config.hostFilesPath } : {}),
    ...overrides,
  })
  stack.addStackDependency(keysStack, 'the attested key policy and the roles it names exist before the fleet that uses them')
  return { keysStack, stack, config }
}
