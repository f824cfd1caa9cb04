import { resolve } from 'node:path'
import { isCustodyError } from '@enclave-custody/sdk'
import { addressCommand } from './address.js'
import { apiKeyCommand } from './apiKey.js'
import { auditCommand } from './audit.js'
import type { CliIo } from './cliIo.js'
import { CommandFailure, helpText, parseArgv, resolveOptions, resolvePositionals, UsageError } from './cliOptions.js'
import type { CommandDefinition } from './defineCommand.js'
import { devCommand } from './dev.js'
import { readDevEnv } from './devEnv.js'
import { generateKeyCommand } from './generateKey.js'
import { importKeyCommand } from './importKey.js'
import { keyPolicyCommand } from './keyPolicy.js'
import { listCommand } from './list.js'
import { pcr0Command } from './pcr0.js'
import { policyCommand } from './policy.js'
import { signCommand } from './sign.js'
import { signPsbtCommand } from './signPsbt.js'
import { signSolanaCommand } from './signSolana.js'
import { walletCommand } from './wallet.js'

/** Every `custody` command, in help order. */
export const commands: readonly CommandDefinition[] = [
  devCommand,
  apiKeyCommand,
  importKeyCommand,
  generateKeyCommand,
  addressCommand,
  listCommand,
  walletCommand,
  signCommand,
  signPsbtCommand,
  signSolanaCommand,
  auditCommand,
  pcr0Command,
  keyPolicyCommand,
  policyCommand,
] as unknown as readonly CommandDefinition[]

function topLevelHelp(): string {
  const rows = commands.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`)
  return `Usage: custody <command> [options]

Key custody in AWS Nitro Enclaves: private keys are unsealed only inside an attested enclave.

Commands:
${rows.join('\n')}

Run \`custody <command> --help\` for its options. Quick start: \`custody dev\` in one terminal, then
\`custody generate-key --dev .custody-dev\` in another.

Options:
  -h, --help     show this help
  --version      print the version
`
}

/** Hex runs as long as a private key (and no longer, so hashes of 48 bytes stay) never reach the terminal. */
const KEY_LIKE_RUN = /(?<![0-9a-fA-F])(?:0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])/g

/** One line, no key-like hex, bounded length. */
function oneLine(message: string): string {
  const line = message.replace(KEY_LIKE_RUN, '[ REDACTED ]').replace(/\s+/g, ' ').trim()
  return line.length > 600 ? `${line.slice(0, 600)}…` : line
}

/** The message and exit code of an error: 2 for usage errors (and invalid arguments), 1 otherwise. */
export function describeError(e: unknown): { message: string; exitCode: number } {
  if (e instanceof UsageError) return { message: oneLine(e.message), exitCode: 2 }
  if (e instanceof CommandFailure) return { message: oneLine(e.message), exitCode: e.exitCode }
  if (isCustodyError(e)) return { message: oneLine(`${e.shortMessage} (${e.code})`), exitCode: e.code === 'INVALID_ARGUMENT' ? 2 : 1 }
  const { name, message } = (e ?? {}) as { name?: string; message?: string }
  if (typeof message === 'string' && message) {
    const aws = typeof name === 'string' && /Exception$|Error$|^[A-Z][A-Za-z]+$/.test(name) && name !== 'Error' && !message.startsWith(name)
    return { message: oneLine(aws ? `${name}: ${message}` : message), exitCode: 1 }
  }
  return { message: oneLine(String(e)), exitCode: 1 }
}

/**
 * Run `custody <argv>`: dispatch to the command, print its help, or print one line
 * `custody <cmd>: <message>` for an error.
 *
 * @returns the exit code (0 ok, 1 failure, 2 usage error)
 */
export async function runCli(argv: readonly string[], io: CliIo, { version = '0.0.0' }: { version?: string } = {}): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    io.stderr(topLevelHelp())
    return 2
  }
  if (name === '-h' || name === '--help' || (name === 'help' && rest.length === 0)) {
    io.stdout(topLevelHelp())
    return 0
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`${version}\n`)
    return 0
  }
  const wanted = name === 'help' ? rest[0] : name
  const command = commands.find((c) => c.name === wanted)
  if (!command) {
    const shown = wanted && /^[a-z][a-z0-9-]{0,30}$/.test(wanted) ? ` "${wanted}"` : ''
    io.stderr(`custody: unknown command${shown}; run \`custody --help\` for the list\n`)
    return 2
  }
  const usageHint = `run \`custody ${command.name} --help\``
  try {
    const positionals = command.positionals ?? []
    const raw = parseArgv(command.options, positionals, name === 'help' ? ['--help'] : rest)
    if (raw.help) {
      io.stdout(helpText({ usage: command.usage, description: command.description, positionals, options: command.options }))
      return 0
    }
    const devDir = typeof raw.values.dev === 'string' ? resolve(io.cwd, raw.values.dev) : undefined
    const devEnv = devDir === undefined ? undefined : await readDevEnv(devDir)
    const options = resolveOptions(command.options, raw, devEnv ? { ...io.env, ...devEnv } : io.env)
    return await command.run({ options, positionals: resolvePositionals(positionals, raw), io, devEnv })
  } catch (e) {
    const { message, exitCode } = describeError(e)
    io.stderr(`custody ${command.name}: ${message}${exitCode === 2 && e instanceof UsageError ? ` (${usageHint})` : ''}\n`)
    return exitCode
  }
}
