import {
  type Hex,
  hexToBytes,
  IntegrityError,
  InvalidArgumentError,
  isCustodyError,
  type Owners,
  publicKeyToAddress,
  type SealedKeyRecord,
  type SignedSigningPolicy,
  type SigningPolicyRef,
  signingPolicyDigest,
  verifySignedSigningPolicy,
} from '@enclave-custody/sdk'
import { jsonDigest } from '@enclave-custody/sdk/protocol'
import type { UnsealContext } from '../keys/types.js'
import { type CompiledSigningPolicy, compileSigningPolicy } from './compileSigningPolicy.js'
import type { PolicyStore } from './types.js'

/** A verified signing policy, compiled once. */
export type LoadedPolicy = { signed: SignedSigningPolicy; compiled: CompiledSigningPolicy; ref: SigningPolicyRef }

/** How long a policy read from the store serves before the enclave reads the store again. */
export const POLICY_REFRESH_MS = 30_000

export type SigningPolicies = {
  /**
   * The policy in force for `record` (undefined: none set): from memory while fresh, else read from the store
   * and verified against `owners`. Never lower than the highest version this boot has seen, whatever the store
   * says; a store that cannot be read, or holds a document that does not verify, fails the request (an
   * unreadable policy never reads as "no policy").
   */
  current(record: SealedKeyRecord, owners: Owners, context: UnsealContext | undefined, options?: { fresh?: boolean }): Promise<LoadedPolicy | undefined>
  /** Check a signed document for `record`: canonical, approved by `owners` to threshold, naming this key. */
  verify(record: SealedKeyRecord, owners: Owners, signed: unknown, field: string): LoadedPolicy
  /** Make `loaded` the policy in force for `record` (after `policy.set` stored it). */
  accept(record: SealedKeyRecord, owners: Owners, loaded: LoadedPolicy): void
  /** Run `fn` alone among the `policy.set` calls of one key (so versions are checked and stored in order). */
  exclusive<T>(keyId: string, fn: () => Promise<T>): Promise<T>
  readonly store: PolicyStore
}

const addressOfPublicKey = (publicKey: Hex): string => publicKeyToAddress(hexToBytes(publicKey))

/** A store kept in memory: the default of a handler given none (tests, the in-process enclave). */
export function createMemoryPolicyStore(): PolicyStore {
  const docs = new Map<string, SignedSigningPolicy>()
  return {
    kind: 'memory',
    read: async (keyId) => structuredClone(docs.get(keyId)),
    write: async (keyId, signed) => {
      docs.set(keyId, structuredClone(signed))
    },
  }
}

/**
 * The enclave's view of signing policies: per key, the verified policy in force and the highest version seen
 * this boot. Entries are keyed by the record's identity (keyId, address and owners), so a policy verified
 * against one record's owners never serves a record that claims other owners.
 */
export function createSigningPolicies({ store, now = Date.now, refreshMs = POLICY_REFRESH_MS, maxEntries = 10_000 }: { store: PolicyStore; now?: () => number; refreshMs?: number; maxEntries?: number }): SigningPolicies {
  const entries = new Map<string, { loaded?: LoadedPolicy; readAt: number }>()
  const compiled = new Map<Hex, CompiledSigningPolicy>()
  const locks = new Map<string, Promise<unknown>>()
  const entryKey = (record: SealedKeyRecord, owners: Owners) => `${record.keyId}:${jsonDigest({ address: record.address, owners })}`

  const remember = (key: string, entry: { loaded?: LoadedPolicy; readAt: number }) => {
    if (!entries.has(key) && entries.size >= maxEntries) entries.delete(entries.keys().next().value as string)
    entries.set(key, entry)
  }

  function verify(record: SealedKeyRecord, owners: Owners, signed: unknown, field: string): LoadedPolicy {
    const checked = verifySignedSigningPolicy(signed, owners, field)
    const { document } = checked
    if (document.keyId !== record.keyId) throw new InvalidArgumentError({ field: `${field}.document.keyId`, rule: `must be the key's id ("${record.keyId}")` })
    if (addressOfPublicKey(document.keyPublicKey) !== record.address) throw new InvalidArgumentError({ field: `${field}.document.keyPublicKey`, rule: 'must be the public key of this key' })
    const digest = signingPolicyDigest(document)
    let c = compiled.get(digest)
    if (!c) {
      c = compileSigningPolicy({ rules: document.rules, signers: document.signers })
      if (compiled.size >= maxEntries) compiled.delete(compiled.keys().next().value as Hex)
      compiled.set(digest, c)
    }
    return { signed: checked, compiled: c, ref: { version: document.version, digest } }
  }

  return {
    store,
    verify,
    async current(record, owners, context, { fresh = false } = {}) {
      const key = entryKey(record, owners)
      const entry = entries.get(key)
      if (entry && !fresh && now() - entry.readAt < refreshMs) return entry.loaded
      const raw = await store.read(record.keyId, context)
      let loaded: LoadedPolicy | undefined
      if (raw !== undefined) {
        try {
          loaded = verify(record, owners, raw, 'stored policy')
        } catch (e) {
          if (!isCustodyError(e)) throw e
          throw new IntegrityError({ reason: `the stored signing policy of key "${record.keyId}" does not verify (${e.message})` })
        }
      }
      // Never roll back within a boot: a store that answers an older version (or none) is outvoted by memory.
      const known = entry?.loaded
      if (known && (!loaded || loaded.ref.version < known.ref.version)) loaded = known
      remember(key, { ...(loaded ? { loaded } : {}), readAt: now() })
      return loaded
    },
    accept(record, owners, loaded) {
      remember(entryKey(record, owners), { loaded, readAt: now() })
    },
    async exclusive(keyId, fn) {
      const before = locks.get(keyId) ?? Promise.resolve()
      const run = before.then(fn, fn)
      const tail = run.catch(() => {})
      locks.set(keyId, tail)
      try {
        return await run
      } finally {
        if (locks.get(keyId) === tail) locks.delete(keyId)
      }
    },
  }
}
