/**
 * `--secrets-endpoint` / `CUSTODY_SECRETS_ENDPOINT` of custody-enclave: where the enclave reads signing policies
 * (the account and region come from the pinned KMS key ARN, never from configuration). https only outside
 * development mode, as `--kms-endpoint`.
 */
import { describe, expect, it } from 'vitest'
import { checkEnclaveServerConfig, type EnclaveServerConfig, enclaveServerOptions, helpText, parseConfig } from '../src/config.js'

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const KMS = { CUSTODY_REGION: 'eu-west-1', CUSTODY_KMS_KEY_ID: ARN }

function configFrom(env: Record<string, string>, argv: string[] = []): EnclaveServerConfig {
  const config = parseConfig(enclaveServerOptions, argv, env)
  if (config === 'help') throw new Error('unexpected help')
  return config
}
const outcome = (env: Record<string, string>, argv: string[] = []) => {
  try {
    return checkEnclaveServerConfig(configFrom(env, argv)).secretsEndpoint ?? 'default'
  } catch (e) {
    return (e as Error).message
  }
}

describe('--secrets-endpoint / CUSTODY_SECRETS_ENDPOINT', () => {
  it('defaults to none (the regional endpoint); takes an https URL from the environment or the flag, the flag first', () => {
    expect(outcome(KMS)).toBe('default')
    expect(outcome({ ...KMS, CUSTODY_SECRETS_ENDPOINT: 'https://secretsmanager.example:4443' })).toBe('https://secretsmanager.example:4443')
    expect(outcome({ ...KMS, CUSTODY_SECRETS_ENDPOINT: 'https://env.example' }, ['--secrets-endpoint', 'https://flag.example'])).toBe('https://flag.example')
  })

  it('refuses plain http in production mode, accepts it in development mode; refuses what is not a URL', () => {
    expect(outcome({ ...KMS, CUSTODY_SECRETS_ENDPOINT: 'http://127.0.0.1:4566' })).toMatchInlineSnapshot(
      `"invalid --secrets-endpoint / CUSTODY_SECRETS_ENDPOINT: must be https in production mode (plain http only with --mode development)"`,
    )
    expect(outcome({ ...KMS, CUSTODY_MODE: 'development', CUSTODY_SECRETS_ENDPOINT: 'http://127.0.0.1:4566' })).toBe('http://127.0.0.1:4566')
    expect(outcome({ ...KMS, CUSTODY_SECRETS_ENDPOINT: 'not a url' })).toMatch(/^invalid --secrets-endpoint \/ CUSTODY_SECRETS_ENDPOINT: /)
  })

  it('is listed in --help', () => {
    expect(helpText('custody-enclave', enclaveServerOptions)).toMatch(/--secrets-endpoint\s+Secrets Manager endpoint override .*\(env CUSTODY_SECRETS_ENDPOINT\)/)
  })
})
