/**
 * `key.list` carries at most MAX_LISTED_RECORDS keys. The cap counts the caller's own keys: another owner's keys in
 * the same store (100 and more of them), or keys another API key created naming the caller as owner, never push a
 * caller's keys out of its list.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, createCustodyClient, generateApiKey } from '@enclave-custody/sdk'
import { MAX_LIST_CREATORS, MAX_LISTED_RECORDS } from '@enclave-custody/sdk/protocol'
import { createLocalRuntime, type LocalRuntime } from '@enclave-custody/enclave-runtime'
import { afterAll, beforeAll, expect, it } from 'vitest'

let dir: string
let runtime: LocalRuntime
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'list-keys-owners-'))
  runtime = await createLocalRuntime({ dataDir: dir })
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const clientOf = (privateKey = generateApiKey().privateKey, trustedCreators?: string[]) =>
  createCustodyClient({
    stamper: apiKeyStamper({ privateKey }),
    transport: { name: 'in-process', attestation: runtime.attestation, request: (m) => runtime.handler.handle(m) },
    ...(trustedCreators ? { trustedCreators } : {}),
  })

it("another owner's keys do not push a caller's keys out of its list", async () => {
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

it("keys another API key created naming the caller as owner do not push the caller's own keys out of its list", async () => {
  // A co-tenant creates more than a list holds, all owned by the victim, with key ids that sort first. The victim's
  // SDK names the creators it trusts; the enclave leaves the others' keys out before its cap.
  const victimKey = generateApiKey()
  const victim = clientOf(victimKey.privateKey)
  const malloryKey = generateApiKey()
  const mallory = clientOf(malloryKey.privateKey)
  const own = await victim.importKey({ generate: true, keyId: 'z-victim-1' })
  for (let i = 0; i < MAX_LISTED_RECORDS + 5; i++) {
    await mallory.importKey({ generate: true, keyId: `b-planted-${String(i).padStart(4, '0')}`, owners: { publicKeys: [victimKey.publicKey] } })
  }
  expect((await victim.listKeys()).map((k) => k.keyId)).toEqual([own.keyId])
  // A client that trusts the co-tenant gets its keys too (up to the cap), its own first in key order is not promised.
  const trusting = await clientOf(victimKey.privateKey, [malloryKey.publicKey]).listKeys()
  expect(trusting).toHaveLength(MAX_LISTED_RECORDS)
  expect(trusting.every((k) => k.keyId.startsWith('b-planted-') || k.keyId === own.keyId)).toBe(true)
}, 60_000)

it('refuses more trusted creators than a list request may name', () => {
  const many = Array.from({ length: MAX_LIST_CREATORS }, () => generateApiKey().publicKey)
  expect(() => clientOf(undefined, many)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ field: 'trustedCreators' }) }))
  expect(() => clientOf(undefined, many.slice(1))).not.toThrow()
})
