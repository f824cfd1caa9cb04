import { type App, Validations } from 'aws-cdk-lib'
import { AwsSolutionsChecks } from 'cdk-nag'
import { type CustodyConfig, readCustodyConfig } from './config/readCustodyConfig.js'
import { CustodyStack, type CustodyStackProps } from './stacks/CustodyStack.js'

export type BuildCustodyAppParameters = {
  /** Base of a relative `eifPath`. @default process.cwd() */
  cwd?: string
  /** Stack properties that context cannot express (tests point `hostFilesPath` at fixtures). */
  overrides?: Partial<CustodyStackProps>
  /** Where loud warnings go. @default console.warn */
  warn?: (message: string) => void
}

/**
 * Read and validate the app's context, create the `CustodyStack` from it and register the cdk-nag
 * AwsSolutions pack, so that any unacknowledged finding fails the synth. What `bin/app.ts` runs.
 *
 * @throws CustodyConfigError naming the context key that is missing or wrong.
 * @example
 * const { stack } = buildCustodyApp(new App())
 */
export function buildCustodyApp(app: App, { cwd, overrides = {}, warn = console.warn }: BuildCustodyAppParameters = {}): { stack: CustodyStack; config: CustodyConfig } {
  const config = readCustodyConfig({ context: (key) => app.node.tryGetContext(key), ...(cwd ? { cwd } : {}) })
  for (const w of config.warnings) warn(`\n${'!'.repeat(78)}\n!! enclave-custody WARNING: ${w}\n${'!'.repeat(78)}\n`)
  const stack = new CustodyStack(app, config.stackName, {
    eifPath: config.eifPath,
    pcr0: config.pcr0,
    pcrs: config.pcrs,
    allowDebugEnclave: config.allowDebugEnclave,
    ...(config.adminArns ? { adminArns: config.adminArns } : {}),
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
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }))
  return { stack, config }
}
