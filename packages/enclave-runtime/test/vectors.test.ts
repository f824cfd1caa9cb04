import { createCustodyClient, type Eip1559Transaction, hexToBytes, toChecksumAddress } from '@enclave-custody/sdk'
import { describe, expect, it } from 'vitest'
import { readVector } from '../../../test/vectors.js'
import { localEnclave } from '../src/localEnclave.js'
import { signEip1559Transaction } from '../src/families/evm/eip1559.js'
import { sharedSoftwareNsm } from './support/session.js'
import { newStamper } from './support/stamps.js'

type EthersVector = {
  name: string
  privateKey: string
  signedLondon: string
  transaction: {
    to?: string
    nonce?: number
    gasLimit?: string
    maxFeePerGas?: string
    maxPriorityFeePerGas?: string
    data?: string
    value?: string
    accessList?: { address: string; storageKeys: string[] }[]
    chainId?: string
  }
}

const ethers = readVector<{ tests: EthersVector[] }>('eth/transactions-ethers-v6.json').tests
const viem = readVector<{ tests: { name: string; type: number; privateKey: string; signed: string; tx: Record<string, unknown> }[] }>(
  'eth/transactions-viem-and-eip155.json',
).tests.filter((t) => t.type === 2)

/** One caller for every in-process enclave of this file. */
const stamper = newStamper()

const q = (v: string | number | undefined) => (v === undefined ? 0n : BigInt(v))

describe('EIP-1559 known-answer vectors', () => {
  it.each(ethers.map((v) => [v.name, v] as const))('ethers %s: signedLondon byte for byte', (_, v) => {
    const t = v.transaction
    // The signing primitive, without request policy: these vectors use gas below 21000 and chainId 0.
    const tx: Eip1559Transaction = {
      chainId: q(t.chainId),
      nonce: q(t.nonce),
      to: t.to ? toChecksumAddress(t.to) : null,
      value: q(t.value),
      gas: q(t.gasLimit),
      maxFeePerGas: q(t.maxFeePerGas),
      maxPriorityFeePerGas: q(t.maxPriorityFeePerGas),
      data: (t.data ?? '0x') as `0x${string}`,
      accessList: (t.accessList ?? []).map((e) => ({ address: toChecksumAddress(e.address), storageKeys: e.storageKeys as `0x${string}`[] })),
    }
    const signed = signEip1559Transaction(hexToBytes(v.privateKey), tx)
    expect(signed.rawTransaction).toBe(v.signedLondon)
  })

  it('covers all 33 ethers vectors, including contract creation and access lists', () => {
    expect(ethers).toHaveLength(33)
    expect(ethers.some((v) => v.transaction.to === undefined)).toBe(true)
    expect(ethers.some((v) => (v.transaction.accessList ?? []).length > 0)).toBe(true)
  })

  // viem's vectors that satisfy request policy (gas ≥ 21000) go through the whole client path.
  const full = viem.filter((v) => BigInt((v.tx.gas as string | undefined) ?? 0) >= 21000n)
  const minimal = viem.filter((v) => !full.includes(v))

  it('has viem vectors for both paths', () => {
    expect(full.length).toBeGreaterThanOrEqual(3)
    expect(minimal.length).toBeGreaterThanOrEqual(2)
  })

  it.each(full.map((v) => [v.name, v] as const))('viem %s: through the client and the in-process enclave', async (_, v) => {
    const custody = createCustodyClient({ transport: localEnclave({ attestation: await sharedSoftwareNsm() }), stamper })
    const { keyId } = await custody.importKey({ privateKey: v.privateKey })
    const tx = { nonce: 0, maxFeePerGas: 0, maxPriorityFeePerGas: 0, ...v.tx } as Parameters<typeof custody.signEip1559>[1]
    const signed = await custody.signEip1559(keyId, tx)
    expect(signed.rawTransaction).toBe(v.signed)
  })

  it.each(minimal.map((v) => [v.name, v] as const))('viem %s: signing primitive', (_, v) => {
    const t = v.tx as { chainId: number; nonce?: number; maxFeePerGas?: string; maxPriorityFeePerGas?: string }
    const tx: Eip1559Transaction = {
      chainId: q(t.chainId),
      nonce: q(t.nonce),
      to: null,
      value: 0n,
      gas: 0n,
      maxFeePerGas: q(t.maxFeePerGas),
      maxPriorityFeePerGas: q(t.maxPriorityFeePerGas),
      data: '0x',
      accessList: [],
    }
    expect(signEip1559Transaction(hexToBytes(v.privateKey), tx).rawTransaction).toBe(v.signed)
  })
})
