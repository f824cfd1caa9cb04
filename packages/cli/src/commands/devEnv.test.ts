import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UsageError } from './cliOptions.js'
import { type DevEnv, readDevEnv, writeDevEnv } from './devEnv.js'

let dataDir: string
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'custody-devenv-'))
})
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true })
})

const env: DevEnv = {
  CUSTODY_URL: 'http://127.0.0.1:8787',
  CUSTODY_AWS_ENDPOINT: 'http://127.0.0.1:4566',
  CUSTODY_REGION: 'eu-west-1',
  CUSTODY_KMS_KEY_ID: 'c0ffee00-0000-4000-8000-000000000001',
  CUSTODY_CHAIN_ID: '31337',
  CUSTODY_PCR0: 'ab'.repeat(48),
  CUSTODY_ATTESTATION_ROOT: '/tmp/my data #1/nsm/root.pem',
  CUSTODY_API_KEY_FILE: '/tmp/my data #1/api-key.json',
  CUSTODY_AUDIT_LOG: '/tmp/my data #1/audit.jsonl',
  CUSTODY_RECEIPTS_FILE: '/tmp/my data #1/receipts.jsonl',
  AWS_ACCESS_KEY_ID: 'AKIAIMPORTER00000001',
  AWS_SECRET_ACCESS_KEY: 'a/b+c==',
}

describe('readDevEnv', () => {
  it('reads back what writeDevEnv wrote, quoted paths with spaces and # included', async () => {
    await writeDevEnv(dataDir, env)
    expect(await readDevEnv(dataDir)).toEqual(env)
  })

  it('parses quotes and comments the way util.parseEnv does', async () => {
    await writeFile(
      join(dataDir, 'dev.env'),
      [
        '# a comment line',
        '',
        'PLAIN=value # an inline comment after an unquoted value',
        "SINGLE='a # b' # a comment after a quoted value",
        'DOUBLE="line1\\nline2"',
        'BACKTICK=`x y`',
        'export EXPORTED=1',
        'SPACED = around ',
        'EMPTY=',
        'BASE64=YWJj==',
        'CRLF=windows\r',
        'not-a-name=dropped',
        '__proto__=own',
      ].join('\n'),
    )
    const read = await readDevEnv(dataDir)
    expect(read).toEqual({
      PLAIN: 'value',
      SINGLE: 'a # b',
      DOUBLE: 'line1\nline2',
      BACKTICK: 'x y',
      EXPORTED: '1',
      SPACED: 'around',
      EMPTY: '',
      BASE64: 'YWJj==',
      CRLF: 'windows',
    })
    expect(Object.hasOwn(read, '__proto__')).toBe(false)
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype)
  })

  it('is a UsageError naming the file when custody dev is not running there', async () => {
    const error = await readDevEnv(join(dataDir, 'missing')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    expect((error as Error).message).toBe(`--dev: ${join(dataDir, 'missing', 'dev.env')} not found; start \`custody dev --data-dir ${join(dataDir, 'missing')}\` first`)
  })
})
