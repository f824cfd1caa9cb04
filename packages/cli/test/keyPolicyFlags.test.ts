import { localEnclave } from '@enclave-custody/enclave-runtime'
import { apiKeyStamper, createCustodyClient, generateApiKey, isCustodyError } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { generateKey } from '../src/commands/generateKey.js'
import { importKey } from '../src/commands/importKey.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo } from './helpers.js'

const DIGEST = `0x${'ab'.repeat(32)}` as const
// One caller: one API key for every client of this file.
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const env = { KEY: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' }

describe('key policy flags of generate-key and import-key', () => {
  it('--allow-raw-digest widens the sealed policy; without it a digest signature is POLICY_DENIED', async () => {
    const client = createCustodyClient({ transport: localEnclave(), stamper })
    expect((await generateKey({ keyId: 'plain' }, { client })).policy).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
    expect((await generateKey({ keyId: 'digest', allowRawDigest: true }, { client })).policy).toEqual({ allowRawDigest: true, allowReplayableLegacy: false, allowAnyChainAuthorization: false, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
    expect((await client.getKey('digest')).policy.allowRawDigest).toBe(true)
    expect(isCustodyError(await client.signDigest('plain', DIGEST).catch((e: unknown) => e), 'POLICY_DENIED')).toBe(true)
    expect((await client.signDigest('digest', DIGEST)).signature).toMatch(/^0x[0-9a-f]{130}$/)
  })

  it('import-key takes the same flags', async () => {
    const client = createCustodyClient({ transport: localEnclave(), stamper })
    const key = await importKey({ envName: 'KEY', keyId: 'imported', allowRawDigest: true }, { client, io: captureIo({ env }) })
    expect(key.address).toBe('0x70997970C51812dc3A010C7d01b50e0d17dc79C8')
    expect((await client.signDigest('imported', DIGEST)).signature).toMatch(/^0x[0-9a-f]{130}$/)
  })

  it('lists the flags in --help', async () => {
    const io = captureIo()
    expect(await runCli(['generate-key', '--help'], io)).toBe(0)
    expect(io.out()).toContain('--allow-raw-digest')
    expect(io.out()).toContain('--allow-replayable-legacy')
    expect(io.out()).toContain('--allow-any-chain-authorization')
  })

  it('--allow-any-chain-authorization seals the flag that chainId-0 EIP-7702 authorizations need', async () => {
    const client = createCustodyClient({ transport: localEnclave(), stamper })
    const anyChain = { chainId: 0, address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2', nonce: 0, allowAnyChain: true }
    await generateKey({ keyId: 'plain' }, { client })
    const wide = await generateKey({ keyId: 'any-chain', allowAnyChainAuthorization: true }, { client })
    expect(wide.policy.allowAnyChainAuthorization).toBe(true)
    expect(isCustodyError(await client.signAuthorization('plain', anyChain).catch((e: unknown) => e), 'POLICY_DENIED')).toBe(true)
    expect((await client.signAuthorization('any-chain', anyChain)).chainId).toBe(0n)
  })
})
