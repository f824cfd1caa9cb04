import { isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { policyStoreLocationOf } from './policyStoreLocationOf.js'

describe('policyStoreLocationOf', () => {
  it('is the partition, region and account of the pinned key', () => {
    expect(policyStoreLocationOf('arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')).toEqual({ partition: 'aws', region: 'eu-west-1', account: '111122223333' })
    expect(policyStoreLocationOf(`arn:aws-us-gov:kms:us-gov-west-1:999988887777:key/mrk-${'0f'.repeat(16)}`)).toEqual({ partition: 'aws-us-gov', region: 'us-gov-west-1', account: '999988887777' })
  })

  it('refuses what is not a key ARN (an alias could point anywhere; a bare key id names no account)', () => {
    for (const value of ['alias/custody', 'arn:aws:kms:eu-west-1:111122223333:alias/custody', '1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:eu-west-1::key/1234abcd-12ab-34cd-56ef-1234567890ab', '', undefined]) {
      let error: unknown
      try {
        policyStoreLocationOf(value as string)
      } catch (e) {
        error = e
      }
      expect([value, isCustodyError(error, 'INVALID_ARGUMENT') && error.details?.field]).toEqual([value, 'kmsKeyArn'])
    }
  })
})
