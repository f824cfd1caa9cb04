/** Where a command reads and writes: the process in `bin.ts`, a capture in tests. */
export type CliIo = {
  /** Write to standard output (text is written as given; add the newline). */
  stdout(text: string): void
  /** Write to standard error: progress, warnings, errors. */
  stderr(text: string): void
  /** The environment options fall back to. */
  env: Readonly<Record<string, string | undefined>>
  /** Directory relative paths resolve against. */
  cwd: string
  /** Whether standard input is a terminal (then nothing secret is read from it). */
  stdinIsTTY: boolean
  /** All of standard input as text. */
  readStdin(): Promise<string>
  /**
   * Call `handler` on SIGINT, SIGTERM or SIGHUP until the returned function is called.
   * @returns a function that removes the handler
   */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void
  /** Leave at once with `code` (a second Ctrl-C while stopping). */
  exit(code: number): never
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** The real process: stdout, stderr, stdin, environment, signals. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    stdinIsTTY: process.stdin.isTTY === true,
    async readStdin() {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      return Buffer.concat(chunks).toString('utf8')
    },
    onSignal(handler) {
      for (const signal of STOP_SIGNALS) process.on(signal, handler)
      return () => {
        for (const signal of STOP_SIGNALS) process.off(signal, handler)
      }
    },
    exit: (code) => process.exit(code),
  }
}

/** Exit status of a process stopped by `signal`, as shells report it (128 + signal number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : signal === 'SIGHUP' ? 129 : 1
}
