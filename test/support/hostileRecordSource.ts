import type { RecordSource } from '@enclave-custody/parent-proxy'
import type { SealedKeyRecord } from '@enclave-custody/sdk'

/** How the hostile source answers for one keyId: with another key's record, as stored or edited. */
export type RecordSwap = { from: string; edit?: (record: SealedKeyRecord, asked: string) => SealedKeyRecord }

/**
 * A record source under the parent's control: the swaps it currently applies (keyId asked → what it serves) and the
 * keyIds it leaves out of its list.
 */
export type HostileRecordSource = RecordSource & { swaps: Map<string, RecordSwap>; hidden: Set<string> }

/**
 * A parent's record source that serves, for a keyId named in `swaps`, another key's record (optionally edited: its
 * keyId, its encryption context…) instead of the record stored under that keyId. Everything else comes from `inner`
 * unchanged (production: the instance role's Secrets Manager), less the records whose keyIds are in `hidden`. For tests of what the enclave and the SDK do with a
 * record the parent substituted.
 *
 * @param inner - The honest record source.
 * @returns The hostile source; set or clear its `swaps` and `hidden` between requests.
 */
export function hostileRecordSource(inner: RecordSource): HostileRecordSource {
  const swaps = new Map<string, RecordSwap>()
  const hidden = new Set<string>()
  return {
    swaps,
    hidden,
    async get(keyId) {
      const swap = swaps.get(keyId)
      if (!swap) return inner.get(keyId)
      const other = await inner.get(swap.from)
      if (!other) throw new Error(`hostileRecordSource: no record "${swap.from}" to serve in place of "${keyId}"`)
      return swap.edit ? swap.edit(structuredClone(other), keyId) : other
    },
    list: async () => (await inner.list()).filter((r) => !hidden.has(r.keyId)),
  }
}
