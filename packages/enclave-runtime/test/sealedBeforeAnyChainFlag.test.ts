import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { keyEncryptionContext, normalizeKeyPolicy } from '@enclave-custody/sdk'
import { recoverAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RequestHandler } from '../src/handler.js'
import { createStampedRuntime } from './support/runtime.js'
import { newStamper } from './support/stamps.js'

/** Records sealed by the code before the key policy gained `allowAnyChainAuthorization` (see the fixture's README). */
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sealed-before-7702-policy')
let dir: string
let handler: RequestHandler
/** The caller: these records predate owners, so the image names it a legacy owner. */
const stamper = newStamper()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'custody-sealed-v1-'))
  await cp(FIXTURE, dir, { recursive: true })
  handler = (await createStampedRuntime({ dataDir: dir, legacyOwners: [stamper.publicKey] }, stamper)).handler
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const DIGEST = `0x${'ab'.repeat(32)}` as const

describe('records sealed before allowAnyChainAuthorization still unseal', () => {
  for (const keyId of ['raw-digest', 'raw-digest-and-legacy']) {
    it(`${keyId}: its sealed policy hash is unchanged, and it signs what its policy allows`, async () => {
      const record = JSON.parse(await readFile(join(FIXTURE, 'keys', `${keyId}.json`), 'utf8'))
      // The encryption context today's code derives equals the one sealed then.
      expect(keyEncryptionContext(keyId, normalizeKeyPolicy(record.policy))).toEqual(record.encryptionContext)
      const r = (await handler.handle({ v: 1, id: 'd', op: 'sign.digest', params: { keyId, digest: DIGEST } })) as { ok: boolean; result: { signature: `0x${string}` } }
      expect(r).toMatchObject({ ok: true })
      expect(await recoverAddress({ hash: DIGEST, signature: r.result.signature })).toBe(record.address)
    })
  }

  it('default-policy: unseals and signs a transaction; raw digests stay refused', async () => {
    const tx = { chainId: '1', nonce: '0', to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', value: '1', gas: '21000', maxFeePerGas: '2', maxPriorityFeePerGas: '1' }
    expect(await handler.handle({ v: 1, id: 't', op: 'sign.eip1559', params: { keyId: 'default-policy', tx } })).toMatchObject({ ok: true, result: { from: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' } })
    expect(await handler.handle({ v: 1, id: 'd', op: 'sign.digest', params: { keyId: 'default-policy', digest: DIGEST } })).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
  })

  it('signs a replayable legacy transaction only with the key whose sealed policy allows it', async () => {
    const tx = { type: 'legacy', chainId: null, allowReplayable: true, nonce: '0', to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', value: '1', gas: '21000', gasPrice: '2' }
    expect(await handler.handle({ v: 1, id: 'l', op: 'sign.transaction', params: { keyId: 'raw-digest-and-legacy', tx } })).toMatchObject({ ok: true })
    expect(await handler.handle({ v: 1, id: 'l', op: 'sign.transaction', params: { keyId: 'raw-digest', tx } })).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
  })

  it('only the image\'s legacy owners may use them', async () => {
    const { handler: other } = await createStampedRuntime({ dataDir: dir, legacyOwners: [stamper.publicKey] })
    expect(await other.handle({ v: 1, id: 'd', op: 'sign.digest', params: { keyId: 'raw-digest', digest: DIGEST } })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
  })
})
