import type { CliIo } from './cliIo.js'
import type { OptionSpec, OptionValues, PositionalSpec } from './cliOptions.js'

/** What a command's `run` receives: checked options and positionals, the IO, and the dev.env it loaded. */
export type CommandContext<S extends Record<string, OptionSpec>> = {
  options: OptionValues<S>
  positionals: unknown[]
  io: CliIo
  /** The variables of `<dir>/dev.env` when the command was given `--dev <dir>`. */
  devEnv: Readonly<Record<string, string>> | undefined
}

/** One `custody <name>` command: its help and option table, and a thin `run` over the command's logic. */
export type CommandDefinition<S extends Record<string, OptionSpec> = Record<string, OptionSpec>> = {
  name: string
  /** One line for the top-level help. */
  summary: string
  usage: string
  description: string
  options: S
  positionals?: readonly PositionalSpec[]
  /** @returns the exit code */
  run(context: CommandContext<S>): Promise<number>
}

/** Declare a command with its option types inferred from the table. */
export function defineCommand<S extends Record<string, OptionSpec>>(command: CommandDefinition<S>): CommandDefinition<S> {
  return command
}
