import { isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { checkKmsKeyArn } from './checkKmsKeyArn.js'

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'

function message(value: unknown, parameters?: Parameters<typeof checkKmsKeyArn>[1]): string {
  try {
    checkKmsKeyArn(value, parameters)
  } catch (e) {
    expect(isCustodyError(e, 'INVALID_ARGUMENT')).toBe(true)
    return (e as Error).message
  }
  throw new Error('expected a refusal')
}

describe('checkKmsKeyArn', () => {
  it('accepts full key ARNs, of every partition, single- and multi-Region', () => {
    for (const arn of [
      ARN,
      'arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab',
      'arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws-iso-b:kms:us-isob-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    ]) {
      expect(checkKmsKeyArn(arn)).toBe(arn)
    }
    expect(checkKmsKeyArn(ARN, { region: 'us-east-1', field: 'CUSTODY_KMS_KEY_ID' })).toBe(ARN)
  })

  it('refuses aliases: whoever administers an alias can point it at another key', () => {
    for (const alias of ['alias/custody', 'arn:aws:kms:us-east-1:111122223333:alias/custody', 'arn:aws-cn:kms:cn-north-1:111122223333:alias/x']) {
      expect(message(alias)).toMatchInlineSnapshot(`""kmsKeyArn" must be a KMS key ARN, not an alias (an alias can be pointed at another key)"`)
    }
  })

  it('refuses a bare key id: it does not pin the account', () => {
    for (const id of ['1234abcd-12ab-34cd-56ef-1234567890ab', 'mrk-1234abcd12ab34cd56ef1234567890ab', '1234ABCD-12AB-34CD-56EF-1234567890AB']) {
      expect(message(id, { field: 'CUSTODY_KMS_KEY_ID' })).toMatchInlineSnapshot(
        `""CUSTODY_KMS_KEY_ID" must be the full KMS key ARN, not a bare key id (the ARN pins the account and region)"`,
      )
    }
  })

  it('refuses a key of another region than the configured one', () => {
    expect(message(ARN, { region: 'eu-west-1' })).toMatchInlineSnapshot(`""kmsKeyArn" must be a key in eu-west-1, the region the runtime calls KMS in"`)
  })

  it('refuses everything else, without echoing it', () => {
    const huge = `arn:aws:kms:us-east-1:111122223333:key/${'a'.repeat(5000)}`
    const cases: unknown[] = [
      undefined,
      null,
      42,
      '',
      huge,
      `${ARN} `,
      ` ${ARN}`,
      `${ARN}\n`,
      ARN.toUpperCase(),
      ARN.replace('1234abcd', '1234ABCD'),
      ARN.replace(':kms:', ':s3:'),
      ARN.replace('111122223333', '11112222333'),
      ARN.replace('111122223333', '*'),
      ARN.replace('111122223333', ''),
      ARN.replace('us-east-1', ''),
      ARN.replace('us-east-1', '*'),
      ARN.replace('arn:aws:', 'arn:aws*:'),
      ARN.replace('arn:aws:', 'arn:aws-:'),
      ARN.replace(':key/', ':key/key/'),
      `${ARN}/extra`,
      'arn:aws:kms:us-east-1:111122223333:key/*',
      'arn:aws:kms:us-east-1:111122223333:key/mrk-xyz',
      'arn:aws:iam::111122223333:root',
    ]
    for (const value of cases) {
      const text = message(value)
      expect(text, String(value)).toBe('"kmsKeyArn" must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)')
    }
  })

  it('refuses a malformed region to compare with', () => {
    expect(message(ARN, { region: 'US East' })).toMatchInlineSnapshot(`""region" must be an AWS region name such as us-east-1"`)
  })
})
