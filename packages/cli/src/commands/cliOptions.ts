import { parseArgs } from 'node:util'
import { z } from 'zod'

/**
 * One command-line option: its flag, the environment variable it falls back to, its schema and help
 * line (the `parseConfig` pattern of the enclave runtime, with positionals, lists and required flags).
 */
export type OptionSpec = {
  flag: string
  /** Environment variable used when the flag is absent. Secrets are never flags; they name a file or a variable. */
  env?: string
  /** Placeholder in the help, e.g. `address` → `--to <address>`. Omitted for booleans. */
  value?: string
  help: string
  schema: z.ZodType
  /** A flag without value. */
  boolean?: boolean
  /** Repeatable: the value is an array. */
  multiple?: boolean
  /** Usage error when neither the flag nor the variable is given. */
  required?: boolean
}

/** A positional argument, e.g. `<keyId>`; an optional one (last only) is `undefined` when absent. */
export type PositionalSpec = { name: string; help: string; schema: z.ZodType; optional?: boolean }

export type OptionValues<S extends Record<string, OptionSpec>> = { [K in keyof S]: z.output<S[K]['schema']> }

/** The user asked for something malformed: one line naming the flag, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The command ran and failed for a reason already put in words: exit code 1 (or `exitCode`). */
export class CommandFailure extends Error {
  override name = 'CommandFailure'
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

/** What `parseArgs` found, before environment fallbacks and validation. */
export type RawArguments = { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; help: boolean }

/**
 * Split argv into flags and positionals (strict: unknown flags, missing values and extra arguments are
 * usage errors naming the flag). Values of unexpected arguments are never echoed: they may be a key.
 */
export function parseArgv(specs: Record<string, OptionSpec>, positionals: readonly PositionalSpec[], argv: readonly string[]): RawArguments {
  const options = Object.fromEntries(
    Object.values(specs).map((s) => [s.flag, { type: s.boolean ? 'boolean' : 'string', ...(s.multiple ? { multiple: true } : {}) } as const]),
  )
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: joinNegativeValues(specs, argv), options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true, tokens: true })
  } catch (e) {
    throw new UsageError(describeParseError(e, specs))
  }
  const values = parsed.values as RawArguments['values']
  if (values.help) return { values, positionals: parsed.positionals, help: true }
  // parseArgs keeps the last of a repeated flag: `--nonce 0 --nonce 1` would sign nonce 1. Only `multiple` flags repeat.
  const seen = new Set<string>()
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue
    const spec = Object.values(specs).find((s) => s.flag === token.name)
    if (!spec || spec.multiple) continue
    if (seen.has(spec.flag)) throw new UsageError(`--${spec.flag} may be given once`)
    seen.add(spec.flag)
  }
  if (parsed.positionals.length > positionals.length) {
    const expected = positionals.length === 0 ? 'no arguments' : positionals.map((p) => (p.optional ? `[<${p.name}>]` : `<${p.name}>`)).join(' ')
    throw new UsageError(`unexpected argument #${positionals.length + 1} (expected ${expected}; options start with --)`)
  }
  return { values, positionals: parsed.positionals, help: false }
}

/**
 * `--nonce -1` as `--nonce=-1`: parseArgs takes a value starting with a dash for a flag, so a negative number
 * after a flag that takes a value is that flag's value (its schema then says what range it takes).
 */
function joinNegativeValues(specs: Record<string, OptionSpec>, argv: readonly string[]): string[] {
  const valued = new Set(Object.values(specs).filter((s) => !s.boolean).map((s) => `--${s.flag}`))
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') return [...out, ...argv.slice(i)]
    const next = argv[i + 1]
    if (valued.has(arg) && next !== undefined && /^-[0-9.]/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

/**
 * A decimal integer flag in `[min, max]`, as a bigint: one message per broken rule, e.g. `--nonce -1` →
 * "--nonce must be ≥ 0" (the flag or variable is put in front by `resolveOptions`).
 */
export function integerFlag({ min, max }: { min: bigint; max?: bigint }) {
  return z.string().transform((v, ctx): bigint => {
    if (!/^-?(?:0|[1-9][0-9]{0,77})$/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `must be a decimal integer ≥ ${min}` })
      return z.NEVER
    }
    const n = BigInt(v)
    if (n < min) ctx.addIssue({ code: 'custom', message: `must be ≥ ${min}` })
    else if (max !== undefined && n > max) ctx.addIssue({ code: 'custom', message: `must be ≤ ${max}` })
    else return n
    return z.NEVER
  })
}

/** `integerFlag` as a number (for ports, counts, milliseconds): `max` at most 2^53 − 1. */
export function numberFlag({ min, max }: { min: number; max: number }) {
  return integerFlag({ min: BigInt(min), max: BigInt(max) }).transform(Number)
}

/** Turn a `parseArgs` error into one short line naming the flag, without any value. */
function describeParseError(e: unknown, specs: Record<string, OptionSpec>): string {
  const { code, message = '' } = e as { code?: string; message?: string }
  const flag = /'(-{1,2}[A-Za-z0-9][\w-]*)/.exec(message)?.[1]
  const spec = flag ? Object.values(specs).find((s) => `--${s.flag}` === flag) : undefined
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return flag ? `unknown option ${flag}` : 'unknown option'
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    return spec?.boolean || flag === '--help' || flag === '-h' ? `${flag} takes no value` : `${flag}${spec?.value ? ` <${spec.value}>` : ''} needs a value`
  }
  return 'invalid arguments'
}

/**
 * Apply environment fallbacks and check every value against its schema: flags win over variables;
 * the first problem is a UsageError naming the flag (and the variable).
 */
export function resolveOptions<S extends Record<string, OptionSpec>>(specs: S, raw: RawArguments, env: Readonly<Record<string, string | undefined>>): OptionValues<S> {
  const out: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(specs)) {
    const fromFlag = raw.values[spec.flag]
    const fromEnv = spec.env === undefined || env[spec.env] === '' ? undefined : env[spec.env]
    const value = fromFlag ?? fromEnv
    const source = fromFlag === undefined && fromEnv !== undefined ? `${spec.env}` : `--${spec.flag}`
    if (value === undefined && spec.required) throw new UsageError(`--${spec.flag} is required${spec.env ? ` (or set ${spec.env})` : ''}`)
    const parsed = spec.schema.safeParse(value)
    if (!parsed.success) throw new UsageError(`${source} ${parsed.error.issues[0]?.message ?? 'is invalid'}`)
    out[key] = parsed.data
  }
  return out as OptionValues<S>
}

/** Check positionals against their specs. */
export function resolvePositionals(specs: readonly PositionalSpec[], raw: RawArguments): unknown[] {
  return specs.map((spec, i) => {
    const value = raw.positionals[i]
    if (value === undefined) {
      if (spec.optional) return undefined
      throw new UsageError(`<${spec.name}> is required`)
    }
    const parsed = spec.schema.safeParse(value)
    if (!parsed.success) throw new UsageError(`<${spec.name}> ${parsed.error.issues[0]?.message ?? 'is invalid'}`)
    return parsed.data
  })
}

/** The `--help` text of a command. */
export function helpText({ usage, description, positionals = [], options }: { usage: string; description: string; positionals?: readonly PositionalSpec[]; options: Record<string, OptionSpec> }): string {
  const left = (s: OptionSpec) => `--${s.flag}${s.value ? ` <${s.value}>` : ''}`
  const width = Math.max(12, ...positionals.map((p) => p.name.length + 2), ...Object.values(options).map((s) => left(s).length)) + 2
  const column = (l: string, r: string) => `  ${l.padEnd(width)} ${r}`
  const lines = [`Usage: ${usage}`, '', description]
  if (positionals.length > 0) lines.push('', 'Arguments:', ...positionals.map((p) => column(`<${p.name}>`, p.help)))
  lines.push('', 'Options:')
  for (const s of Object.values(options)) {
    const notes = [s.required ? 'required' : '', s.multiple ? 'repeatable' : '', s.env ? `env ${s.env}` : ''].filter(Boolean).join(', ')
    lines.push(column(left(s), notes ? `${s.help} (${notes})` : s.help))
  }
  lines.push(column('-h, --help', 'show this help'))
  return `${lines.join('\n')}\n`
}
