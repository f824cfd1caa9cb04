import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { bytesToHex, hexToBytes } from '../utils/hex.js'
import { apiKeyStamper } from './apiKeyStamper.js'
import { canonicalJson } from './canonicalJson.js'
import { generateApiKey } from './generateApiKey.js'
import { verifyP256 } from './p256.js'
import { REQUEST_STAMP_CONTEXT, stampPayload } from './stampPayload.js'
import { stampRequest } from './stampRequest.js'
import { verifyStamp } from './verifyStamp.js'

const AUD = `0x${'a1'.repeat(32)}`
const NOW = 1_800_000_000_000
const request = { v: 1, op: 'sign.eip1559', params: { keyId: 'treasury', tx: { chainId: '1', nonce: '0', to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', value: '1' } } }

async function stamped(over: Partial<Parameters<typeof stampRequest>[0]> = {}) {
  const key = generateApiKey()
  const stamper = apiKeyStamper({ privateKey: key.privateKey })
  const auth = await stampRequest({ stamper, ...request, aud: AUD, now: NOW, ...over })
  return { key, stamper, auth }
}

const reason = (fn: () => unknown): string => {
  try {
    fn()
  } catch (e) {
    if (isCustodyError(e, 'UNAUTHENTICATED')) return e.message
    throw e
  }
  return 'accepted'
}

describe('request stamps', () => {
  it('a stamp verifies for its request and names the API key as a compressed point', async () => {
    const { key, auth } = await stamped()
    expect(verifyStamp({ ...request, auth, aud: AUD, now: NOW })).toEqual({ publicKey: key.publicKey, nonce: auth.nonce, timestamp: NOW })
    expect(key.publicKey).toMatch(/^0x0[23][0-9a-f]{64}$/)
    expect(auth.nonce).toMatch(/^0x[0-9a-f]{32}$/)
  })

  it('the signed bytes are the context, a zero byte and the canonical JSON — verified by node:crypto as well', async () => {
    const { stamper, auth } = await stamped()
    const bytes = stampPayload({ ...request, timestamp: auth.timestamp, nonce: auth.nonce, aud: AUD })
    const text = new TextDecoder().decode(bytes)
    expect(text).toBe(`${REQUEST_STAMP_CONTEXT}\0${canonicalJson({ aud: AUD, nonce: auth.nonce, op: request.op, params: request.params, timestamp: NOW, v: 1 })}`)
    expect(text.slice(REQUEST_STAMP_CONTEXT.length + 1)).toBe(
      `{"aud":"${AUD}","nonce":"${auth.nonce}","op":"sign.eip1559","params":{"keyId":"treasury","tx":{"chainId":"1","nonce":"0","to":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","value":"1"}},"timestamp":${NOW},"v":1}`,
    )
    // An independent implementation: OpenSSL through node:crypto, from an uncompressed SEC1 key.
    const uncompressed = p256.Point.fromHex(stamper.publicKey.slice(2)).toBytes(false)
    const jwk = { kty: 'EC', crv: 'P-256', x: Buffer.from(uncompressed.subarray(1, 33)).toString('base64url'), y: Buffer.from(uncompressed.subarray(33)).toString('base64url') }
    const pub = createPublicKey({ key: jwk, format: 'jwk' })
    expect(nodeVerify('sha256', bytes, { key: pub, dsaEncoding: 'ieee-p1363' }, hexToBytes(auth.signature))).toBe(true)
  })

  it('one key sent compressed or uncompressed is one key', async () => {
    const { key, auth } = await stamped()
    const uncompressed = bytesToHex(p256.Point.fromHex(key.publicKey.slice(2)).toBytes(false))
    expect(verifyStamp({ ...request, auth: { ...auth, publicKey: uncompressed }, aud: AUD, now: NOW }).publicKey).toBe(key.publicKey)
  })

  it('any change to op or to a byte of params breaks the stamp', async () => {
    const { auth } = await stamped()
    expect(reason(() => verifyStamp({ ...request, op: 'sign.transaction', auth, aud: AUD, now: NOW }))).toContain('signature does not verify')
    const altered = structuredClone(request.params)
    altered.tx.to = '0x70997970C51812dc3A010C7d01b50e0d17dc79C9'
    expect(reason(() => verifyStamp({ ...request, params: altered, auth, aud: AUD, now: NOW }))).toContain('signature does not verify')
    const extra = { ...request.params, policy: { allowRawDigest: true } }
    expect(reason(() => verifyStamp({ ...request, params: extra, auth, aud: AUD, now: NOW }))).toContain('signature does not verify')
  })

  it('a stamp for another audience (staging) is useless here', async () => {
    const { auth } = await stamped({ aud: `0x${'b2'.repeat(32)}` })
    expect(reason(() => verifyStamp({ ...request, auth, aud: AUD, now: NOW }))).toContain('signature does not verify')
  })

  it('refuses times outside ±5 minutes and before the boot', async () => {
    const { auth } = await stamped()
    expect(reason(() => verifyStamp({ ...request, auth, aud: AUD, now: NOW + 5 * 60_000 + 1 }))).toContain('outside ±300 s')
    expect(reason(() => verifyStamp({ ...request, auth, aud: AUD, now: NOW - 5 * 60_000 - 1 }))).toContain('outside ±300 s')
    expect(reason(() => verifyStamp({ ...request, auth, aud: AUD, now: NOW, notBefore: NOW + 1 }))).toContain("older than the enclave's boot")
    expect(reason(() => verifyStamp({ ...request, auth, aud: AUD, now: NOW + 5 * 60_000 }))).toBe('accepted')
  })

  it('a forged stamp (another key signed, this key named) and a high-s twin are refused', async () => {
    const { auth } = await stamped()
    const other = await stamped()
    expect(reason(() => verifyStamp({ ...request, auth: { ...auth, publicKey: other.key.publicKey }, aud: AUD, now: NOW }))).toContain('signature does not verify')
    const sig = hexToBytes(auth.signature)
    const s = BigInt(bytesToHex(sig.subarray(32)))
    const highS = (p256.Point.CURVE().n - s).toString(16).padStart(64, '0')
    expect(reason(() => verifyStamp({ ...request, auth: { ...auth, signature: `${bytesToHex(sig.subarray(0, 32))}${highS}` }, aud: AUD, now: NOW }))).toContain('signature does not verify')
  })

  const malformed: [string, (a: Record<string, unknown>) => unknown, string][] = [
    ['missing', () => undefined, 'is missing'],
    ['null', () => null, 'is missing'],
    ['an array', () => [], 'must be an object'],
    ['an extra field', (a) => ({ ...a, extra: 1 }), 'must have exactly the fields'],
    ['a missing field', ({ nonce: _, ...a }) => a, 'must have exactly the fields'],
    ['another scheme', (a) => ({ ...a, scheme: 'ed25519' }), 'scheme must be'],
    ['a key off the curve', (a) => ({ ...a, publicKey: `0x02${'ff'.repeat(32)}` }), 'not a point on P-256'],
    ['a key of the wrong size', (a) => ({ ...a, publicKey: '0x0211' }), 'publicKey must be'],
    ['a string timestamp', (a) => ({ ...a, timestamp: String(a.timestamp) }), 'timestamp must be'],
    ['a fractional timestamp', (a) => ({ ...a, timestamp: (a.timestamp as number) + 0.5 }), 'timestamp must be'],
    ['a short nonce', (a) => ({ ...a, nonce: '0x1234' }), 'nonce must be'],
    ['an upper-case signature', (a) => ({ ...a, signature: (a.signature as string).toUpperCase().replace('0X', '0x') }), 'signature must be'],
    ['a DER signature', (a) => ({ ...a, signature: `0x3044${(a.signature as string).slice(2)}` }), 'signature must be'],
  ]
  for (const [name, edit, expected] of malformed) {
    it(`refuses ${name}`, async () => {
      const { auth } = await stamped()
      const r = reason(() => verifyStamp({ ...request, auth: edit(auth as unknown as Record<string, unknown>), aud: AUD, now: NOW }))
      expect(r).toContain(expected)
      expect(r).not.toContain((auth as { signature: string }).signature.slice(2, 20))
    })
  }
})

describe('API keys', () => {
  it('apiKeyStamper refuses a malformed or out-of-range key without echoing it', () => {
    for (const bad of ['0x1234', `0x${'00'.repeat(32)}`, `0x${'ff'.repeat(32)}`, 42]) {
      try {
        apiKeyStamper({ privateKey: bad as string })
        expect.unreachable()
      } catch (e) {
        expect(isCustodyError(e, 'INVALID_ARGUMENT')).toBe(true)
        expect(JSON.stringify((e as Error).message)).not.toContain('ffffffff')
      }
    }
  })

  it('a stamper serialises without its private key', () => {
    const key = generateApiKey()
    const text = JSON.stringify({ stamper: apiKeyStamper({ privateKey: key.privateKey }) })
    expect(text).not.toContain(key.privateKey.slice(2))
    expect(text).toContain(key.publicKey)
  })

  it('every stamp of the same bytes verifies (OpenSSL draws a fresh ECDSA nonce each time), and requests differ by nonce', async () => {
    const key = generateApiKey()
    const stamper = apiKeyStamper({ privateKey: key.privateKey })
    const bytes = new TextEncoder().encode('x')
    const [one, two] = [await stamper.stamp(bytes), await stamper.stamp(bytes)]
    expect(verifyP256(one, bytes, hexToBytes(key.publicKey))).toBe(true)
    expect(verifyP256(two, bytes, hexToBytes(key.publicKey))).toBe(true)
    const a = await stampRequest({ stamper, ...request, aud: AUD, now: NOW })
    const b = await stampRequest({ stamper, ...request, aud: AUD, now: NOW })
    expect(a.nonce).not.toBe(b.nonce)
  })
})

describe('canonicalJson', () => {
  it('sorts keys, keeps own __proto__ keys, refuses what implementations format differently', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'é'] })).toBe('{"a":[true,null,"é"],"b":1}')
    expect(canonicalJson(JSON.parse('{"__proto__":{"x":1},"a":2}'))).toBe('{"__proto__":{"x":1},"a":2}')
    expect(() => canonicalJson({ a: 1.5 })).toThrowError('"value.a" must be a safe integer')
    expect(() => canonicalJson({ a: 2 ** 60 })).toThrowError('must be a safe integer')
    expect(() => canonicalJson({ a: undefined })).toThrowError('must be JSON')
    expect(() => canonicalJson({ a: 1n })).toThrowError('must be JSON')
    expect(() => canonicalJson(new Date())).toThrowError('must be a plain object')
  })
})
