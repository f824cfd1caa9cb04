import { parseArgs } from 'node:util'
import type { z } from 'zod'

/** One command-line option: its flag, environment variable, schema and help line. */
export type OptionSpec = { flag: string; env: string; help: string; schema: z.ZodType; boolean?: boolean }

/** The values of an option table once parsed. */
export type Parsed<S extends Record<string, OptionSpec>> = { [K in keyof S]: z.output<S[K]['schema']> }

/** The `--help` text of a command from its option table. */
export function helpText(usage: string, specs: Record<string, OptionSpec>): string {
  const rows = Object.values(specs).map((s) => `  --${s.flag.padEnd(20)} ${s.help} (env ${s.env})`)
  return `${usage}\n\nOptions:\n${rows.join('\n')}\n  --${'help'.padEnd(20)} show this help\n`
}

/**
 * Parse configuration once at start: flags win over environment variables, every value is checked
 * against its schema, and the first problem is reported naming the flag and the variable.
 */
export function parseConfig<S extends Record<string, OptionSpec>>(specs: S, argv: string[], env: NodeJS.ProcessEnv): Parsed<S> | 'help' {
  const options = Object.fromEntries(Object.values(specs).map((s) => [s.flag, { type: s.boolean ? 'boolean' : 'string' } as const]))
  const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
  if (values.help) return 'help'
  const out: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(specs)) {
    const flag = (values as Record<string, unknown>)[spec.flag]
    const raw = flag === true ? 'true' : (flag ?? env[spec.env])
    const parsed = spec.schema.safeParse(raw === '' ? undefined : raw)
    if (!parsed.success) throw new Error(`invalid --${spec.flag} / ${spec.env}: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
    out[key] = parsed.data
  }
  return out as Parsed<S>
}
