import type { Logger } from './logger.js'

/** Stop gracefully on SIGTERM/SIGINT (second signal or 10 s: exit at once). */
export function runUntilSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1)
    stopping = true
    logger.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ errName: (err as Error)?.name }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

/** Parse configuration or print one line naming the problem and exit 2. */
export function configOrExit<T>(parse: () => T, command: string): T {
  try {
    return parse()
  } catch (e) {
    process.stderr.write(`${command}: ${(e as Error).message}\nTry ${command} --help\n`)
    process.exit(2)
  }
}
