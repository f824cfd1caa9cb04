import { base58 } from '@scure/base'
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

/** A signing-policy document checked against a record (approvals, key), not yet compiled. */
export type CheckedPolicy = { signed: SignedSigningPolicy; ref: SigningPolicyRef }

/**
 * The policy in force as read for one request. A read is cached at once under the record's identity (a forged
 * record has another identity, so it never serves the genuine one, and every caller's request costs at most
 * one store read per key per refresh period); `remember()` is called once the record has unsealed (its owners
 * and address are then proven): only then does the read raise the version floor, which outlives the cache.
 */
export type PolicyRead = { loaded: LoadedPolicy | undefined; remember(): void }

export type SigningPolicies = {
  /**
   * The policy in force for `record` (`loaded` undefined: none set): from memory while fresh, else read from the
   * store and verified against `owners`. Never lower than what this boot has seen for the record: a newer policy
   * accepted while the store was read wins, and a store below the version floor fails the request (as does a
   * store that cannot be read or a document that does not verify — never "no policy").
   */
  current(record: SealedKeyRecord, owners: Owners, context: UnsealContext | undefined, options?: { fresh?: boolean }): Promise<PolicyRead>
  /** Check a signed document for `record`: canonical, approved by `owners` to threshold, naming this key. Compiles nothing. */
  check(record: SealedKeyRecord, owners: Owners, signed: unknown, field: string): CheckedPolicy
  /** Compile a checked document (once per digest). */
  load(checked: CheckedPolicy): LoadedPolicy
  /** Make `loaded` the policy in force for `record` (after `policy.set` stored it and the record unsealed). */
  accept(record: SealedKeyRecord, owners: Owners, loaded: LoadedPolicy): void
  /** Run `fn` alone among the `policy.set` calls of one key (so versions are checked and stored in order). */
  exclusive<T>(keyId: string, fn: () => Promise<T>): Promise<T>
  readonly store: PolicyStore
}

/** The address a document's key has: EIP-55 of a secp256k1 key (65 bytes), base58 of an ed25519 key (32 bytes). */
const addressOfPublicKey = (publicKey: Hex): string => {
  const bytes = hexToBytes(publicKey)
  return bytes.length === 32 ? base58.encode(bytes) : publicKeyToAddress(bytes)
}

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

/** Most policies kept compiled and in force in memory (each document is at most 32 KiB). */
const MAX_CACHED = 2_000
/** Most version floors kept (a floor is small: one per genuine key this boot has used). */
const MAX_FLOORS = 1_000_000

/**
 * The enclave's view of signing policies: per key, the verified policy in force (a bounded cache, least recently
 * used out) and the highest version this boot has seen (a separate floor that outlives the cache). Entries are
 * keyed by the record's identity (keyId, address and owners) and written only for records that unsealed, so a
 * policy verified against one record's owners never serves a record that claims other owners.
 */
export function createSigningPolicies({ store, now = Date.now, refreshMs = POLICY_REFRESH_MS, maxEntries = MAX_CACHED }: { store: PolicyStore; now?: () => number; refreshMs?: number; maxEntries?: number }): SigningPolicies {
  const entries = new Map<string, { loaded?: LoadedPolicy; readAt: number }>()
  const floors = new Map<string, SigningPolicyRef>()
  const compiled = new Map<Hex, CompiledSigningPolicy>()
  const locks = new Map<string, Promise<unknown>>()
  const entryKey = (record: SealedKeyRecord, owners: Owners) => `${record.keyId}:${jsonDigest({ address: record.address, owners })}`

  const cache = (key: string, loaded: LoadedPolicy | undefined, readAt: number) => {
    entries.delete(key)
    if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string)
    entries.set(key, { ...(loaded ? { loaded } : {}), readAt })
  }
  const remember = (key: string, loaded: LoadedPolicy | undefined, readAt: number) => {
    cache(key, loaded, readAt)
    if (!loaded) return
    const floor = floors.get(key)
    if (floor && floor.version >= loaded.ref.version) return
    floors.delete(key)
    if (floors.size >= MAX_FLOORS) floors.delete(floors.keys().next().value as string)
    floors.set(key, loaded.ref)
  }

  function check(record: SealedKeyRecord, owners: Owners, signed: unknown, field: string): CheckedPolicy {
    const checked = verifySignedSigningPolicy(signed, owners, field)
    const { document } = checked
    if (document.keyId !== record.keyId) throw new InvalidArgumentError({ field: `${field}.document.keyId`, rule: `must be the key's id ("${record.keyId}")` })
    if (addressOfPublicKey(document.keyPublicKey) !== record.address) throw new InvalidArgumentError({ field: `${field}.document.keyPublicKey`, rule: 'must be the public key of this key' })
    return { signed: checked, ref: { version: document.version, digest: signingPolicyDigest(document) } }
  }

  function load({ signed, ref }: CheckedPolicy): LoadedPolicy {
    let c = compiled.get(ref.digest)
    if (!c) {
      c = compileSigningPolicy({ rules: signed.document.rules, signers: signed.document.signers })
      if (compiled.size >= maxEntries) compiled.delete(compiled.keys().next().value as Hex)
      compiled.set(ref.digest, c)
    }
    return { signed, compiled: c, ref }
  }

  return {
    store,
    check,
    load,
    async current(record, owners, context, { fresh = false } = {}) {
      const key = entryKey(record, owners)
      const entry = entries.get(key)
      if (entry && !fresh && now() - entry.readAt < refreshMs) {
        return { loaded: entry.loaded, remember: () => remember(key, entry.loaded, entry.readAt) }
      }
      const readAt = now()
      const raw = await store.read(record.keyId, context)
      let loaded: LoadedPolicy | undefined
      if (raw !== undefined) {
        try {
          loaded = load(check(record, owners, raw, 'stored policy'))
        } catch (e) {
          if (!isCustodyError(e)) throw e
          throw new IntegrityError({ reason: `the stored signing policy of key "${record.keyId}" does not verify (${e.message})` })
        }
      }
      // What this boot knows *now* (a policy.set may have completed while the store was read): never go below it.
      const known = entries.get(key)?.loaded
      if (known && (!loaded || loaded.ref.version < known.ref.version)) loaded = known
      const floor = floors.get(key)
      if (floor && (!loaded || loaded.ref.version < floor.version)) {
        throw new IntegrityError({ reason: `the policy store holds ${loaded ? `version ${loaded.ref.version}` : 'no policy'} for key "${record.keyId}", below version ${floor.version} this enclave has seen` })
      }
      const result = loaded
      cache(key, result, readAt)
      return { loaded: result, remember: () => remember(key, result, readAt) }
    },
    accept(record, owners, loaded) {
      remember(entryKey(record, owners), loaded, now())
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
