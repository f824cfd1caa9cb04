import { createCustodyClient, hexToBytes, isCustodyError, SECP256K1_N, type Transport } from '@enclave-custody/sdk'
import { decodeRlp, encodeRlp } from 'ethers'
import { describe, expect, it } from 'vitest'
import { localEnclave } from '../src/localEnclave.js'
import { signEip1559Transaction } from '../src/families/evm/eip1559.js'
import { signingEnclave } from './support/runtime.js'
import { sharedSoftwareNsm } from './support/session.js'
import { newStamper } from './support/stamps.js'

const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const OTHER = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const tx = { chainId: 1n, nonce: 3n, to: TO, value: 5n, gas: 21000n, maxFeePerGas: 100n, maxPriorityFeePerGas: 2n }

type Signed = { rawTransaction: string; hash: string; from: string; signature: { r: string; s: string; yParity: number } }

/** The one caller of this file. */
const stamper = newStamper()

/** A parent between the SDK and the real enclave that tampers with sign results: it holds no response key. */
async function tamperingParent(tamper: (signed: Signed) => Signed): Promise<Transport> {
  const inner = localEnclave({ attestation: await sharedSoftwareNsm() })
  return {
    name: 'hostile',
    attestation: inner.attestation!,
    async request(message) {
      const response = (await inner.request(message)) as { ok: boolean; result: unknown }
      if (message.op === 'sign.eip1559' && response.ok) response.result = tamper(response.result as Signed)
      return response
    },
  }
}

/**
 * An enclave that signs the tampered result itself (its signing code gone wrong): the response signature
 * vouches for it, and only the SDK's own checks of the result stand between it and the caller.
 */
function wrongEnclave(tamper: (signed: Signed) => Signed): Transport {
  return signingEnclave({ edit: (message, response) => (message.op === 'sign.eip1559' && response.ok ? { ...response, result: tamper(response.result as Signed) } : response) })
}

async function attempt(transport: Transport): Promise<unknown> {
  const custody = createCustodyClient({ transport, stamper })
  const { keyId } = await custody.importKey({ privateKey: KEY })
  return custody.signEip1559(keyId, tx).catch((e: unknown) => e)
}

function resign(privateKey: string, change: Record<string, unknown>): Signed {
  const t = { chainId: 1n, nonce: 3n, to: TO, value: 5n, gas: 21000n, maxFeePerGas: 100n, maxPriorityFeePerGas: 2n, data: '0x' as const, accessList: [], ...change }
  return signEip1559Transaction(hexToBytes(privateKey), t as Parameters<typeof signEip1559Transaction>[1]) as Signed
}

describe('the SDK distrusts the backend', () => {
  it('passes an honest result through', async () => {
    for (const transport of [await tamperingParent((s) => s), wrongEnclave((s) => s)]) {
      const result = (await attempt(transport)) as Signed
      expect(result.from).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
    }
  })

  const tampers: [string, (s: Signed) => Signed, RegExp][] = [
    ['signed by another key', () => resign(OTHER, {}), /not signed by the key/],
    ['a different recipient', () => resign(KEY, { to: '0x0000000000000000000000000000000000000001' }), /does not hold the requested transaction fields/],
    ['a larger value', () => resign(KEY, { value: 5n * 10n ** 18n }), /does not hold the requested transaction fields/],
    ['another chain', () => resign(KEY, { chainId: 5n }), /does not hold the requested transaction fields/],
    [
      'a high-s (malleable) signature',
      (s: Signed) => {
        // ethers refuses to build a high-s signature, so flip s and the parity in the RLP by hand.
        const fields = decodeRlp(`0x${s.rawTransaction.slice(4)}`) as string[]
        const highS = SECP256K1_N - BigInt(fields[11]!)
        fields[9] = fields[9] === '0x' ? '0x01' : '0x'
        fields[11] = `0x${highS.toString(16)}`
        return { ...s, rawTransaction: `0x02${encodeRlp(fields).slice(2)}` }
      },
      /not low-s/,
    ],
    ['a lying hash', (s: Signed) => ({ ...s, hash: `0x${'00'.repeat(32)}` }), /"hash" does not match/],
    ['a lying from', (s: Signed) => ({ ...s, from: TO }), /"from" does not match/],
    ['a lying signature', (s: Signed) => ({ ...s, signature: { ...s.signature, yParity: 1 - s.signature.yParity } }), /"signature" does not match/],
    ['garbage bytes', (s: Signed) => ({ ...s, rawTransaction: '0x02deadbeef' }), /does not parse/],
  ]

  it.each(tampers)('refuses %s signed by the enclave itself with INTEGRITY_ERROR', async (_, tamper, reason) => {
    const error = await attempt(wrongEnclave(tamper))
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
    expect((error as Error).message).toMatch(reason)
  })

  it.each(tampers)('refuses %s made by the parent: the answer is no longer the enclave\'s signed one', async (_, tamper) => {
    const error = await attempt(await tamperingParent(tamper))
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
    expect((error as Error).message).toMatch(/not signed by an attested enclave for this request/)
  })

  it('refuses a malformed result shape', async () => {
    const malformed = (s: Signed) => ({ ...s, signature: undefined }) as unknown as Signed
    expect(isCustodyError(await attempt(wrongEnclave(malformed)), 'INVALID_FRAME')).toBe(true)
    expect(isCustodyError(await attempt(await tamperingParent(malformed)), 'INTEGRITY_ERROR')).toBe(true)
  })

  it('refuses a signed answer to another request (replayed by the parent), and accepts a rewritten id', async () => {
    const inner = localEnclave({ attestation: await sharedSoftwareNsm() })
    let first: object | undefined
    let rewrite: 'replay' | 'id' = 'replay'
    const custody = createCustodyClient({
      stamper,
      transport: {
        name: 'confused',
        attestation: inner.attestation!,
        async request(message) {
          const answer = (await inner.request(message)) as object
          if (message.op !== 'key.list') return answer
          if (rewrite === 'id') return { ...answer, id: 'someone-else' }
          first ??= answer
          // The first key.list's answer, signed for that request, as the answer to every later one.
          return { ...first, id: message.id }
        },
      },
    })
    expect(await custody.listKeys()).toEqual([])
    const error = await custody.listKeys().catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
    // The id is the parent's to rewrite (it multiplexes connections): the signature binds the answer to the request.
    rewrite = 'id'
    expect(await custody.listKeys()).toEqual([])
  })
})
