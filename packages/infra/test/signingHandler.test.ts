import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { Transaction, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { deriveApiKey } from '../lambda/deriveApiKey.js'
import { createHandler, createHandlerFromEnvironment, type SecretReader, type SigningLogEntry, type SigningResponse } from '../lambda/handler.js'

// The Lambda handler as deployed (`createHandlerFromEnvironment`) against the local stack: local KMS +
// Secrets Manager, the attested runtime with software attestation, the parent proxy. Its client stamps every
// request with the API key derived from its secret and attests the enclave against CUSTODY_PCR0 (the local
// stack's software NSM root stands in for the AWS Nitro root). set_key seals through the importer (KMS
// Encrypt), the others go through the proxy to the enclave, exactly as in AWS. Only GetSecretValue is a
// stand-in: it answers the two secrets the stack creates, and records what the handler asks for.

/** anvil's first development key: public knowledge, never funded outside a local chain. */
const ETH_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const ADDRESS = new Wallet(ETH_KEY).address
const TO = '0xa5D3241A1591061F2a4bB69CA0215F66520E67cf'

const TOKEN_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:EnclaveCustody-FleetProxyAuthToken-AbCdEf'
const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:EnclaveCustody-SigningApiKey-GhIjKl'
/** What CloudFormation's GenerateSecretString makes (64 characters, no punctuation), and a bearer token. */
const API_KEY_SECRET = randomBytes(48).toString('base64url').replace(/[-_]/g, 'x')
const TOKEN = randomBytes(48).toString('base64url')

let dataDir: string
let stack: DevStack
let handler: (event: unknown) => Promise<SigningResponse>
const logs: SigningLogEntry[] = []
/** SecretIds the handler read. */
const reads: string[] = []

/** GetSecretValue of the stack's two secrets (`overrides` replaces a value), recording each SecretId. */
function secretsOf(overrides: Record<string, string> = {}): SecretReader {
  const values: Record<string, string> = { [TOKEN_ARN]: TOKEN, [API_KEY_ARN]: API_KEY_SECRET, ...overrides }
  return {
    async send(command) {
      const id = command.input.SecretId!
      reads.push(id)
      if (!(id in values)) throw Object.assign(new Error(`Secrets Manager can't find the specified secret.`), { name: 'ResourceNotFoundException' })
      return { SecretString: values[id] }
    },
  }
}

/** The function's environment as the stack sets it, for the local stack. */
const environment = (overrides: Record<string, string | undefined> = {}) => ({
  CUSTODY_URL: stack.proxyUrl,
  CUSTODY_PCR0: stack.pcr0,
  CUSTODY_ALLOW_DEBUG_ENCLAVE: 'false',
  CUSTODY_AUTH_TOKEN_SECRET_ARN: TOKEN_ARN,
  CUSTODY_API_KEY_SECRET_ARN: API_KEY_ARN,
  CUSTODY_KEY_ID: 'lambda-default',
  ...overrides,
})

/** The deployed wiring, with the local stack's importer and attestation root. */
const deployed = (env = environment(), secretsManager = secretsOf(), log: (e: SigningLogEntry) => void = (e) => logs.push(e)) =>
  createHandlerFromEnvironment({ env, secretsManager, importer: stack.importer, roots: stack.attestation.roots!, log })

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'custody-lambda-'))
  stack = await startDevStack({ dataDir, anvil: false })
  handler = await deployed()
})
afterAll(async () => {
  await stack?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

/** The sample's sign_transaction payload (Sepolia), with `patch` applied to transaction_payload. */
const signPayload = (patch: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
  operation: 'sign_transaction',
  transaction_payload: {
    value: 0.01,
    to: TO,
    nonce: 0,
    type: 2,
    chainId: 11155111,
    gas: 100000,
    maxFeePerGas: 100000000000,
    maxPriorityFeePerGas: 3000000000,
    ...patch,
  },
  ...top,
})

describe('the sample payloads', () => {
  test('set_key seals the key (KMS Encrypt, Secrets Manager record) and returns its address', async () => {
    expect(await handler({ operation: 'set_key', eth_key: ETH_KEY })).toEqual({ statusCode: 200, body: { key_id: 'lambda-default', address: ADDRESS } })
    expect(await handler({ operation: 'set_key', eth_key: ETH_KEY.slice(2), key_id: 'second' })).toEqual({ statusCode: 200, body: { key_id: 'second', address: ADDRESS } })
  })

  test('generate_key: the enclave makes the key from a KMS data key; the record is stored; it signs', async () => {
    const generated = await handler({ operation: 'generate_key', key_id: 'generated' })
    expect(generated.statusCode).toBe(200)
    const { address } = generated.body as Record<string, string>
    expect(address).toMatch(/^0x[0-9a-fA-F]{40}$/)
    expect(await handler({ operation: 'get_address', key_id: 'generated' })).toEqual({ statusCode: 200, body: { key_id: 'generated', address } })
    const signed = await handler(signPayload({}, { key_id: 'generated' }))
    expect(Transaction.from((signed.body as Record<string, string>).transaction_signed!).from).toBe(address)
    expect((await handler({ operation: 'generate_key', key_id: 'generated' })).statusCode).toBe(409)
  })

  test('get_address through the proxy and the enclave', async () => {
    expect(await handler({ operation: 'get_address' })).toEqual({ statusCode: 200, body: { key_id: 'lambda-default', address: ADDRESS } })
  })

  test.each([
    ['the string "0.01"', '0.01'],
    ['the number 0.01', 0.01],
  ])('sign_transaction with value %s: a type-2 transaction for exactly 0.01 ether, signed by the key', async (_name, value) => {
    const response = await handler(signPayload({ value }))
    expect(response.statusCode).toBe(200)
    const body = response.body as Record<string, string>
    const tx = Transaction.from(body.transaction_signed!)
    expect(tx.type).toBe(2)
    expect(tx.value).toBe(10n ** 16n)
    expect(tx.to).toBe(TO)
    expect(tx.nonce).toBe(0)
    expect(tx.chainId).toBe(11155111n)
    expect(tx.gasLimit).toBe(100000n)
    expect(tx.maxFeePerGas).toBe(100000000000n)
    expect(tx.maxPriorityFeePerGas).toBe(3000000000n)
    expect(tx.from).toBe(ADDRESS)
    expect(tx.hash).toBe(body.transaction_hash)
    expect(body).toMatchObject({ key_id: 'lambda-default', address: ADDRESS })
  })

  test('quantities as decimal strings, type as "2", data and key_id', async () => {
    const response = await handler(
      signPayload({ value: '1.5', nonce: '7', type: '2', chainId: '11155111', gas: '60000', maxFeePerGas: '2000000000', maxPriorityFeePerGas: '1000000000', data: '0xdeadbeef' }, { key_id: 'second' }),
    )
    expect(response.statusCode).toBe(200)
    const tx = Transaction.from((response.body as Record<string, string>).transaction_signed!)
    expect([tx.value, tx.nonce, tx.gasLimit, tx.data, tx.from]).toEqual([15n * 10n ** 17n, 7, 60000n, '0xdeadbeef', ADDRESS])
  })
})

describe('bad payloads: a non-200 status and { code, message }', () => {
  test.each([
    ['value 1e-7 (number)', signPayload({ value: 1e-7 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.value" is the number 1e-7, written with an exponent/],
    ['value 0.1 + 0.2 (number)', signPayload({ value: 0.1 + 0.2 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.value" is the number 0\.30000000000000004/],
    ['value "1e-7" (string)', signPayload({ value: '1e-7' }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.value" must be a non-negative decimal/],
    ['value with 19 decimals', signPayload({ value: '0.0000000000000000001' }), 400, 'INVALID_ARGUMENT', /at most 18 decimals/],
    ['negative value', signPayload({ value: -1 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.value" must be a finite, non-negative amount/],
    ['missing gas', signPayload({ gas: undefined }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.gas" is required/],
    ['missing value', signPayload({ value: undefined }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.value" is required/],
    ['missing transaction_payload', { operation: 'sign_transaction' }, 400, 'INVALID_ARGUMENT', /"transaction_payload" is required/],
    ['type 0', signPayload({ type: 0 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.type" must be 2/],
    ['type 1', signPayload({ type: 1 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.type" must be 2/],
    ['gas as a float', signPayload({ gas: 21000.5 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.gas" must be an integer, not a floating-point number/],
    ['gas as text', signPayload({ gas: 'abc' }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.gas" must be a decimal integer string/],
    ['nonce negative', signPayload({ nonce: -1 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.nonce" must not be negative/],
    ['chainId beyond 2^53', signPayload({ chainId: 2 ** 60 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.chainId" is above Number\.MAX_SAFE_INTEGER/],
    ['to as a number', signPayload({ to: 123 }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.to" must be a 0x-prefixed address \(got number\)/],
    ['to malformed', signPayload({ to: '0x1234' }), 400, 'INVALID_ARGUMENT', /"transaction_payload\.to" must be a 0x-prefixed 20-byte address/],
    ['priority fee above max fee', signPayload({ maxPriorityFeePerGas: 200000000000 }), 400, 'INVALID_ARGUMENT', /maxPriorityFeePerGas/],
    ['unknown transaction field', signPayload({ gasPrice: 1 }), 400, 'INVALID_ARGUMENT', /"transaction_payload" has unknown field "gasPrice"/],
    ['transaction_payload not an object', { operation: 'sign_transaction', transaction_payload: '0x02' }, 400, 'INVALID_ARGUMENT', /"transaction_payload" must be a JSON object \(got string\)/],
    ['unknown operation', { operation: 'sign_message' }, 404, 'UNKNOWN_OPERATION', /unknown operation "sign_message"/],
    ['operation missing', {}, 400, 'INVALID_ARGUMENT', /"operation" must be one of set_key, generate_key, get_address, sign_transaction \(got undefined\)/],
    ['generate_key with eth_key', { operation: 'generate_key', eth_key: ETH_KEY }, 400, 'INVALID_ARGUMENT', /"eth_key" is not allowed in generate_key/],
    ['operation not a string', { operation: 7 }, 400, 'INVALID_ARGUMENT', /"operation" must be one of/],
    ['event not an object', 'sign_transaction', 400, 'INVALID_ARGUMENT', /"event" must be a JSON object \(got string\)/],
    ['event null', null, 400, 'INVALID_ARGUMENT', /"event" must be a JSON object \(got null\)/],
    ['unknown top-level field', { operation: 'get_address', keyId: 'x' }, 400, 'INVALID_ARGUMENT', /"event" has unknown field "keyId"/],
    ['set_key without eth_key', { operation: 'set_key' }, 400, 'INVALID_ARGUMENT', /"eth_key" is required/],
    ['set_key with a short eth_key', { operation: 'set_key', eth_key: '0x1234' }, 400, 'INVALID_ARGUMENT', /"eth_key"/],
    ['set_key with a number', { operation: 'set_key', eth_key: 1234 }, 400, 'INVALID_ARGUMENT', /"eth_key"/],
    ['set_key with a zero key', { operation: 'set_key', eth_key: `0x${'0'.repeat(64)}` }, 400, 'INVALID_ARGUMENT', /"eth_key"/],
    ['set_key with a transaction', { operation: 'set_key', eth_key: ETH_KEY, transaction_payload: {} }, 400, 'INVALID_ARGUMENT', /"transaction_payload" is not allowed in set_key/],
    ['bad key_id', { operation: 'get_address', key_id: '../etc' }, 400, 'INVALID_ARGUMENT', /"key_id" must be 1-64 characters/],
    // The proxy finds no record and forwards the request without one: the enclave says KEY_NOT_FOUND, signed.
    ['unknown key', { operation: 'get_address', key_id: 'nobody' }, 404, 'KEY_NOT_FOUND', /key "nobody" not found/],
    ['signing with an unknown key', signPayload({}, { key_id: 'nobody' }), 404, 'KEY_NOT_FOUND', /key "nobody" not found/],
    ['set_key on an existing key_id', { operation: 'set_key', eth_key: ETH_KEY }, 409, 'KEY_EXISTS', /key "lambda-default" already exists/],
  ])('%s', async (_name, event, statusCode, code, message) => {
    const response = await handler(event)
    expect(response.statusCode).toBe(statusCode)
    expect(Object.keys(response.body).sort()).toEqual(['code', 'message'])
    expect(response.body).toMatchObject({ code })
    expect((response.body as { message: string }).message).toMatch(message)
  })

  test('messages for the float cases', async () => {
    expect((await handler(signPayload({ value: 0.1 + 0.2 }))).body).toMatchInlineSnapshot(`
      {
        "code": "INVALID_ARGUMENT",
        "message": ""transaction_payload.value" is the number 0.30000000000000004, with more digits than a floating-point number holds exactly (likely arithmetic noise); send the amount as a decimal string",
      }
    `)
    expect((await handler(signPayload({ value: 1e-7 }))).body).toMatchInlineSnapshot(`
      {
        "code": "INVALID_ARGUMENT",
        "message": ""transaction_payload.value" is the number 1e-7, written with an exponent; send the amount as a decimal string such as "0.01"",
      }
    `)
  })

  test('an unexpected failure is a generic 500 (the foreign message is not echoed)', async () => {
    const broken = createHandler({
      custody: { getKey: async () => { throw new Error('socket hang up at 10.0.0.7 with secret xyz') } } as never,
      keyId: 'k',
      log: () => {},
    })
    expect(await broken({ operation: 'get_address' })).toEqual({ statusCode: 500, body: { code: 'INTERNAL', message: 'internal error' } })
  })

  test('neither the private key nor the API key (its secret, the derived key) reaches the logs', () => {
    const text = JSON.stringify(logs)
    expect(logs.length).toBeGreaterThan(10)
    expect(text).not.toContain(ETH_KEY.slice(2))
    expect(text.toLowerCase()).not.toContain(ETH_KEY.slice(2, 30))
    expect(text).not.toContain(API_KEY_SECRET.slice(0, 16))
    expect(text.toLowerCase()).not.toContain(deriveApiKey(API_KEY_SECRET).slice(2, 30))
  })
})

describe('the deployed wiring: stamped requests, answers from an attested enclave only', () => {
  test('reads its two secrets, the bearer token and the API key, and nothing else', () => {
    expect([...new Set(reads)].sort()).toEqual([API_KEY_ARN, TOKEN_ARN].sort())
  })

  test('the same secret is the same API key on every cold start; another secret is another caller, refused by the enclave', async () => {
    // The keys set_key and generate_key made are owned by the API key derived from the secret.
    const coldStart = await deployed()
    expect(await coldStart({ operation: 'get_address' })).toEqual({ statusCode: 200, body: { key_id: 'lambda-default', address: ADDRESS } })
    const stranger = await deployed(environment(), secretsOf({ [API_KEY_ARN]: randomBytes(48).toString('base64url') }), () => {})
    const refused = await stranger({ operation: 'get_address' })
    expect([refused.statusCode, refused.body.code]).toEqual([403, 'FORBIDDEN'])
  })

  test('an enclave whose PCR0 is not in CUSTODY_PCR0 is refused before anything is signed; during a rotation either is accepted', async () => {
    const other = 'ab'.repeat(48)
    const refused = await deployed(environment({ CUSTODY_PCR0: other }))
    const response = await refused(signPayload())
    expect(response.statusCode).toBe(502)
    expect(response.body).toMatchObject({ code: 'ATTESTATION_FAILED' })
    expect((response.body as { message: string }).message).toMatch(/^attestation failed: PCR0 [0-9a-f]{16}… is not in the allowlist$/)
    const rotating = await deployed(environment({ CUSTODY_PCR0: `${other}, ${stack.pcr0}` }))
    expect(await rotating({ operation: 'get_address' })).toEqual({ statusCode: 200, body: { key_id: 'lambda-default', address: ADDRESS } })
  })

  test('under the default root (AWS Nitro) the local stack\'s software attestation is refused', async () => {
    const awsRoot = await createHandlerFromEnvironment({ env: environment(), secretsManager: secretsOf(), importer: stack.importer, log: () => {} })
    const response = await awsRoot({ operation: 'get_address' })
    expect([response.statusCode, response.body.code]).toEqual([502, 'ATTESTATION_FAILED'])
  })

  test.each([
    ['CUSTODY_PCR0 missing', { CUSTODY_PCR0: undefined }, {}, 'CUSTODY_PCR0 is not set', false],
    ['CUSTODY_PCR0 malformed', { CUSTODY_PCR0: 'abc' }, {}, 'CUSTODY_PCR0 is not a valid PCR0 allowlist ("attestation.pcr0[0]" must be 48 bytes of hex)', false],
    [
      'CUSTODY_PCR0 all zeros without CUSTODY_ALLOW_DEBUG_ENCLAVE',
      { CUSTODY_PCR0: '0'.repeat(96) },
      {},
      'CUSTODY_PCR0 is not a valid PCR0 allowlist ("attestation.pcr0[0]" is the all-zero PCR0 of a debug-mode enclave; allowed only with allowDebugEnclave)',
      false,
    ],
    ['CUSTODY_API_KEY_SECRET_ARN missing', { CUSTODY_API_KEY_SECRET_ARN: undefined }, {}, 'CUSTODY_API_KEY_SECRET_ARN is not set', false],
    ['the API key secret empty', {}, { [API_KEY_ARN]: ' ' }, 'the API key secret is empty', true],
    ['the API key secret too short to be one', {}, { [API_KEY_ARN]: API_KEY_SECRET.slice(0, 20) }, 'the API key secret must be a string of at least 32 characters', true],
  ])('%s: the function is not configured, and says why without quoting a secret', async (_name, env, secrets, message, readsSecrets) => {
    const before = reads.length
    const error = await deployed(environment(env), secretsOf(secrets)).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(error?.message).toBe(message)
    expect(error?.message).not.toContain(API_KEY_SECRET.slice(0, 8))
    expect(reads.length > before).toBe(readsSecrets)
  })
})

test('createHandler refuses an invalid default keyId', () => {
  expect(() => createHandler({ custody: {} as never, keyId: '../x' })).toThrow(/keyId is not a valid key id/)
})
