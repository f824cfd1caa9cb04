/**
 * `@enclave-custody/cli`: the functions behind the `custody` command and the local dev stack.
 *
 * @module @enclave-custody/cli
 */
export { type Anvil, anvilBinary, startAnvil, stopChild } from './anvil.js'
export { type DevStack, type DevStackOptions, startDevStack } from './devStack.js'
export { type DevIdentityPolicies, devIdentityPolicies } from './devConfig.js'
export { type CommandContext, type CommandDefinition, defineCommand } from './commands/defineCommand.js'
export { type CliIo, processIo } from './commands/cliIo.js'
export { commands, describeError, runCli } from './commands/runCli.js'
export { type DevEnv, readDevEnv, writeDevEnv } from './commands/devEnv.js'
export { type RunDevStackParameters, runDevStack } from './commands/dev.js'
export { type InstancePcr0, type ReadFleetPcr0Parameters, type ReadFleetPcr0ReturnType, readFleetPcr0 } from './commands/pcr0.js'
export { type DescribedEnclave, type EnclaveMeasurements, parseDescribeEnclaves, parseNitroCliMeasurements } from './commands/nitroCliJson.js'
export { applyKeyPolicy, keyPolicyFor } from './commands/keyPolicy.js'
export { describeAuditBreak, type VerifyAuditLogTextParameters, verifyAuditLogText } from './commands/audit.js'
export { openReceiptsFile, type ReceiptsFile, readReceiptsFile } from './commands/receiptsFile.js'
