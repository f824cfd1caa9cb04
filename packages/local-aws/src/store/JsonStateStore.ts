import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { type AtomicWriteFs, fileSystemCause, writeFileAtomic } from '@enclave-custody/sdk/server'
import { AwsServiceError } from '../protocol/AwsServiceError.js'

/**
 * The file-system calls of state writes (`node:fs/promises` by default), injectable so that tests can fail a step
 * as a full (ENOSPC) or read-only (EROFS) file system would.
 */
export type StateFileSystem = AtomicWriteFs

export type OpenJsonStateStoreParameters<T> = {
  /** Where the state lives; `undefined` keeps it in memory only. */
  file: string | undefined
  /** The state of a fresh store. */
  initial: () => T
  /** Check a loaded value and return it typed; throw when it is not a valid state. */
  validate: (value: unknown) => T
  /** The file-system calls of its writes (tests inject ENOSPC / EROFS). @default node:fs/promises */
  fs?: StateFileSystem
}

/**
 * One JSON document of service state, in memory and (optionally) in a file. Reads see the last committed
 * state. Mutations are serialised: each runs on a copy, is written atomically, and only then becomes visible;
 * a mutation that throws changes nothing.
 */
export class JsonStateStore<T> {
  #state: T
  #tail: Promise<unknown> = Promise.resolve()
  readonly #file: string | undefined
  readonly #fs: StateFileSystem | undefined

  private constructor(file: string | undefined, state: T, fs?: StateFileSystem) {
    this.#file = file
    this.#state = state
    this.#fs = fs
  }

  /**
   * Load the store from `file` (or start from `initial()` when the file does not exist or `file` is undefined).
   *
   * @throws Error when the file exists but is not valid JSON or fails `validate`
   */
  static async open<T>({ file, initial, validate, fs }: OpenJsonStateStoreParameters<T>): Promise<JsonStateStore<T>> {
    if (file === undefined) return new JsonStateStore(undefined, initial())
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new JsonStateStore(file, initial(), fs)
      throw e
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (cause) {
      throw new Error(`local-aws: ${file} is not valid JSON`, { cause })
    }
    return new JsonStateStore(file, validate(value), fs)
  }

  /** The committed state. Treat it as read-only. */
  get state(): Readonly<T> {
    return this.#state
  }

  /**
   * Run `mutate` on a copy of the state after every earlier mutation has finished, persist the copy, then
   * commit it.
   *
   * @param mutate - changes the draft in place and returns a result; throwing aborts the mutation
   * @returns what `mutate` returned
   * @throws AwsServiceError `ServiceUnavailableException` (503, retryable for AWS SDKs) when the file cannot be
   *   written (a full or read-only disk): the message names the cause and its errno code; the state is unchanged
   */
  update<R>(mutate: (draft: T) => R): Promise<R> {
    const run = async (): Promise<R> => {
      const draft = structuredClone(this.#state)
      const result = mutate(draft)
      if (this.#file !== undefined) {
        try {
          await writeFileAtomic(this.#file, `${JSON.stringify(draft, null, 2)}\n`, { mode: 0o600, fs: this.#fs })
        } catch (e) {
          throw writeFailure(e, this.#file)
        }
      }
      this.#state = draft
      return result
    }
    const next = this.#tail.then(run, run)
    this.#tail = next.catch(() => undefined)
    return next
  }

  /** Resolves when every mutation queued so far has finished. */
  async idle(): Promise<void> {
    await this.#tail
  }
}

/** An fs error of a state write as the client sees it: 503 naming the cause (no path, no stack); others unchanged. */
function writeFailure(e: unknown, file: string): unknown {
  const fs = fileSystemCause(e)
  if (!fs) return e
  return new AwsServiceError({
    code: 'ServiceUnavailableException',
    statusCode: 503,
    message: `local-aws cannot write its state (${basename(file)}): ${fs.cause} (${fs.code}); nothing was changed`,
  })
}
