import { describe, expect, it } from 'vitest'
import { aliasRecordId, validateKmsState } from './state.js'

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
const key = (account: string, keyId = KEY_ID) => ({
  keyId,
  arn: `arn:aws:kms:us-east-1:${account}:key/${keyId}`,
  creationDate: 0,
  description: '',
  enabled: true,
  policy: '{}',
  rotationEnabled: false,
  rotationPeriodInDays: 365,
  tags: [],
  material: Buffer.alloc(32).toString('base64'),
})

describe('validateKmsState', () => {
  it('reads a state written before accounts: an alias keyed by name takes its key’s account', () => {
    const state = validateKmsState({
      version: 1,
      keys: { [KEY_ID]: key('111122223333') },
      aliases: { 'alias/custody': { aliasName: 'alias/custody', targetKeyId: KEY_ID, creationDate: 0, lastUpdatedDate: 0 } },
    })
    expect(state.aliases).toEqual({
      [aliasRecordId('111122223333', 'alias/custody')]: { aliasName: 'alias/custody', account: '111122223333', targetKeyId: KEY_ID, creationDate: 0, lastUpdatedDate: 0 },
    })
  })

  it.each([
    ['a key ARN that does not end in its id', { keys: { [KEY_ID]: { ...key('111122223333'), arn: 'arn:aws:kms:us-east-1:111122223333:key/other' } }, aliases: {} }],
    ['a key ARN without an account', { keys: { [KEY_ID]: { ...key('111122223333'), arn: `arn:aws:kms:us-east-1::key/${KEY_ID}` } }, aliases: {} }],
    ['an alias of a missing key without account', { keys: {}, aliases: { 'alias/x': { aliasName: 'alias/x', targetKeyId: KEY_ID } } }],
    ['an alias stored under another account', { keys: {}, aliases: { '444455556666/alias/x': { aliasName: 'alias/x', account: '111122223333', targetKeyId: KEY_ID } } }],
  ])('refuses %s', (_, state) => {
    expect(() => validateKmsState({ version: 1, ...state })).toThrow(/kms\.json has an invalid (key|alias) record/)
  })
})
