import { type ExecFileOptions, execFile } from 'node:child_process'

/** What a finished command gave: its exit code (1 when it died by a signal or could not start) and its output. */
export type CommandRun = { code: number; stdout: string; stderr: string }

/**
 * Run a command to completion. Never throws: the caller decides on the exit code and shows the output when it
 * is not 0 (used by the release dry run and the tests that pack and install the packages).
 *
 * @example
 * const { code, stderr } = await runCommand('pnpm', ['build'], { cwd: root, timeout: 600_000 })
 */
export function runCommand(command: string, args: string[], options: ExecFileOptions & { timeout: number }): Promise<CommandRun> {
  return new Promise((done) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', ...options }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      done({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}
