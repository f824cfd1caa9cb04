import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { DEFAULT_POLICY_SECRET_PREFIX, signingPolicySecretName } from './signingPolicySecretName.js'

/** What Secrets Manager takes for a complete ARN's name: one ending in "-" and six characters (its random suffix). */
const LOOKS_SUFFIXED = /-[A-Za-z0-9]{6}$/

describe('signingPolicySecretName', () => {
  it('is <prefix><keyId>/policy', () => {
    expect(DEFAULT_POLICY_SECRET_PREFIX).toBe('enclave-custody/policies/')
    expect(signingPolicySecretName('treasury')).toBe('enclave-custody/policies/treasury/policy')
    expect(signingPolicySecretName('pay-eu0001')).toBe('enclave-custody/policies/pay-eu0001/policy')
    expect(signingPolicySecretName('hot-wallet', 'custody-test/p/')).toBe('custody-test/p/hot-wallet/policy')
  })

  it('never ends like a complete ARN, even for keyIds that do, and no keyId names another key’s secret', () => {
    const keyIds = ['hot-wallet', 'pay-eu0001', 'a-AbCdEf', 'treasury-1xab12', 'treasury-1xab12-Zz09Aa', 'x', 'A.b_c-1']
    const bare = (keyId: string) => `enclave-custody/policies/${keyId}`
    // Control: as bare `<prefix><keyId>` most of these end like a complete ARN.
    expect(keyIds.filter((k) => LOOKS_SUFFIXED.test(bare(k)))).toEqual(['hot-wallet', 'pay-eu0001', 'a-AbCdEf', 'treasury-1xab12', 'treasury-1xab12-Zz09Aa'])
    expect(keyIds.filter((k) => LOOKS_SUFFIXED.test(signingPolicySecretName(k)))).toEqual([])
    // A name that is another key's name with "-" and six characters after it spells that secret's complete ARN.
    const collisions = (of: (keyId: string) => string) =>
      keyIds.flatMap((a) => keyIds.filter((b) => a !== b && of(a).length === of(b).length + 7 && of(a).startsWith(of(b)) && LOOKS_SUFFIXED.test(of(a))).map((b) => [a, b]))
    expect(collisions(bare)).toEqual([['treasury-1xab12-Zz09Aa', 'treasury-1xab12']])
    expect(collisions((k) => signingPolicySecretName(k))).toEqual([])
  })

  it('refuses a keyId or prefix that is not one (naming the field)', () => {
    const cases: [unknown, unknown, string][] = [
      ['a/b', undefined, 'keyId'],
      ['../keys/treasury', undefined, 'keyId'],
      ['', undefined, 'keyId'],
      ['x'.repeat(65), undefined, 'keyId'],
      ['ab'.repeat(16), undefined, 'keyId'],
      [7, undefined, 'keyId'],
      ['treasury', 'enclave-custody/policies', 'prefix'],
      ['treasury', 'enclave custody/', 'prefix'],
      ['treasury', '', 'prefix'],
      ['treasury', `${'p'.repeat(201)}/`, 'prefix'],
      ['treasury', null, 'prefix'],
    ]
    for (const [keyId, prefix, field] of cases) {
      let error: unknown
      try {
        signingPolicySecretName(keyId as string, prefix as string)
      } catch (e) {
        error = e
      }
      expect([keyId, prefix, isCustodyError(error, 'INVALID_ARGUMENT') && error.details?.field]).toEqual([keyId, prefix, field])
    }
  })
})
