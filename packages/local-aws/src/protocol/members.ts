import { serializationError, validationError } from './AwsServiceError.js'

/** A decoded awsJson1_1 request or response body. */
export type JsonObject = Record<string, unknown>

type Presence = { required?: boolean }
type LengthRules = Presence & { min?: number; max?: number }

/** Whether `value` is a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** JSON `null` counts as absent, as in AWS's JSON protocols. */
function member(input: JsonObject, name: string, rules: Presence): unknown {
  const value = Object.hasOwn(input, name) ? input[name] : undefined
  if (value === undefined || value === null) {
    if (rules.required) throw validationError(name, 'Member must not be null', null)
    return undefined
  }
  return value
}

function checkLength(name: string, length: number, rules: LengthRules): void {
  if (rules.min !== undefined && length < rules.min) {
    throw validationError(name, `Member must have length greater than or equal to ${rules.min}`)
  }
  if (rules.max !== undefined && length > rules.max) {
    throw validationError(name, `Member must have length less than or equal to ${rules.max}`)
  }
}

/** A string member, with length limits. */
export function readString(input: JsonObject, name: string, rules: LengthRules & { required: true }): string
export function readString(input: JsonObject, name: string, rules?: LengthRules): string | undefined
export function readString(input: JsonObject, name: string, rules: LengthRules = {}): string | undefined {
  const value = member(input, name, rules)
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw serializationError(`Member '${name}' must be a string`)
  checkLength(name, value.length, rules)
  return value
}

/** An enum member: one of `values`. The rejected value is echoed, as AWS does for enums. */
export function readEnum<T extends string>(input: JsonObject, name: string, values: readonly T[], rules: Presence & { required: true }): T
export function readEnum<T extends string>(input: JsonObject, name: string, values: readonly T[], rules?: Presence): T | undefined
export function readEnum<T extends string>(input: JsonObject, name: string, values: readonly T[], rules: Presence = {}): T | undefined {
  const value = member(input, name, rules)
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw serializationError(`Member '${name}' must be a string`)
  if (!(values as readonly string[]).includes(value)) {
    throw validationError(name, `Member must satisfy enum value set: [${values.join(', ')}]`, value)
  }
  return value as T
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** A blob member: standard base64 on the wire, bytes here. The value is never echoed. */
export function readBlob(input: JsonObject, name: string, rules: LengthRules & { required: true }): Uint8Array
export function readBlob(input: JsonObject, name: string, rules?: LengthRules): Uint8Array | undefined
export function readBlob(input: JsonObject, name: string, rules: LengthRules = {}): Uint8Array | undefined {
  const value = member(input, name, rules)
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw serializationError(`Member '${name}' must be a base64-encoded blob`)
  }
  const bytes = new Uint8Array(Buffer.from(value, 'base64'))
  checkLength(name, bytes.length, rules)
  return bytes
}

/** An integer member within `[min, max]`. */
export function readInteger(input: JsonObject, name: string, rules: Presence & { min?: number; max?: number } = {}): number | undefined {
  const value = member(input, name, rules)
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw serializationError(`Member '${name}' must be an integer`)
  if (rules.min !== undefined && value < rules.min) {
    throw validationError(name, `Member must have value greater than or equal to ${rules.min}`, String(value))
  }
  if (rules.max !== undefined && value > rules.max) {
    throw validationError(name, `Member must have value less than or equal to ${rules.max}`, String(value))
  }
  return value
}

/** A boolean member. */
export function readBoolean(input: JsonObject, name: string): boolean | undefined {
  const value = member(input, name, {})
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw serializationError(`Member '${name}' must be a boolean`)
  return value
}

/** A map of string to string (e.g. `EncryptionContext`). Returns a fresh null-prototype-free copy. */
export function readStringMap(input: JsonObject, name: string): Record<string, string> | undefined {
  const value = member(input, name, {})
  if (value === undefined) return undefined
  if (!isJsonObject(value)) throw serializationError(`Member '${name}' must be a map`)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw serializationError(`Member '${name}' must map strings to strings`)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** A list of strings. */
export function readStringList(input: JsonObject, name: string, rules: Presence & { max?: number } = {}): string[] | undefined {
  const value = member(input, name, rules)
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw serializationError(`Member '${name}' must be a list of strings`)
  }
  if (rules.max !== undefined && value.length > rules.max) {
    throw validationError(name, `Member must have length less than or equal to ${rules.max}`)
  }
  return [...value]
}

/** A structure member. */
export function readObject(input: JsonObject, name: string, rules: Presence = {}): JsonObject | undefined {
  const value = member(input, name, rules)
  if (value === undefined) return undefined
  if (!isJsonObject(value)) throw serializationError(`Member '${name}' must be a structure`)
  return value
}

/** A list of structures. */
export function readObjectList(input: JsonObject, name: string): JsonObject[] | undefined {
  const value = member(input, name, {})
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every(isJsonObject)) throw serializationError(`Member '${name}' must be a list of structures`)
  return value
}

/** Blob to wire form (standard base64). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Timestamp to wire form: epoch seconds (fractional allowed). */
export function toEpochSeconds(ms: number): number {
  return ms / 1000
}
