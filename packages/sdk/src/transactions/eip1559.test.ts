import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { normalizeEip1559Transaction } from './eip1559.js'

const base = {
  chainId: 1n,
  nonce: 0n,
  to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  value: 1n,
  gas: 21000n,
  maxFeePerGas: 2n,
  maxPriorityFeePerGas: 1n,
}

function failure(tx: unknown, opts?: { maxGas?: bigint }): string {
  try {
    normalizeEip1559Transaction(tx, 'tx', opts)
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    return e.message
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('normalizeEip1559Transaction', () => {
  it('normalises every accepted input form to bigint', () => {
    const tx = normalizeEip1559Transaction({ ...base, chainId: '11155111', nonce: 7, value: '1000000000000000000', gasLimit: 21000, gas: undefined })
    expect(tx).toEqual({
      chainId: 11155111n,
      nonce: 7n,
      to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      value: 10n ** 18n,
      gas: 21000n,
      maxFeePerGas: 2n,
      maxPriorityFeePerGas: 1n,
      data: '0x',
      accessList: [],
    })
  })

  it('treats omitted or null `to` as contract creation and checksums lower-case addresses', () => {
    const { to: _, ...noTo } = base
    expect(normalizeEip1559Transaction(noTo).to).toBeNull()
    expect(normalizeEip1559Transaction({ ...base, to: null }).to).toBeNull()
    expect(normalizeEip1559Transaction({ ...base, to: base.to.toLowerCase() }).to).toBe(base.to)
    expect(normalizeEip1559Transaction({ ...base, data: new Uint8Array([1, 0xab]) }).data).toBe('0x01ab')
  })

  it('accepts the extremes', () => {
    const max = (1n << 256n) - 1n
    const tx = normalizeEip1559Transaction({ ...base, value: max, maxFeePerGas: max, maxPriorityFeePerGas: max, nonce: (1n << 64n) - 2n })
    expect(tx.value).toBe(max)
    expect(tx.nonce).toBe((1n << 64n) - 2n)
  })

  it.each([
    ['negative value', { ...base, value: -1n }, '"tx.value" must not be negative'],
    ['negative string', { ...base, value: '-1' }, '"tx.value" must not be negative'],
    ['fractional string', { ...base, value: '1.5' }, '"tx.value" must be an integer decimal string (no fraction or exponent)'],
    ['float number', { ...base, value: 0.01 }, '"tx.value" must be an integer, not a floating-point number'],
    ['exponent string', { ...base, value: '1e18' }, '"tx.value" must be an integer decimal string (no fraction or exponent)'],
    ['hex quantity', { ...base, value: '0x10' }, '"tx.value" must be a decimal integer string without leading zeros, sign or 0x'],
    ['leading zero', { ...base, nonce: '01' }, '"tx.nonce" must be a decimal integer string without leading zeros, sign or 0x'],
    ['unsafe number', { ...base, value: 2 ** 60 }, '"tx.value" is above Number.MAX_SAFE_INTEGER; pass a bigint or a decimal string'],
    ['NaN', { ...base, value: Number.NaN }, '"tx.value" must be a finite integer'],
    ['Infinity', { ...base, maxFeePerGas: Number.POSITIVE_INFINITY }, '"tx.maxFeePerGas" must be a finite integer'],
    ['value above 2^256-1', { ...base, value: 1n << 256n }, '"tx.value" must be at most 2^256-1'],
    ['fee above 2^256-1', { ...base, maxFeePerGas: (1n << 256n).toString() }, '"tx.maxFeePerGas" must be at most 2^256-1'],
    ['nonce above 2^64-2', { ...base, nonce: (1n << 64n) - 1n }, '"tx.nonce" must be at most 2^64-2'],
    ['chainId 0', { ...base, chainId: 0 }, '"tx.chainId" must be at least 1'],
    ['chainId missing', { ...base, chainId: undefined }, '"tx.chainId" is required'],
    ['nonce missing', { ...base, nonce: undefined }, '"tx.nonce" is required'],
    ['priority above max fee', { ...base, maxFeePerGas: 1n, maxPriorityFeePerGas: 2n }, '"tx.maxPriorityFeePerGas" must not exceed maxFeePerGas'],
    ['gas below 21000', { ...base, gas: 20999n }, '"tx.gas" must be at least 21000'],
    ['gasLimit below 21000', { ...base, gas: undefined, gasLimit: 100 }, '"tx.gasLimit" must be at least 21000'],
    ['gas and gasLimit', { ...base, gasLimit: 21000n }, '"tx.gasLimit" is an alias of "gas"; pass only one of them'],
    ['gas missing', { ...base, gas: undefined }, '"tx.gas" is required'],
    ['malformed hex data', { ...base, data: '0xzz' }, '"tx.data" must be hex with an even number of digits'],
    ['odd-length data', { ...base, data: '0x123' }, '"tx.data" must be hex with an even number of digits'],
    ['data without 0x', { ...base, data: '1234' }, '"tx.data" must start with 0x'],
    ['short address', { ...base, to: '0x1234' }, '"tx.to" must be a 0x-prefixed 20-byte address (40 hex digits)'],
    ['bad checksum', { ...base, to: '0x70997970C51812dc3A010C7d01b50e0d17dc79c8' }, '"tx.to" has an invalid EIP-55 checksum'],
    ['address as number', { ...base, to: 42 }, '"tx.to" must be a 0x-prefixed 20-byte address (got number)'],
    ['unknown field', { ...base, gasPrice: 1n }, '"tx" has unknown field "gasPrice"'],
    ['not an object', 'tx', '"tx" must be an object (got string)'],
    ['array', [], '"tx" must be an object (got array)'],
    ['access list not array', { ...base, accessList: {} }, '"tx.accessList" must be an array of { address, storageKeys }'],
    ['access list bad address', { ...base, accessList: [{ address: '0x12', storageKeys: [] }] }, '"tx.accessList[0].address" must be a 0x-prefixed 20-byte address (40 hex digits)'],
    ['storage key wrong size', { ...base, accessList: [{ address: base.to, storageKeys: ['0x01'] }] }, '"tx.accessList[0].storageKeys[0]" must be exactly 32 bytes'],
    ['access list unknown field', { ...base, accessList: [{ address: base.to, storageKeys: [], x: 1 }] }, '"tx.accessList[0]" has unknown field "x"'],
    ['boolean quantity', { ...base, value: true }, '"tx.value" must be a bigint, a safe integer or a decimal string (got boolean)'],
  ])('refuses %s', (_, tx, message) => {
    expect(failure(tx)).toBe(message)
  })

  it('applies a configurable gas cap', () => {
    expect(failure({ ...base, gas: 1_000_001n }, { maxGas: 1_000_000n })).toBe('"tx.gas" must be at most 1000000 (the configured gas cap)')
    expect(normalizeEip1559Transaction({ ...base, gas: 1_000_000n }, 'tx', { maxGas: 1_000_000n }).gas).toBe(1_000_000n)
  })

  it('refuses data above the size limit', () => {
    expect(failure({ ...base, data: `0x${'00'.repeat(128 * 1024 + 1)}` })).toBe('"tx.data" must be at most 131072 bytes')
  })

  it('refuses objects with a foreign prototype', () => {
    class Tx {
      chainId = 1n
    }
    expect(failure(new Tx())).toBe('"tx" must be a plain object')
  })
})
