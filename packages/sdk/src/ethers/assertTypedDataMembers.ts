import { TYPED_DATA_LIMITS } from '../messages/typedData.js'
import { assertObject, fail, ownValue } from '../utils/assert.js'

/**
 * Refuse an EIP-712 message with an unknown or a missing struct member, with the error `normalizeTypedData`
 * (what the viem adapter, the client and the enclave apply) gives for it: ethers' `TypedDataEncoder` drops
 * unknown members silently, so the ethers adapter checks the caller's value before ethers reads it. Field paths
 * are the same (`typedData.message.from.wallet`, `typedData.message.to[0]`), and so are the nesting limit and
 * its message. Values themselves are left to ethers and to the client.
 *
 * @param types - The struct definitions, as ethers takes them (without `EIP712Domain`).
 * @param primaryType - The struct `message` is an instance of.
 * @param message - The caller's value, before ENS names are resolved.
 * @param path - Field prefix for error messages. @default 'typedData.message'
 * @throws InvalidArgumentError naming the field: `has unknown field "x"`, `is required`, `must be an object`.
 * @example
 * assertTypedDataMembers({ Mail: [{ name: 'contents', type: 'string' }] }, 'Mail', { contents: 'hi', extra: 1 })
 * // throws "typedData.message" has unknown field "extra"
 */
export function assertTypedDataMembers(
  types: Readonly<Record<string, readonly { name: string; type: string }[]>>,
  primaryType: string,
  message: unknown,
  path = 'typedData.message',
): void {
  const structOf = (type: string) => (Object.hasOwn(types, type) ? types[type] : undefined)

  const struct = (fields: readonly { name: string; type: string }[], value: unknown, at: string, depth: number) => {
    const obj = assertObject(value, at, fields.map((f) => f.name))
    for (const f of fields) {
      const v = ownValue(obj, f.name)
      if (v === undefined) fail(`${at}.${f.name}`, 'is required')
      member(f.type, v, `${at}.${f.name}`, depth + 1)
    }
  }

  const member = (type: string, value: unknown, at: string, depth: number): void => {
    if (depth > TYPED_DATA_LIMITS.maxDepth) fail(at, `nests deeper than ${TYPED_DATA_LIMITS.maxDepth} levels`)
    const array = /^(.+)\[\d*\]$/.exec(type)
    if (array) {
      // Not an array, or too long: ethers and the client say so; only members are checked here.
      if (Array.isArray(value) && value.length <= TYPED_DATA_LIMITS.maxArrayLength) {
        for (const [i, v] of value.entries()) member(array[1]!, v, `${at}[${i}]`, depth + 1)
      }
      return
    }
    const fields = structOf(type)
    if (fields) struct(fields, value, at, depth)
  }

  const fields = structOf(primaryType)
  if (fields) struct(fields, message, path, 0)
}
