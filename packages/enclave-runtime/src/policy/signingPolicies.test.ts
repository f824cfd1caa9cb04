import { apiKeyStamper, approveSigningPolicy, bytesToHex, generateApiKey, normalizeSigningPolicyDocument, publicKeyToAddress, type SealedKeyRecord, type SignedSigningPolicy } from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { describe, expect, it } from 'vitest'
import { createMemoryPolicyStore, createSigningPolicies } from './signingPolicies.js'
import type { PolicyStore } from './types.js'

const owner = apiKeyStamper({ privateKey: generateApiKey().privateKey })
const owners = { publicKeys: [owner.publicKey as `0x${string}`], threshold: 1 }

/** A record's identity (what the cache keys on) and signed documents of versions for it. */
function key(keyId: string) {
  const publicKey = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false)
  const record = { keyId, address: publicKeyToAddress(publicKey), owners } as unknown as SealedKeyRecord
  const version = async (v: number): Promise<SignedSigningPolicy> => {
    const document = normalizeSigningPolicyDocument({ keyId, keyPublicKey: bytesToHex(publicKey), version: v, rules: [{ id: `v${v}`, effect: 'allow' }], signers: [] })
    return { document, approvals: [await approveSigningPolicy(owner, document)] }
  }
  return { record, version }
}

describe('createSigningPolicies', () => {
  it('keeps a version floor beyond its cache: an entry pushed out does not let a rolled-back store lower the version', async () => {
    const inner = createMemoryPolicyStore()
    let rolledBack: SignedSigningPolicy | undefined
    const store: PolicyStore = { kind: 'memory', read: async (k, c) => (k === 'victim' && rolledBack) || inner.read(k, c) }
    const policies = createSigningPolicies({ store, maxEntries: 1 })
    const victim = key('victim')
    const v1 = await victim.version(1)
    await inner.write!('victim', await victim.version(2))
    const read = await policies.current(victim.record, owners, undefined)
    expect(read.loaded?.ref.version).toBe(2)
    read.remember()
    // Another key's entry takes the only cache slot…
    const other = key('other')
    ;(await policies.current(other.record, owners, undefined)).remember()
    // …and the store now answers v1 for the victim: refused, not v1.
    rolledBack = v1
    await expect(policies.current(victim.record, owners, undefined, { fresh: true })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' })
  })

  it('caches every read (one store read per key per period), but only a record that unsealed raises the floor', async () => {
    const inner = createMemoryPolicyStore()
    let reads = 0
    let rolledBack: SignedSigningPolicy | undefined
    const store: PolicyStore = { kind: 'memory', read: async (k, c) => (reads++, (k === 'k' && rolledBack) || inner.read(k, c)) }
    const policies = createSigningPolicies({ store, maxEntries: 1 })
    const k = key('k')
    const v1 = await k.version(1)
    await inner.write!('k', await k.version(2))
    // Read, never proven (the caller was refused before unsealing): cached, no floor.
    expect((await policies.current(k.record, owners, undefined)).loaded?.ref.version).toBe(2)
    await policies.current(k.record, owners, undefined)
    expect(reads).toBe(1)
    // Pushed out of the cache, with the store rolled back: without a floor, the store is believed.
    ;(await policies.current(key('other').record, owners, undefined)).remember()
    rolledBack = v1
    expect((await policies.current(k.record, owners, undefined, { fresh: true })).loaded?.ref.version).toBe(1)
  })
})
