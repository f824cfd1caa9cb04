import { describe, expect, it } from 'vitest'
import { checkEnclaveServerConfig, type EnclaveServerConfig, enclaveServerOptions, parseConfig } from './config.js'

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'

function configFrom(env: Record<string, string>, argv: string[] = []): EnclaveServerConfig {
  const config = parseConfig(enclaveServerOptions, argv, env)
  if (config === 'help') throw new Error('unexpected help')
  return config
}
const refusal = (env: Record<string, string>, argv: string[] = []) => {
  try {
    checkEnclaveServerConfig(configFrom(env, argv))
  } catch (e) {
    return (e as Error).message
  }
  return 'accepted'
}

describe('checkEnclaveServerConfig (custody-enclave)', () => {
  it('accepts kms sealing with the pinned key ARN in the region, from the environment or a flag', () => {
    expect(checkEnclaveServerConfig(configFrom({ CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: ARN })).kmsKeyArn).toBe(ARN)
    expect(checkEnclaveServerConfig(configFrom({ CUSTODY_REGION: 'eu-west-1' }, ['--kms-key-arn', ARN])).kmsKeyArn).toBe(ARN)
    expect(refusal({ CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: ARN, CUSTODY_KMS_ENDPOINT: 'https://kms.example:4443' })).toBe('accepted')
    expect(refusal({ CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: ARN, CUSTODY_KMS_ENDPOINT: 'http://127.0.0.1:4566', CUSTODY_MODE: 'development' })).toBe('accepted')
  })

  it('refuses kms sealing without the pinned key, with an alias, a bare key id or a key of another region', () => {
    expect([
      refusal({ CUSTODY_REGION: 'eu-west-1' }),
      refusal({ CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: 'alias/custody' }),
      refusal({ CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:111122223333:alias/custody' }),
      refusal({ CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: '1234abcd-12ab-34cd-56ef-1234567890ab' }),
      refusal({ CUSTODY_REGION: 'us-east-1', CUSTODY_KMS_KEY_ID: ARN }),
      refusal({ CUSTODY_KMS_KEY_ID: ARN }),
      // The old variable is not read any more: a stale image configuration fails loudly.
      refusal({ CUSTODY_REGION: 'eu-west-1', KMS_KEY_ID: ARN }),
    ]).toMatchInlineSnapshot(`
      [
        "--sealing kms needs --kms-key-arn / CUSTODY_KMS_KEY_ID (the full ARN of the sealing key)",
        "invalid --kms-key-arn / CUSTODY_KMS_KEY_ID: must be a KMS key ARN, not an alias (an alias can be pointed at another key)",
        "invalid --kms-key-arn / CUSTODY_KMS_KEY_ID: must be a KMS key ARN, not an alias (an alias can be pointed at another key)",
        "invalid --kms-key-arn / CUSTODY_KMS_KEY_ID: must be the full KMS key ARN, not a bare key id (the ARN pins the account and region)",
        "invalid --kms-key-arn / CUSTODY_KMS_KEY_ID: must be a key in us-east-1, the region the runtime calls KMS in",
        "--sealing kms needs --region / CUSTODY_REGION",
        "--sealing kms needs --kms-key-arn / CUSTODY_KMS_KEY_ID (the full ARN of the sealing key)",
      ]
    `)
  })

  it('refuses a plain http KMS endpoint in production mode', () => {
    expect(refusal({ CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: ARN, CUSTODY_KMS_ENDPOINT: 'http://127.0.0.1:4566' })).toMatchInlineSnapshot(`"invalid --kms-endpoint / CUSTODY_KMS_ENDPOINT: must be https in production mode (plain http only with --mode development)"`)
  })

  it('keeps the dev sealing rules', () => {
    expect([refusal({ CUSTODY_SEALING: 'dev', CUSTODY_MODE: 'development' }), refusal({ CUSTODY_SEALING: 'dev', CUSTODY_DATA_DIR: '/tmp/x' })]).toMatchInlineSnapshot(`
      [
        "--sealing dev needs --data-dir / CUSTODY_DATA_DIR",
        "--sealing dev is for --mode development only",
      ]
    `)
    expect(refusal({ CUSTODY_SEALING: 'dev', CUSTODY_DATA_DIR: '/tmp/x', CUSTODY_MODE: 'development' })).toBe('accepted')
  })
})
