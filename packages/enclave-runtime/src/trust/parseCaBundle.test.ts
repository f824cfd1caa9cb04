import { generateKeyPairSync } from 'node:crypto'
import { isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { AMAZON_TRUST_SERVICES_ROOTS } from './amazonTrustServicesRoots.js'
import { parseCaBundle } from './parseCaBundle.js'

function refusal(pem: unknown): string {
  try {
    parseCaBundle(pem as string, 'kmsCaBundle')
  } catch (e) {
    expect(isCustodyError(e, 'INVALID_ARGUMENT')).toBe(true)
    return (e as Error).message
  }
  throw new Error('expected a refusal')
}

describe('parseCaBundle', () => {
  it('splits a bundle with comments into its certificates', () => {
    const bundle = `# Amazon roots\n${AMAZON_TRUST_SERVICES_ROOTS.join('\n\n# next\n')}\n`
    expect(parseCaBundle(bundle, 'kmsCaBundle')).toEqual([...AMAZON_TRUST_SERVICES_ROOTS])
    expect(parseCaBundle(AMAZON_TRUST_SERVICES_ROOTS[0]!.replaceAll('\n', '\r\n'), 'kmsCaBundle')).toEqual([AMAZON_TRUST_SERVICES_ROOTS[0]])
  })

  it('refuses an empty bundle, a key, a broken block and anything not PEM', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    expect([
      refusal(''),
      refusal(42),
      refusal(`${AMAZON_TRUST_SERVICES_ROOTS[0]}\n${key}`),
      refusal(AMAZON_TRUST_SERVICES_ROOTS[0]!.replace('\n', '\nAAAA')),
      refusal('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'),
    ]).toMatchInlineSnapshot(`
      [
        ""kmsCaBundle" must hold at least one PEM certificate",
        ""kmsCaBundle" must be PEM text",
        ""kmsCaBundle" must hold only CERTIFICATE blocks (no keys, no malformed blocks)",
        ""kmsCaBundle" certificate 1 is not a valid X.509 certificate",
        ""kmsCaBundle" certificate 1 is not a valid X.509 certificate",
      ]
    `)
  })
})
