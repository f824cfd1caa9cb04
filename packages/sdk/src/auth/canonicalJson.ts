import { fail, typeName } from '../utils/assert.js'

/**
 * The canonical JSON of a value, the bytes both ends sign and verify: object keys sorted by UTF-16 code
 * units (as RFC 8785 orders them), no whitespace, strings as `JSON.stringify` writes them, only safe
 * integers as numbers (no fractions or exponents, whose formatting implementations disagree on), and no
 * `undefined`, bigint, function or non-plain object anywhere. Own keys only: a key named `__proto__` is
 * written like any other.
 *
 * @param value - A JSON value.
 * @param field - Field name for errors. @default 'value'
 * @returns The canonical JSON text.
 * @throws InvalidArgumentError naming the first path that is not canonical-JSON-able.
 * @example
 * canonicalJson({ b: 1, a: [true, null, 'x'] }) // '{"a":[true,null,"x"],"b":1}'
 */
export function canonicalJson(value: unknown, field = 'value'): string {
  return write(value, field, 0)
}

const MAX_DEPTH = 64

function write(value: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH) fail(path, `nests deeper than ${MAX_DEPTH} levels`)
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isSafeInteger(value)) fail(path, 'must be a safe integer (canonical JSON has no fractions or exponents)')
      return Object.is(value, -0) ? '0' : String(value)
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${path}[${i}]`, depth + 1)).join(',')}]`
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) fail(path, 'must be a plain object')
      const keys = Object.keys(value).sort()
      const record = value as Record<string, unknown>
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(record[k], `${path}.${k.slice(0, 64)}`, depth + 1)}`).join(',')}}`
    }
    default:
      return fail(path, `must be JSON (got ${typeName(value)})`)
  }
}
