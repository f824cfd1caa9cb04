import { describe, expect, test } from 'vitest'
import { parseKmsKeyArn } from '../lib/config/parseKmsKeyArn.js'

const UUID = '1234abcd-12ab-34cd-56ef-1234567890ab'

describe('parseKmsKeyArn', () => {
  test.each([
    [`arn:aws:kms:eu-west-1:111122223333:key/${UUID}`, { partition: 'aws', region: 'eu-west-1', account: '111122223333', keyId: UUID }],
    [`arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/${UUID}`, { partition: 'aws-us-gov', region: 'us-gov-west-1' }],
    [`arn:aws-cn:kms:cn-north-1:111122223333:key/${UUID}`, { partition: 'aws-cn' }],
    [`arn:aws:kms:us-east-1:111122223333:key/mrk-${'0'.repeat(31)}a`, { keyId: `mrk-${'0'.repeat(31)}a` }],
  ])('accepts %s', (arn, parts) => {
    const parsed = parseKmsKeyArn(arn)
    expect(parsed).toEqual({ ok: true, value: expect.objectContaining({ arn, ...parts }) })
  })

  test('an alias is refused, in every spelling', () => {
    for (const alias of ['alias/custody', 'alias/aws/kms', 'arn:aws:kms:eu-west-1:111122223333:alias/custody', 'ARN:AWS:KMS:eu-west-1:111122223333:ALIAS/x']) {
      expect(parseKmsKeyArn(alias)).toMatchInlineSnapshot(`
        {
          "ok": false,
          "rule": "must be a KMS key ARN, not an alias (an alias can be pointed at another key)",
        }
      `)
    }
  })

  test('a bare key id is refused', () => {
    for (const id of [UUID, UUID.toUpperCase(), `mrk-${'ab'.repeat(16)}`]) {
      expect(parseKmsKeyArn(id)).toMatchInlineSnapshot(`
        {
          "ok": false,
          "rule": "must be the full KMS key ARN, not a bare key id (the ARN pins the account and region)",
        }
      `)
    }
  })

  test.each([
    [`arn:aws:kms:eu-west-1:11112222333:key/${UUID}`],
    [`arn:aws:kms::111122223333:key/${UUID}`],
    [`arn:aws:kms:eu-west-1:111122223333:key/${UUID.toUpperCase()}`],
    [`arn:aws:kms:eu-west-1:111122223333:key/${UUID} `],
    [`arn:aws:kms:eu-west-1:111122223333:key/${UUID}/extra`],
    [`arn:aws:s3:eu-west-1:111122223333:key/${UUID}`],
    ['arn:aws:kms:eu-west-1:111122223333:key/not-a-key-id'],
    [''],
    [42],
    [undefined],
    ['x'.repeat(3000)],
  ])('refuses %j', (value) => {
    const parsed = parseKmsKeyArn(value)
    expect(parsed.ok).toBe(false)
    // The rule never echoes the value.
    if (!parsed.ok && typeof value === 'string' && value.length > 0) expect(parsed.rule).not.toContain(value)
  })
})
