/**
 * Red team, issue 15: a hostile parent replays a stamped key.generate to a second enclave instance, which makes a
 * second key under the same keyId (docs/threat-model.md, "Replay to another instance"), and later forwards that
 * key's record instead of the first. Until something read the key again, the client refused the second key's
 * signatures; a getKey or listKeys that reported the new address overwrote what the client knew, and the viem and
 * ethers adapters then handed out signatures by the second key under the first key's address. A keyId now names
 * one key for the life of a client: a different address (or public key) for it is an INTEGRITY_ERROR.
 */
import { createForwardedKeyStore, createLocalRuntime, createLocalSealer, createSoftwareNsm, type LocalRuntime } from '@enclave-custody/enclave-runtime'
import { apiKeyStamper, type CustodyClient, createCustodyClient, generateApiKey, type SealedKeyRecord, type Transport } from '@enclave-custody/sdk'
import { EnclaveSigner } from '@enclave-custody/sdk/ethers'
import type { RequestMessage, ResponseMessage } from '@enclave-custody/sdk/protocol'
import { enclaveAccount, toEnclaveAccount } from '@enclave-custody/sdk/viem'
import { beforeAll, describe, expect, it } from 'vitest'
import { codeOf } from './support/stampAttacks.js'

const TRUST = { protocolVersion: 1, sealing: 'local', sealingKeyId: `0x${'0d'.repeat(32)}` } as const
const TX = { chainId: 1, nonce: 0, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', value: 1n, gas: 21000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n } as const

describe('a second key under the same keyId, forwarded after the first was read', () => {
  let custody: CustodyClient
  let forwardSecond: () => void
  let first: { address: string; publicKey: string }
  let second: SealedKeyRecord

  beforeAll(async () => {
    const nsm = await createSoftwareNsm()
    const instance = () => createLocalRuntime({ keyStore: createForwardedKeyStore(), sealer: createLocalSealer(new Uint8Array(32).fill(13)), trust: TRUST, attestation: nsm, keyCache: false })
    const a: LocalRuntime = await instance()
    const b: LocalRuntime = await instance()
    const deliver = async (to: LocalRuntime, m: unknown, context?: unknown) => JSON.parse(JSON.stringify(await to.handler.handle(JSON.parse(JSON.stringify(m)), context as never)))
    const records = new Map<string, SealedKeyRecord>()
    const sent: RequestMessage[] = []
    let forwarded = (keyId: string) => records.get(keyId)
    forwardSecond = () => {
      forwarded = (keyId) => (keyId === 'treasury' ? second : records.get(keyId))
    }
    const transport: Transport = {
      name: 'hostile parent',
      attestation: a.attestation,
      async request(m) {
        sent.push(structuredClone(m))
        const keyId = (m.params as { keyId?: string }).keyId
        const context =
          m.op === 'key.list' ? { records: [...records.keys()].map((k) => forwarded(k)!) } : keyId !== undefined && forwarded(keyId) ? { record: forwarded(keyId) } : undefined
        const { audit: _, ...answer } = await deliver(a, m, context)
        return answer as ResponseMessage
      },
    }
    const importer = {
      secretName: (k: string) => k,
      storeRecord: async (r: SealedKeyRecord) => {
        if (!records.has(r.keyId)) records.set(r.keyId, r)
      },
      importPrivateKey: async () => {
        throw new Error('not used')
      },
    }
    custody = createCustodyClient({ transport, stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }), importer: importer as never })
    const created = await custody.importKey({ generate: true, keyId: 'treasury' })
    first = { address: created.address, publicKey: (await custody.getKey('treasury')).publicKey! }
    // The parent replays the stamped key.generate to instance b: a second key, same keyId, same creator.
    const replayed = structuredClone([...sent].reverse().find((m) => m.op === 'key.generate')!)
    second = (await deliver(b, replayed)).result.record as SealedKeyRecord
    expect(second.address).not.toBe(first.address)
  })

  it('every adapter and the client refuse the second key, before and after the key is read again', async () => {
    const account = await toEnclaveAccount(custody, 'treasury')
    const signer = await EnclaveSigner.create(custody, 'treasury')
    const syncAccount = enclaveAccount(custody, { keyId: 'treasury', address: first.address as `0x${string}`, publicKey: first.publicKey as `0x${string}` })
    const syncSigner = new EnclaveSigner(custody, { keyId: 'treasury', address: first.address })
    // Checked on first use, while the first key is forwarded.
    expect(await codeOf(syncAccount.signMessage({ message: 'warm' }))).toBe('resolved')
    expect(await codeOf(syncSigner.signMessage('warm'))).toBe('resolved')

    forwardSecond()
    const attempts = () => [
      account.signMessage({ message: 'pay' }),
      account.signTransaction({ ...TX, type: 'eip1559' }),
      account.signTypedData({ domain: { name: 'X', chainId: 1 }, types: { M: [{ name: 'v', type: 'uint256' }] }, primaryType: 'M', message: { v: 1n } }),
      syncAccount.signMessage({ message: 'pay' }),
      signer.signMessage('pay'),
      signer.signTransaction({ ...TX, type: 2, gasLimit: 21000n }),
      syncSigner.signMessage('pay'),
      custody.signEip1559('treasury', TX),
    ]
    expect(await Promise.all(attempts().map(codeOf))).toEqual(Array(8).fill('INTEGRITY_ERROR'))
    // Reading the key again (this code, or any code sharing the client) no longer rebinds the keyId.
    expect(await codeOf(custody.getKey('treasury'))).toBe('INTEGRITY_ERROR')
    expect(await codeOf(custody.listKeys())).toBe('INTEGRITY_ERROR')
    expect(await codeOf(toEnclaveAccount(custody, 'treasury'))).toBe('INTEGRITY_ERROR')
    expect(await Promise.all(attempts().map(codeOf))).toEqual(Array(8).fill('INTEGRITY_ERROR'))
  })
})
