import { InvalidArgumentError } from '../errors/CustodyError.js'

/** Throw INVALID_ARGUMENT naming `field` and the broken `rule`. */
export function fail(field: string, rule: string): never {
  throw new InvalidArgumentError({ field, rule })
}

/** Describe a value's type for an error message without echoing the value itself. */
export function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (value instanceof Uint8Array) return 'Uint8Array'
  return typeof value
}

/** Own, plain object with only the allowed keys; returns it typed as a record. */
export function assertObject(value: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    fail(field, `must be an object (got ${typeName(value)})`)
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) fail(field, 'must be a plain object')
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k))
  if (unknown.length > 0) {
    const names = unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')
    fail(field, `has unknown field${unknown.length > 1 ? 's' : ''} ${names}`)
  }
  return value as Record<string, unknown>
}

/**
 * The value of `obj`'s own property `key`, or `undefined`: never one inherited from a prototype (a
 * member named `__proto__`, `constructor` or `toString` that the caller did not send reads as missing).
 */
export function ownValue(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined
}
