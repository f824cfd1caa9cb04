/**
 * `isCustodyError` across copies of the SDK: an application that loads the ESM build and a dependency
 * that loads the CJS build (or two installed versions) hold two CustodyError classes. An error thrown by
 * one copy must still be recognised by the other, or callers' error handling silently falls through.
 * Two module instances stand in for the two builds here; test/pack.slow.test.ts does it with the real
 * ESM and CJS files of the packed tarball.
 */
import { describe, expect, it, vi } from 'vitest'
import * as here from './CustodyError.js'

type ErrorsModule = typeof here

async function anotherCopy(): Promise<ErrorsModule> {
  vi.resetModules()
  const copy = (await import('./CustodyError.js')) as ErrorsModule
  // Two distinct module instances: two distinct classes.
  expect(copy.CustodyError).not.toBe(here.CustodyError)
  return copy
}

describe('isCustodyError across two copies of the module', () => {
  it('recognises an error from the other copy, by code too', async () => {
    const other = await anotherCopy()
    const foreign = new other.KeyNotFoundError({ keyId: 'k-1' })
    expect(here.isCustodyError(foreign)).toBe(true)
    expect(here.isCustodyError(foreign, 'KEY_NOT_FOUND')).toBe(true)
    expect(here.isCustodyError(foreign, 'INTERNAL')).toBe(false)
    expect(other.isCustodyError(new here.PolicyDeniedError({ reason: 'no' }), 'POLICY_DENIED')).toBe(true)
  })

  it('`instanceof CustodyError` holds across copies; subclasses keep their own prototype check', async () => {
    const other = await anotherCopy()
    const foreign = new other.InternalError({ reason: 'x' })
    expect(foreign instanceof here.CustodyError).toBe(true)
    expect(new here.InternalError() instanceof other.CustodyError).toBe(true)
    expect(foreign instanceof here.InternalError).toBe(false)
    expect(new here.InternalError() instanceof here.InternalError).toBe(true)
    expect(new here.InternalError() instanceof here.KeyNotFoundError).toBe(false)
  })

  it('toCustodyError passes the other copy’s error through unchanged instead of wrapping it as INTERNAL', async () => {
    const other = await anotherCopy()
    const foreign = new other.KeyNotFoundError({ keyId: 'k-2' })
    expect(here.toCustodyError(foreign)).toBe(foreign)
  })

  it('the brand is the registered symbol, not enumerable, and absent from the wire form', async () => {
    const brand = Symbol.for('enclave-custody.CustodyError')
    const e = new here.InternalError()
    expect((e as unknown as Record<symbol, unknown>)[brand]).toBe(true)
    expect(Object.getOwnPropertySymbols(e)).toEqual([])
    expect(Object.keys(e)).not.toContain(brand.toString())
    expect(JSON.stringify(e)).toMatchInlineSnapshot(`"{"code":"INTERNAL","message":"internal error","retryable":false}"`)
  })

  it('plain errors, look-alikes and non-objects are not CustodyErrors', () => {
    const brand = Symbol.for('enclave-custody.CustodyError')
    for (const value of [new Error('x'), { code: 'INTERNAL', message: 'x' }, null, undefined, 'INTERNAL', 1, Object.assign(new Error('x'), { code: 'NOT_A_CODE', [brand]: true })]) {
      expect(here.isCustodyError(value)).toBe(false)
      expect(value instanceof here.CustodyError).toBe(false)
    }
  })
})
