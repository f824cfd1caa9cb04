import { describe, expect, it } from 'vitest'
import { CustodyError } from '../errors/CustodyError.js'
import { operationToRoute, routeToOperation } from './http.js'
import { operationNames, parseRequest, parseResponse, parseResult } from './messages.js'

const KEY = `0x${'11'.repeat(32)}`

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (e instanceof CustodyError) return `${e.code}: ${e.message}`
    throw e
  }
  return 'no error'
}

describe('parseRequest', () => {
  it('accepts a valid request and validates params', () => {
    const req = parseRequest({ v: 1, id: 'abc', op: 'key.import', params: { privateKey: KEY, keyId: 'treasury-1' } })
    expect(req).toEqual({ id: 'abc', op: 'key.import', params: { privateKey: KEY, keyId: 'treasury-1' } })
  })

  it.each([
    [null, 'INVALID_FRAME: invalid frame: a request must be a JSON object'],
    [[1], 'INVALID_FRAME: invalid frame: a request must be a JSON object'],
    [{ v: 2, id: 'a', op: 'key.list', params: {} }, 'UNSUPPORTED_VERSION: protocol version 2 is not supported (supported: 1)'],
    [{ id: 'a', op: 'key.list', params: {} }, 'UNSUPPORTED_VERSION: protocol version undefined is not supported (supported: 1)'],
    [{ v: 1, id: '', op: 'key.list' }, 'INVALID_FRAME: invalid frame: "id" must be 1-64 characters of [A-Za-z0-9._:-]'],
    [{ v: 1, id: 'a', op: 7 }, 'INVALID_FRAME: invalid frame: "op" must be a string'],
    [{ v: 1, id: 'a', op: 'key.delete', params: {} }, 'UNKNOWN_OPERATION: unknown operation "key.delete"'],
    [{ v: 1, id: 'a', op: 'toString', params: {} }, 'UNKNOWN_OPERATION: unknown operation "toString"'],
    [{ v: 1, id: 'a', op: 'key.list', params: {}, extra: 1 }, 'INVALID_FRAME: invalid frame: unknown envelope field "extra"'],
    [{ v: 1, id: 'a', op: 'key.list', params: {}, auth: { scheme: 'x' } }, 'INVALID_ARGUMENT: "auth" is not supported by protocol version 1'],
    [{ v: 1, id: 'a', op: 'key.get', params: {} }, 'INVALID_ARGUMENT: "keyId" is required'],
    [{ v: 1, id: 'a', op: 'key.get', params: { keyId: '../etc' } }, expect.stringMatching(/^INVALID_ARGUMENT: "keyId" is invalid: must be 1-64 characters/)],
    [{ v: 1, id: 'a', op: 'key.list', params: { x: 1 } }, 'INVALID_ARGUMENT: "params" has unknown field "x"'],
    [{ v: 1, id: 'a', op: 'key.import', params: { privateKey: '0x00' } }, 'INVALID_ARGUMENT: "privateKey" must be a 0x-prefixed 32-byte hex string (64 hex digits)'],
    [{ v: 1, id: 'a', op: 'key.import', params: { privateKey: `0x${'00'.repeat(32)}` } }, 'INVALID_ARGUMENT: "privateKey" must not be zero'],
    [
      { v: 1, id: 'a', op: 'key.import', params: { privateKey: '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141' } },
      'INVALID_ARGUMENT: "privateKey" must be below the secp256k1 group order',
    ],
    [{ v: 1, id: 'a', op: 'sign.eip1559', params: { keyId: 'k', tx: { chainId: 1 } } }, 'INVALID_ARGUMENT: "tx.nonce" is required'],
  ])('refuses %j', (message, expected) => {
    expect(code(() => parseRequest(message))).toEqual(expected)
  })

  it('never echoes a private key in its errors', () => {
    const secret = `0x${'ab'.repeat(32)}`
    const msg = code(() => parseRequest({ v: 1, id: 'a', op: 'key.import', params: { privateKey: `${secret}00` } }))
    expect(msg).not.toContain('abab')
    const msg2 = code(() => parseRequest({ v: 1, id: 'a', op: 'key.get', params: { keyId: secret } }))
    expect(msg2).not.toContain('abab')
  })
})

describe('parseResponse / parseResult', () => {
  it('refuses malformed responses and results', () => {
    expect(code(() => parseResponse({ v: 1, id: 'a', ok: 'yes' }))).toBe('INVALID_FRAME: invalid frame: malformed response message')
    expect(code(() => parseResult('key.get', { keyId: 'k', address: '0x1', curve: 'secp256k1', createdAt: 'now' }))).toMatch(
      /^INVALID_FRAME: invalid frame: malformed key.get result at "address"/,
    )
  })
})

describe('HTTP route table', () => {
  it.each(operationNames.filter((op) => op !== 'system.health').map((op) => [op]))('maps %s to a route and back', (op) => {
    const params: Record<string, unknown> = op === 'key.list' ? {} : op === 'key.import' ? { privateKey: KEY } : op === 'key.generate' ? { keyId: 'g' } : op === 'key.get' ? { keyId: 'a/b c' } : { keyId: 'k', tx: { chainId: '1' } }
    const route = operationToRoute(op, params)
    expect(route.path.startsWith('/v1/keys')).toBe(true)
    expect(routeToOperation(route.method, route.path, route.body)).toEqual({ op, params })
  })

  it('serves the health operation at /healthz (answered by the proxy itself)', () => {
    expect(operationToRoute('system.health', {})).toEqual({ method: 'GET', path: '/healthz' })
    expect(routeToOperation('GET', '/healthz', undefined)).toBeUndefined()
  })

  it('has no route for unknown paths', () => {
    expect(routeToOperation('DELETE', '/v1/keys/x', undefined)).toBeUndefined()
    expect(routeToOperation('GET', '/v2/keys', undefined)).toBeUndefined()
    expect(routeToOperation('POST', '/v1/keys/x/sign', { type: 'legacy' })).toBeUndefined()
  })
})
