/**
 * `@enclave-custody/sdk/server`: plumbing shared by the project's own executables — the enclave runtime (measured
 * into PCR0) and the parent proxy (untrusted) — so that neither has to import the other: the logger shape and
 * its redaction list, option parsing from flags and environment, signal handling, and atomic file writes (also
 * used by local-aws). Not part of the client API; it may change with any release.
 *
 * @module @enclave-custody/sdk/server
 */
export { configOrExit, runUntilSignal } from './process.js'
export { helpText, type OptionSpec, type Parsed, parseConfig } from './config.js'
export { type Logger, REDACT_PATHS, silentLogger } from './logger.js'
export { fileSystemCause } from './fileSystemError.js'
export {
  type AtomicWriteFs,
  type AtomicWriteHandle,
  type AtomicWriteOptions,
  createFileAtomic,
  type WriteSteps,
  writeFileAtomic,
} from './atomicWrite.js'
