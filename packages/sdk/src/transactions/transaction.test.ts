import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { normalizeTransactionRequest, transactionToWire } from './transaction.js'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const AUTH = {
  chainId: 1,
  address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2',
  nonce: 420,
  yParity: 1,
  r: '0xf6beafe7507f0c98ae9bc8d9e15d6b53c2f0714ccfc01663f658cb9f29caced4',
  s: '0x0dc4dfc53537f8b09047eceb674c454acba020ce786d9004175f41669304dee0',
}
const common = { chainId: 1n, nonce: 0n, to: TO, value: 1n, gas: 21000n }
const legacy = { ...common, gasPrice: 2n }
const berlin = { ...common, gasPrice: 2n, accessList: [] }
const london = { ...common, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }
const prague = { ...london, authorizationList: [AUTH] }
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

function failure(tx: unknown, opts?: { maxGas?: bigint }): string {
  try {
    normalizeTransactionRequest(tx, 'tx', opts)
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return e.message
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('normalizeTransactionRequest: type', () => {
  it.each([
    ['gasPrice → legacy', legacy, 'legacy'],
    ['gasPrice + accessList → eip2930', berlin, 'eip2930'],
    ['maxFeePerGas → eip1559', london, 'eip1559'],
    ['maxPriorityFeePerGas alone → eip1559 (then refused for the missing max fee)', { ...common, maxPriorityFeePerGas: 1n }, null],
    ['authorizationList → eip7702', prague, 'eip7702'],
    ['type 0', { ...legacy, type: 0 }, 'legacy'],
    ['type "legacy"', { ...legacy, type: 'legacy' }, 'legacy'],
    ['type 1', { ...legacy, type: 1 }, 'eip2930'],
    ['type "eip2930"', { ...legacy, type: 'eip2930' }, 'eip2930'],
    ['type 2', { ...london, type: 2 }, 'eip1559'],
    ['type "eip1559"', { ...london, type: 'eip1559' }, 'eip1559'],
    ['type 4', { ...prague, type: 4 }, 'eip7702'],
    ['type "eip7702"', { ...prague, type: 'eip7702' }, 'eip7702'],
    ['type null → inferred', { ...london, type: null }, 'eip1559'],
    ['fields set to null count as absent', { ...london, gasPrice: null, accessList: null }, 'eip1559'],
  ])('%s', (_, tx, type) => {
    if (type === null) expect(failure(tx)).toBe('"tx.maxFeePerGas" is required')
    else expect(normalizeTransactionRequest(tx).transaction.type).toBe(type)
  })

  it('normalises every type to bigint, checksummed and lower-case forms, and round-trips through the wire form', () => {
    const cases = [legacy, berlin, london, prague, { ...legacy, chainId: undefined, allowReplayable: true }]
    for (const input of cases) {
      const { transaction, allowReplayable } = normalizeTransactionRequest({ ...input, to: TO.toLowerCase(), data: new Uint8Array([0xab]) })
      expect(transaction.to).toBe(TO)
      expect(transaction.data).toBe('0xab')
      const wire = JSON.parse(JSON.stringify(transactionToWire(transaction, allowReplayable)))
      expect(normalizeTransactionRequest(wire)).toEqual({ transaction, allowReplayable })
    }
  })

  it('normalises a signed authorization in viem shape, with or without v, r/s unpadded', () => {
    const { transaction } = normalizeTransactionRequest({ ...prague, authorizationList: [{ ...AUTH, v: 28n, s: '0xdc4dfc53537f8b09047eceb674c454acba020ce786d9004175f41669304dee0' }] })
    expect(transaction.type === 'eip7702' && transaction.authorizationList[0]).toEqual({
      chainId: 1n,
      address: AUTH.address,
      nonce: 420n,
      yParity: 1,
      r: AUTH.r,
      s: AUTH.s,
    })
  })

  it('signs a replayable legacy transaction only when the request opts in', () => {
    const { chainId: _, ...noChain } = legacy
    expect(normalizeTransactionRequest({ ...noChain, allowReplayable: true })).toMatchObject({ transaction: { type: 'legacy', chainId: null }, allowReplayable: true })
    // With a chainId the opt-in changes nothing.
    expect(normalizeTransactionRequest({ ...legacy, allowReplayable: true })).toMatchObject({ transaction: { chainId: 1n }, allowReplayable: false })
  })

  it('accepts chainId 0 inside authorizations, and the extremes', () => {
    const max = (1n << 256n) - 1n
    const { transaction } = normalizeTransactionRequest({ ...prague, nonce: (1n << 64n) - 2n, value: max, authorizationList: [{ ...AUTH, chainId: 0 }, { ...AUTH, chainId: max, nonce: (1n << 64n) - 2n }] })
    expect(transaction.type === 'eip7702' && transaction.authorizationList.map((a) => a.chainId)).toEqual([0n, max])
    expect(normalizeTransactionRequest({ ...legacy, chainId: (1n << 64n) - 1n }).transaction.chainId).toBe((1n << 64n) - 1n)
  })
})

describe('normalizeTransactionRequest refuses', () => {
  const { chainId: _c, ...legacyNoChain } = legacy
  const { to: _t, ...pragueNoTo } = prague
  const auth = (change: Record<string, unknown>) => ({ ...prague, authorizationList: [{ ...AUTH, ...change }] })
  it.each([
    ['an unknown type number', { ...legacy, type: 5 }, '"tx.type" must be 0, 1, 2, 4, "legacy", "eip2930", "eip1559" or "eip7702" (got 5)'],
    ['an unknown type name', { ...legacy, type: 'eip9999' }, '"tx.type" must be 0, 1, 2, 4, "legacy", "eip2930", "eip1559" or "eip7702" (got "eip9999")'],
    ['a hex type', { ...legacy, type: '0x2' }, '"tx.type" must be 0, 1, 2, 4, "legacy", "eip2930", "eip1559" or "eip7702" (got "0x2")'],
    ['a bigint type', { ...legacy, type: 2n }, '"tx.type" must be 0, 1, 2, 4, "legacy", "eip2930", "eip1559" or "eip7702" (got bigint)'],
    ['a blob transaction (3)', { ...london, type: 3 }, '"tx.type" is a blob (EIP-4844) transaction, which is not supported'],
    ['a blob transaction ("eip4844")', { ...london, type: 'eip4844' }, '"tx.type" is a blob (EIP-4844) transaction, which is not supported'],
    ['no fee field and no type', common, '"tx.type" is required when the fee fields do not tell (pass gasPrice, or maxFeePerGas and maxPriorityFeePerGas, or authorizationList)'],
    ['gasPrice on an eip1559 transaction', { ...london, gasPrice: 1n }, '"tx.gasPrice" is not a field of eip1559 transactions'],
    ['maxFeePerGas on a legacy transaction', { ...legacy, type: 0, maxFeePerGas: 1n }, '"tx.maxFeePerGas" is not a field of legacy transactions'],
    ['maxPriorityFeePerGas on an eip2930 transaction', { ...berlin, type: 1, maxPriorityFeePerGas: 1n }, '"tx.maxPriorityFeePerGas" is not a field of eip2930 transactions'],
    ['accessList on a legacy transaction', { ...legacy, type: 'legacy', accessList: [] }, '"tx.accessList" is not a field of legacy transactions'],
    ['authorizationList on an eip1559 transaction', { ...prague, type: 2 }, '"tx.authorizationList" is not a field of eip1559 transactions'],
    ['allowReplayable on a typed transaction', { ...london, allowReplayable: true }, '"tx.allowReplayable" is not a field of eip1559 transactions'],
    ['allowReplayable not a boolean', { ...legacy, allowReplayable: 'yes' }, '"tx.allowReplayable" must be a boolean (got string)'],
    ['an unknown field', { ...london, from: TO }, '"tx" has unknown field "from"'],
    ['a blob field', { ...london, maxFeePerBlobGas: 1n }, '"tx" has unknown field "maxFeePerBlobGas"'],
    [
      'a legacy transaction without chainId',
      legacyNoChain,
      '"tx.chainId" is required: a legacy transaction without chainId is valid on every chain (set allowReplayable: true to sign one anyway)',
    ],
    [
      'a legacy transaction without chainId, allowReplayable false',
      { ...legacyNoChain, allowReplayable: false },
      '"tx.chainId" is required: a legacy transaction without chainId is valid on every chain (set allowReplayable: true to sign one anyway)',
    ],
    ['legacy chainId 0', { ...legacy, chainId: 0 }, '"tx.chainId" must be at least 1'],
    ['legacy chainId above 2^64-1', { ...legacy, chainId: 1n << 64n }, '"tx.chainId" must be at most 18446744073709551615'],
    ['eip2930 without chainId', { ...berlin, chainId: undefined }, '"tx.chainId" is required'],
    ['eip1559 chainId 0', { ...london, chainId: 0n }, '"tx.chainId" must be at least 1'],
    ['eip7702 chainId above 2^256-1', { ...prague, chainId: 1n << 256n }, '"tx.chainId" must be at most 2^256-1'],
    ['a missing nonce', { ...london, nonce: undefined }, '"tx.nonce" is required'],
    ['a nonce above 2^64-2', { ...legacy, nonce: (1n << 64n) - 1n }, '"tx.nonce" must be at most 2^64-2'],
    ['a negative value', { ...berlin, value: -1n }, '"tx.value" must not be negative'],
    ['a float value', { ...legacy, value: 0.5 }, '"tx.value" must be an integer, not a floating-point number'],
    ['a malformed to', { ...legacy, to: '0x12' }, '"tx.to" must be a 0x-prefixed 20-byte address (40 hex digits)'],
    ['a bad checksum', { ...legacy, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79c8' }, '"tx.to" has an invalid EIP-55 checksum'],
    ['an eip7702 transaction without to', pragueNoTo, '"tx.to" is required: an EIP-7702 transaction cannot create a contract'],
    ['an eip7702 transaction with to null', { ...prague, to: null }, '"tx.to" is required: an EIP-7702 transaction cannot create a contract'],
    ['gas and gasLimit', { ...legacy, gasLimit: 21000n }, '"tx.gasLimit" is an alias of "gas"; pass only one of them'],
    ['no gas', { ...legacy, gas: undefined }, '"tx.gas" is required'],
    ['gas below 21000', { ...berlin, gas: 20999n }, '"tx.gas" must be at least 21000'],
    ['gasLimit below 21000', { ...london, gas: undefined, gasLimit: 1 }, '"tx.gasLimit" must be at least 21000'],
    ['gas above the cap', { ...prague, gas: 30_000_001n }, '"tx.gas" must be at most 30000000 (the configured gas cap)'],
    ['a legacy transaction without gasPrice', { ...legacy, type: 0, gasPrice: undefined }, '"tx.gasPrice" is required'],
    ['an eip2930 transaction without gasPrice', { ...berlin, type: 1, gasPrice: undefined }, '"tx.gasPrice" is required'],
    ['gasPrice above 2^256-1', { ...legacy, gasPrice: 1n << 256n }, '"tx.gasPrice" must be at most 2^256-1'],
    ['an eip7702 transaction without maxPriorityFeePerGas', { ...prague, maxPriorityFeePerGas: undefined }, '"tx.maxPriorityFeePerGas" is required'],
    ['priority fee above max fee', { ...prague, maxPriorityFeePerGas: 3n }, '"tx.maxPriorityFeePerGas" must not exceed maxFeePerGas'],
    ['odd-length data', { ...legacy, data: '0x123' }, '"tx.data" must be hex with an even number of digits'],
    ['data above 128 KiB', { ...london, data: `0x${'00'.repeat(128 * 1024 + 1)}` }, '"tx.data" must be at most 131072 bytes'],
    ['an access list that is not an array', { ...berlin, accessList: {} }, '"tx.accessList" must be an array of { address, storageKeys }'],
    ['a short storage key', { ...london, accessList: [{ address: TO, storageKeys: ['0x01'] }] }, '"tx.accessList[0].storageKeys[0]" must be exactly 32 bytes'],
    ['authorizationList not an array', { ...prague, authorizationList: AUTH }, '"tx.authorizationList" must be an array of signed authorizations (got object)'],
    ['an empty authorizationList', { ...prague, authorizationList: [] }, '"tx.authorizationList" must not be empty (EIP-7702)'],
    ['more than 256 authorizations', { ...prague, authorizationList: Array(257).fill(AUTH) }, '"tx.authorizationList" must have at most 256 entries'],
    ['an authorization that is not an object', { ...prague, authorizationList: ['0x12'] }, '"tx.authorizationList[0]" must be an object (got string)'],
    ['an unsigned authorization', auth({ r: undefined, s: undefined }), '"tx.authorizationList[0].r" is required (a signed authorization)'],
    ['an authorization in ethers shape', auth({ signature: {} }), '"tx.authorizationList[0]" has unknown field "signature"'],
    ['an authorization without address', auth({ address: undefined }), '"tx.authorizationList[0].address" is required'],
    ['an authorization with a bad address', auth({ address: '0x1234' }), '"tx.authorizationList[0].address" must be a 0x-prefixed 20-byte address (40 hex digits)'],
    ['an authorization with a negative chainId', auth({ chainId: -1 }), '"tx.authorizationList[0].chainId" must not be negative'],
    ['an authorization chainId above 2^256-1', auth({ chainId: 1n << 256n }), '"tx.authorizationList[0].chainId" must be at most 2^256-1'],
    ['an authorization nonce above 2^64-2', auth({ nonce: (1n << 64n) - 1n }), '"tx.authorizationList[0].nonce" must be at most 2^64-2'],
    ['an authorization yParity of 2', auth({ yParity: 2 }), '"tx.authorizationList[0].yParity" must be 0 or 1 (got 2)'],
    ['an authorization without yParity', auth({ yParity: undefined }), '"tx.authorizationList[0].yParity" is required (a signed authorization)'],
    ['an authorization yParity as a string', auth({ yParity: '1' }), '"tx.authorizationList[0].yParity" must be 0 or 1 (got string)'],
    ['an authorization v that contradicts yParity', auth({ v: 27n }), '"tx.authorizationList[0].v" must be 28 to agree with yParity (or be omitted)'],
    ['an authorization r of zero', auth({ r: '0x00' }), '"tx.authorizationList[0].r" must be in 1..n-1 (n: the secp256k1 group order)'],
    ['an authorization r ≥ n', auth({ r: `0x${N.toString(16)}` }), '"tx.authorizationList[0].r" must be in 1..n-1 (n: the secp256k1 group order)'],
    ['an authorization r longer than 32 bytes', auth({ r: `0x01${'00'.repeat(32)}` }), '"tx.authorizationList[0].r" must be 0x-prefixed hex of at most 32 bytes'],
    ['an authorization r that is not hex', auth({ r: '0xzz' }), '"tx.authorizationList[0].r" must be 0x-prefixed hex of at most 32 bytes'],
    ['a high-s authorization', auth({ s: `0x${(N - 1n).toString(16)}` }), '"tx.authorizationList[0].s" must be at most n/2 (low-s, EIP-2)'],
    ['not an object', 'tx', '"tx" must be an object (got string)'],
  ])('%s', (_, tx, message) => {
    expect(failure(tx)).toBe(message)
  })

  it('applies a configurable gas cap to every type', () => {
    for (const tx of [legacy, berlin, london, prague]) expect(failure({ ...tx, gas: 100_001n }, { maxGas: 100_000n })).toBe('"tx.gas" must be at most 100000 (the configured gas cap)')
  })
})
