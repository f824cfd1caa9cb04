/**
 * `key.list` carries at most MAX_LISTED_RECORDS keys. The cap counts the caller's own keys: another owner's keys in
 * the same store (100 and more of them) never push a caller's keys out of its list.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, createCustodyClient, generateApiKey } from '@enclave-custody/sdk'
import { MAX_LISTED_RECORDS } from '@enclave-custody/sdk/protocol'
import { createLocalRuntime } from '@enclave-custody/enclave-runtime'
import { afterAll, expect, it } from 'vitest'

let dir: string | undefined
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

it("another owner's keys do not push a caller's keys out of its list", async () => {
  dir = await mkdtemp(join(tmpdir(), 'list-keys-owners-'))
  const runtime = await createLocalRuntime({ dataDir: dir })
  const clientOf = () =>
    createCustodyClient({
      stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }),
      transport: { name: 'in-process', attestation: runtime.attestation, request: (m) => runtime.handler.handle(m) },
    })
  const crowd = clientOf()
  const late = clientOf()
  // Key ids sort the crowd's keys first, as a directory listing would.
  for (let i = 0; i < MAX_LISTED_RECORDS + 10; i++) await crowd.importKey({ generate: true, keyId: `a-${String(i).padStart(4, '0')}` })
  const own = [await late.importKey({ generate: true, keyId: 'z-late-1' }), await late.importKey({ generate: true, keyId: 'z-late-2' })]
  expect((await late.listKeys()).map((k) => k.keyId)).toEqual(own.map((k) => k.keyId))
  // The crowd's own list is capped at MAX_LISTED_RECORDS, and holds none of the other owner's keys.
  const crowdKeys = (await crowd.listKeys()).map((k) => k.keyId)
  expect(crowdKeys).toHaveLength(MAX_LISTED_RECORDS)
  expect(crowdKeys.every((k) => k.startsWith('a-'))).toBe(true)
}, 60_000)
