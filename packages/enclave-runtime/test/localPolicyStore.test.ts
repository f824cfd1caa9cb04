/**
 * The local runtime keeps signing policies where it keeps keys: files under `<dataDir>/policies` (the file store),
 * in memory without a data directory. Through the real SDK client and `localEnclave()`, across a restart.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, createCustodyClient, generateApiKey, type SignedSigningPolicy } from '@enclave-custody/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const rules = (max: string) => [{ id: 'small', effect: 'allow' as const, when: { value: { lte: max } } }]

describe('createLocalRuntime: the policy store', () => {
  it('with a data directory: <dataDir>/policies/<keyId>.json, read again after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'custody-local-policies-'))
    dirs.push(dataDir)
    const first = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    const { keyId } = await first.importKey({ generate: true, keyId: 'treasury' })
    const set = await first.setSigningPolicy(keyId, { rules: rules('100') })
    expect(await readdir(join(dataDir, 'policies'))).toEqual(['treasury.json'])
    const stored = JSON.parse(await readFile(join(dataDir, 'policies', 'treasury.json'), 'utf8')) as SignedSigningPolicy
    expect(stored.document).toMatchObject({ keyId, version: set.document.version })

    const restarted = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    expect(await restarted.getSigningPolicy(keyId)).toMatchObject({ version: set.document.version, digest: set.digest })
    // What the restarted enclave enforces is what the file says: an edited file no longer verifies, and nothing
    // is signed under it (an unreadable policy is never "no policy").
    await writeFile(join(dataDir, 'policies', 'treasury.json'), JSON.stringify({ ...stored, document: { ...stored.document, rules: rules('100000') } }))
    const edited = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    await expect(
      edited.signEip1559(keyId, { chainId: 1n, nonce: 0n, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', value: 1000n, gas: 21_000n, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }),
    ).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })
  })

  it('without a data directory: in memory (the enclave stores what it accepts, no importer needed)', async () => {
    const client = createCustodyClient({ transport: localEnclave(), stamper })
    const { keyId } = await client.importKey({ generate: true })
    const set = await client.setSigningPolicy(keyId, { rules: rules('5') })
    expect(await client.getSigningPolicy(keyId)).toMatchObject({ version: set.document.version, digest: set.digest })
  })
})
