import { isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { defaultKeyPolicy } from './defaultKeyPolicy.js'
import { parseKeyPolicy } from './parseKeyPolicy.js'
import { PolicyDocumentError } from './PolicyDocumentError.js'

const ok = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }
const doc = (statement: unknown) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] })

describe('parseKeyPolicy', () => {
  it('accepts the default policy and typical enclave statements', () => {
    expect(parseKeyPolicy(defaultKeyPolicy('111122223333')).Id).toBe('key-default-1')
    const enclave = {
      Sid: 'Enclave',
      Effect: 'Allow',
      Principal: { AWS: ['arn:aws:iam::111122223333:role/enclave', '111122223333'] },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': ['aa', 'bb'], 'kms:RecipientAttestation:PCR8': 'cc' } },
    }
    expect(parseKeyPolicy(doc(enclave)).Statement).toHaveLength(1)
    expect(parseKeyPolicy(JSON.stringify({ Statement: ok })).Statement).toEqual(ok)
  })

  const malformed: [string, string][] = [
    ['not JSON', '{'],
    ['an array', '[]'],
    ['a string', '"x"'],
    ['unknown top-level element', JSON.stringify({ Statement: [ok], Extra: 1 })],
    ['bad Version', JSON.stringify({ Version: '2020-01-01', Statement: [ok] })],
    ['no statements', JSON.stringify({ Statement: [] })],
    ['missing Effect', doc({ ...ok, Effect: undefined })],
    ['lowercase effect', doc({ ...ok, Effect: 'allow' })],
    ['no principal', doc({ ...ok, Principal: undefined })],
    ['Principal and NotPrincipal', doc({ ...ok, NotPrincipal: { AWS: '*' } })],
    ['invalid principal ARN', doc({ ...ok, Principal: { AWS: 'arn:aws:iam::123:user/x' } })],
    ['wildcard principal ARN', doc({ ...ok, Principal: { AWS: 'arn:aws:iam::111122223333:user/*' } })],
    ['unknown principal type', doc({ ...ok, Principal: { Bogus: 'x' } })],
    ['no action', doc({ ...ok, Action: undefined })],
    ['empty action list', doc({ ...ok, Action: [] })],
    ['malformed action', doc({ ...ok, Action: 'Decrypt' })],
    ['no resource', doc({ ...ok, Resource: undefined })],
    ['unknown statement element', doc({ ...ok, Sids: 'x' })],
    ['unsupported operator', doc({ ...ok, Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } } })],
    ['Null with a non-boolean', doc({ ...ok, Condition: { Null: { 'kms:EncryptionContext:k': 'maybe' } } })],
    ['numeric with a non-number', doc({ ...ok, Condition: { NumericEquals: { 'x:n': 'five' } } })],
    ['condition value object', doc({ ...ok, Condition: { StringEquals: { 'kms:CallerAccount': { a: 1 } } } })],
    ['empty condition value list', doc({ ...ok, Condition: { StringEquals: { 'kms:CallerAccount': [] } } })],
  ]

  it.each(malformed)('rejects %s with PolicyDocumentError (INVALID_ARGUMENT)', (_, text) => {
    let caught: unknown
    try {
      parseKeyPolicy(text)
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(PolicyDocumentError)
    expect(isCustodyError(caught, 'INVALID_ARGUMENT')).toBe(true)
  })

  it('names the offending element', () => {
    expect(() => parseKeyPolicy(doc({ ...ok, Principal: { AWS: 'nobody' } }))).toThrowErrorMatchingInlineSnapshot(
      `[PolicyDocumentError: invalid key policy: Statement[0].Principal: Policy contains a statement with one or more invalid principals ("nobody").]`,
    )
  })
})
