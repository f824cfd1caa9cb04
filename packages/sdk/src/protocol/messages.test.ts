import { describe, expect, it } from 'vitest'
import { CustodyError } from '../errors/CustodyError.js'
import { operationToRoute, routeToOperation } from './http.js'
import { type Operation, operationNames, parseRequest, parseResponse, parseResult } from './messages.js'

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
    [{ v: 1, id: 'a', op: 'key.import', params: { privateKey: KEY, policy: { allowRawDigest: 1 } } }, 'INVALID_ARGUMENT: "policy.allowRawDigest" must be a boolean (got number)'],
    [{ v: 1, id: 'a', op: 'key.generate', params: { policy: { allowAll: true } } }, 'INVALID_ARGUMENT: "policy" has unknown field "allowAll"'],
    [{ v: 1, id: 'a', op: 'sign.transaction', params: { keyId: 'k' } }, 'INVALID_ARGUMENT: "tx" must be an object (got undefined)'],
    [{ v: 1, id: 'a', op: 'sign.transaction', params: { keyId: 'k', tx: { type: 'legacy', nonce: '0', gas: '21000', gasPrice: '1' } } }, 'INVALID_ARGUMENT: "tx.chainId" is required: a legacy transaction without chainId is valid on every chain (set allowReplayable: true to sign one anyway)'],
    [{ v: 1, id: 'a', op: 'sign.transaction', params: { keyId: 'k', tx: { chainId: '1', nonce: '0', gas: '21000', gasPrice: '1' }, allowReplayable: true } }, 'INVALID_ARGUMENT: "params" has unknown field "allowReplayable"'],
    [{ v: 1, id: 'a', op: 'sign.authorization', params: { keyId: 'k', authorization: { chainId: '0', address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2', nonce: '0' } } }, 'INVALID_ARGUMENT: "authorization.chainId" is 0, which makes the authorization valid on every chain; set allowAnyChain: true to sign it anyway'],
    [{ v: 1, id: 'a', op: 'sign.message', params: { keyId: 'k', message: 42 } }, 'INVALID_ARGUMENT: "message" must be a string, a Uint8Array or { raw } (got number)'],
    [{ v: 1, id: 'a', op: 'sign.typedData', params: { keyId: 'k', typedData: { types: {}, primaryType: 'X', message: {} } } }, 'INVALID_ARGUMENT: "typedData.primaryType" names a type that "types" does not define ("X")'],
    [{ v: 1, id: 'a', op: 'sign.typedData', params: { keyId: 'k', typedData: { domain: {}, types: {}, primaryType: 'EIP712Domain' }, digest: '0x' } }, 'INVALID_ARGUMENT: "params" has unknown field "digest"'],
    [{ v: 1, id: 'a', op: 'sign.digest', params: { keyId: 'k', digest: '0x1234' } }, 'INVALID_ARGUMENT: "digest" must be exactly 32 bytes'],
    [{ v: 1, id: 'a', op: 'sign.digest', params: { keyId: 'k' } }, 'INVALID_ARGUMENT: "digest" must be a 0x-prefixed hex string (got undefined)'],
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
  const h32 = `0x${'11'.repeat(32)}`
  it.each([
    ['sign.transaction', { rawTransaction: '0x01', hash: h32, from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', type: 'eip4844', signature: { r: h32, s: h32, yParity: 0 } }, 'type'],
    ['sign.transaction', { rawTransaction: '0x01', hash: h32, from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', type: 'legacy', signature: { r: h32, s: h32, yParity: 0, v: '0x1b' } }, 'signature.v'],
    ['sign.message', { signature: h32, r: h32, s: h32, yParity: 0, hash: h32 }, 'signature'],
    ['sign.digest', { signature: `0x${'11'.repeat(65)}`, r: h32, s: h32, yParity: 2, hash: h32 }, 'yParity'],
    ['sign.typedData', { signature: `0x${'11'.repeat(65)}`, r: h32, s: h32, yParity: 0, hash: h32, extra: 1 }, ''],
    ['sign.authorization', { chainId: '01', address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2', nonce: '0', r: h32, s: h32, yParity: 0 }, 'chainId'],
  ] as const)('refuses a malformed %s result (at "%s")', (op, result, at) => {
    expect(code(() => parseResult(op, result))).toMatch(new RegExp(`^INVALID_FRAME: invalid frame: malformed ${op.replace('.', '\\.')} result at "${at}"`))
  })

  it('refuses malformed responses and results', () => {
    expect(code(() => parseResponse({ v: 1, id: 'a', ok: 'yes' }))).toBe('INVALID_FRAME: invalid frame: malformed response message')
    expect(code(() => parseResult('key.get', { keyId: 'k', kind: 'secp256k1', address: '0x1', curve: 'secp256k1', createdAt: '2026-01-01T00:00:00Z' }))).toMatch(
      /^INVALID_FRAME: invalid frame: malformed key.get result at "address"/,
    )
  })
})

describe('HTTP route table', () => {
  const paramsOf: Record<Exclude<Operation, 'system.health' | 'audit.read'>, Record<string, unknown>> = {
    'key.import': { privateKey: KEY, policy: { allowRawDigest: true } },
    'key.generate': { keyId: 'g', policy: { allowReplayableLegacy: true } },
    'key.get': { keyId: 'a/b c' },
    'key.list': {},
    'sign.eip1559': { keyId: 'k', tx: { chainId: '1' } },
    'sign.transaction': { keyId: 'k', tx: { type: 'legacy', nonce: '0', gasPrice: '1', gas: '21000', allowReplayable: true } },
    'sign.authorization': { keyId: 'k/1', authorization: { chainId: '0', address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2', nonce: '1', allowAnyChain: true } },
    'sign.message': { keyId: 'k', message: { raw: '0x00' } },
    'sign.typedData': { keyId: 'k', typedData: { domain: {}, types: {}, primaryType: 'EIP712Domain', message: {} } },
    'sign.digest': { keyId: 'k', digest: `0x${'11'.repeat(32)}` },
    'sign.batch': { keyId: 'k/2', items: [{ op: 'sign.message', params: { message: 'hi' } }, { op: 'sign.digest', params: { digest: `0x${'11'.repeat(32)}` } }], idempotencyKey: 'b-1' },
    'system.attestation': { nonce: `0x${'ab'.repeat(32)}` },
    'key.importSealed': { keyId: 's', sealed: { to: `0x${'01'.repeat(32)}`, enc: `0x04${'02'.repeat(64)}`, ciphertext: `0x${'03'.repeat(48)}` } },
    'policy.set': { keyId: 'p', policy: { document: { keyId: 'p' }, approvals: [] } },
    'policy.get': { keyId: 'p' },
    'sign.bitcoinPsbt': { keyId: 'k', psbt: 'cHNidP8BAA==', network: 'regtest' },
    'sign.solanaTransaction': { keyId: 'k', message: 'AQAB' },
    'sign.solanaMessage': { keyId: 'k', message: 'AQAB' },
    'wallet.create': { walletId: 'w', words: 12 },
    'wallet.importSealed': { walletId: 'w', sealed: { to: `0x${'01'.repeat(32)}`, enc: `0x04${'02'.repeat(64)}`, ciphertext: `0x${'03'.repeat(48)}` } },
    'account.create': { walletId: 'w/1', walletPublicKey: `0x02${'11'.repeat(32)}`, family: 'evm', index: 2 },
  }

  it('has a route for every operation but the health check and the parent-internal audit read', () => {
    expect(Object.keys(paramsOf).sort()).toEqual(operationNames.filter((op) => op !== 'system.health' && op !== 'audit.read').sort())
    expect(routeToOperation('GET', '/v1/audit', undefined)).toBeUndefined()
  })

  it.each(Object.entries(paramsOf))('maps %s to a route and back', (op, params) => {
    const route = operationToRoute(op as Operation, params)
    expect(route.path.startsWith(op === 'system.attestation' ? '/v1/attestation?nonce=' : op.startsWith('wallet.') || op.startsWith('account.') ? '/v1/wallets' : '/v1/keys')).toBe(true)
    const url = new URL(route.path, 'http://proxy')
    expect(routeToOperation(route.method, url.pathname, route.body, url.searchParams)).toEqual({ op, params })
  })

  it('maps key.list with the creators it names to a query and back', () => {
    const params = { creators: [`0x02${'11'.repeat(32)}`, `0x03${'22'.repeat(32)}`] }
    const route = operationToRoute('key.list', params)
    expect(route).toEqual({ method: 'GET', path: `/v1/keys?creators=${params.creators.join(',')}` })
    const url = new URL(route.path, 'http://proxy')
    expect(routeToOperation(route.method, url.pathname, route.body, url.searchParams)).toEqual({ op: 'key.list', params })
  })

  it.each([
    ['sign.transaction', 'POST /v1/keys/k/sign-transaction'],
    ['sign.authorization', 'POST /v1/keys/k/sign-authorization'],
    ['sign.message', 'POST /v1/keys/k/sign-message'],
    ['sign.typedData', 'POST /v1/keys/k/sign-typed-data'],
    ['sign.digest', 'POST /v1/keys/k/sign-digest'],
    ['sign.batch', 'POST /v1/keys/k/sign-batch'],
    ['sign.eip1559', 'POST /v1/keys/k/sign'],
  ] as const)('serves %s at %s, with the path keyId winning over one in the body', (op, route) => {
    const r = operationToRoute(op, { keyId: 'k' })
    expect(`${r.method} ${r.path}`).toBe(route)
    expect(routeToOperation('POST', r.path, { keyId: 'other' })).toEqual({ op, params: { keyId: 'k' } })
    expect(routeToOperation('GET', r.path, undefined)).toBeUndefined()
  })

  it('serves the health operation at /healthz (answered by the proxy itself)', () => {
    expect(operationToRoute('system.health', {})).toEqual({ method: 'GET', path: '/healthz' })
    expect(routeToOperation('GET', '/healthz', undefined)).toBeUndefined()
  })

  it('has no route for unknown paths', () => {
    expect(routeToOperation('DELETE', '/v1/keys/x', undefined)).toBeUndefined()
    expect(routeToOperation('GET', '/v2/keys', undefined)).toBeUndefined()
    expect(routeToOperation('POST', '/v1/keys/x/sign', { type: 'legacy' })).toBeUndefined()
    expect(routeToOperation('POST', '/v1/keys/x/sign-everything', {})).toBeUndefined()
    expect(routeToOperation('POST', '/v1/keys/x/sign-digest/extra', {})).toBeUndefined()
  })
})

describe('own keys named like Object.prototype properties (JSON.parse makes them own)', () => {
  const TX = '"tx":{"chainId":"1","nonce":"0","to":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","value":"1","gas":"21000","maxFeePerGas":"2","maxPriorityFeePerGas":"1"'
  const cases: [string, string, string][] = [
    ['envelope __proto__', '{"v":1,"id":"a","op":"key.list","params":{},"__proto__":{"x":1}}', 'INVALID_FRAME: invalid frame: unknown envelope field "__proto__"'],
    ['envelope constructor', '{"v":1,"id":"a","op":"key.list","params":{},"constructor":1}', 'INVALID_FRAME: invalid frame: unknown envelope field "constructor"'],
    ['envelope prototype', '{"v":1,"id":"a","op":"key.list","params":{},"prototype":1}', 'INVALID_FRAME: invalid frame: unknown envelope field "prototype"'],
    ['params __proto__', '{"v":1,"id":"a","op":"key.get","params":{"keyId":"k","__proto__":{"keyId":"other"}}}', 'INVALID_ARGUMENT: "params" has unknown field "__proto__"'],
    ['params constructor', '{"v":1,"id":"a","op":"key.list","params":{"constructor":1}}', 'INVALID_ARGUMENT: "params" has unknown field "constructor"'],
    ['params prototype', '{"v":1,"id":"a","op":"key.get","params":{"keyId":"k","prototype":1}}', 'INVALID_ARGUMENT: "params" has unknown field "prototype"'],
    ['tx __proto__', `{"v":1,"id":"a","op":"sign.eip1559","params":{"keyId":"k",${TX},"__proto__":{"to":null}}}}`, 'INVALID_ARGUMENT: "tx" has unknown field "__proto__"'],
  ]
  for (const [name, json, expected] of cases) {
    it(`refuses an own ${name} as an unknown field`, () => {
      expect(code(() => parseRequest(JSON.parse(json)))).toBe(expected)
    })
  }
})
