import { readFile } from 'node:fs/promises'
import { atomicWriteFile } from './atomicWriteFile.js'

export type OpenJsonStateStoreParameters<T> = {
  /** Where the state lives; `undefined` keeps it in memory only. */
  file: string | undefined
  /** The state of a fresh store. */
  initial: () => T
  /** Check a loaded value and return it typed; throw when it is not a valid state. */
  validate: (value: unknown) => T
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

  private constructor(file: string | undefined, state: T) {
    this.#file = file
    this.#state = state
  }

  /**
   * Load the store from `file` (or start from `initial()` when the file does not exist or `file` is undefined).
   *
   * @throws Error when the file exists but is not valid JSON or fails `validate`
   */
  static async open<T>({ file, initial, validate }: OpenJsonStateStoreParameters<T>): Promise<JsonStateStore<T>> {
    if (file === undefined) return new JsonStateStore(undefined, initial())
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new JsonStateStore(file, initial())
      throw e
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (cause) {
      throw new Error(`local-aws: ${file} is not valid JSON`, { cause })
    }
    return new JsonStateStore(file, validate(value))
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
   */
  update<R>(mutate: (draft: T) => R): Promise<R> {
    const run = async (): Promise<R> => {
      const draft = structuredClone(this.#state)
      const result = mutate(draft)
      if (this.#file !== undefined) await atomicWriteFile(this.#file, `${JSON.stringify(draft, null, 2)}\n`)
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
