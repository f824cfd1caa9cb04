import * as viemChains from 'viem/chains'
import { describe, expect, it } from 'vitest'
import { isCustodyError } from '../errors/CustodyError.js'
import { arbitrum, base, chains, defineChain, explorerTxUrl, getChain, holesky, hoodi, mainnet, optimism, polygon, sepolia } from './index.js'

const HASH = `0x${'ab'.repeat(32)}`

/** The error message of `fn`, which must throw INVALID_ARGUMENT. */
function invalid(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(isCustodyError(e, 'INVALID_ARGUMENT')).toBe(true)
    return (e as Error).message
  }
  throw new Error('did not throw')
}

describe('chain presets', () => {
  it('carry the EIP-155 ids of their networks', () => {
    expect(Object.fromEntries(chains.map((c) => [c.name, c.id]))).toEqual({
      Ethereum: 1,
      Sepolia: 11155111,
      Holesky: 17000,
      Hoodi: 560048,
      Base: 8453,
      'OP Mainnet': 10,
      'Arbitrum One': 42161,
      Polygon: 137,
    })
    expect([mainnet, sepolia, holesky, hoodi, base, optimism, arbitrum, polygon]).toEqual(chains)
    expect(chains.filter((c) => c.testnet).map((c) => c.id)).toEqual([11155111, 17000, 560048])
  })

  it('agree with viem/chains (an independent list) on id, currency symbol and explorer', () => {
    const pairs = [
      [mainnet, viemChains.mainnet],
      [sepolia, viemChains.sepolia],
      [holesky, viemChains.holesky],
      [hoodi, viemChains.hoodi],
      [base, viemChains.base],
      [optimism, viemChains.optimism],
      [arbitrum, viemChains.arbitrum],
      [polygon, viemChains.polygon],
    ] as const
    for (const [ours, theirs] of pairs) {
      expect({ id: ours.id, symbol: ours.nativeCurrency.symbol, decimals: ours.nativeCurrency.decimals, explorer: ours.explorer?.url }).toEqual({
        id: theirs.id,
        symbol: theirs.nativeCurrency.symbol,
        decimals: theirs.nativeCurrency.decimals,
        explorer: theirs.blockExplorers.default.url,
      })
      expect(ours.testnet).toBe(theirs.testnet === true)
    }
  })

  it('are frozen', () => {
    expect(Object.isFrozen(sepolia)).toBe(true)
    expect(Object.isFrozen(sepolia.explorer)).toBe(true)
    expect(Object.isFrozen(sepolia.nativeCurrency)).toBe(true)
    expect(Object.isFrozen(chains)).toBe(true)
  })
})

describe('getChain', () => {
  it('finds a preset by number or bigint id', () => {
    expect(getChain(11155111)).toBe(sepolia)
    expect(getChain(560048n)).toBe(hoodi)
    expect(getChain(137)).toBe(polygon)
  })

  it('names retired testnets (Rinkeby is gone) and points at their successors', () => {
    expect(invalid(() => getChain(4))).toMatchInlineSnapshot(`""chainId" 4 is Rinkeby, a retired testnet: use sepolia (11155111) or hoodi (560048)"`)
    expect(invalid(() => getChain(5n))).toMatchInlineSnapshot(`""chainId" 5 is Goerli, a retired testnet: use sepolia (11155111) or hoodi (560048)"`)
  })

  it('refuses unknown ids and non-numbers', () => {
    expect(invalid(() => getChain(31337))).toMatchInlineSnapshot(`""chainId" 31337 has no preset: describe the chain with defineChain({ id, name, explorer })"`)
    expect(invalid(() => getChain('1' as never))).toMatchInlineSnapshot(`""chainId" must be a number or a bigint (got string)"`)
  })
})

describe('defineChain', () => {
  it('fills defaults, normalises the explorer URL and freezes the result', () => {
    const chain = defineChain({ id: 31337n, name: 'Anvil' })
    expect(chain).toEqual({ id: 31337, name: 'Anvil', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, testnet: false })
    expect(Object.isFrozen(chain)).toBe(true)
    const gnosis = defineChain({ id: 100, name: 'Gnosis', nativeCurrency: { name: 'xDAI', symbol: 'XDAI' }, explorer: { name: 'Gnosisscan', url: 'https://gnosisscan.io/' } })
    expect(gnosis.explorer).toEqual({ name: 'Gnosisscan', url: 'https://gnosisscan.io' })
    expect(gnosis.nativeCurrency.decimals).toBe(18)
  })

  it('refuses every malformed field, naming it', () => {
    const bad: [unknown, string][] = [
      [null, 'chain'],
      [{ id: 0, name: 'x' }, 'chain.id'],
      [{ id: -1, name: 'x' }, 'chain.id'],
      [{ id: 1.5, name: 'x' }, 'chain.id'],
      [{ id: 2 ** 53, name: 'x' }, 'chain.id'],
      [{ id: 2n ** 53n, name: 'x' }, 'chain.id'],
      [{ id: '1', name: 'x' }, 'chain.id'],
      [{ id: 1, name: '' }, 'chain.name'],
      [{ id: 1, name: 'x'.repeat(65) }, 'chain.name'],
      [{ id: 1, name: 7 }, 'chain.name'],
      [{ id: 1, name: 'x', testnet: 'yes' }, 'chain.testnet'],
      [{ id: 1, name: 'x', nativeCurrency: { name: 'A', symbol: 'A', decimals: 1.5 } }, 'chain.nativeCurrency.decimals'],
      [{ id: 1, name: 'x', nativeCurrency: { name: 'A' } }, 'chain.nativeCurrency.symbol'],
      [{ id: 1, name: 'x', explorer: { name: 'E', url: 'explorer.example' } }, 'chain.explorer.url'],
      [{ id: 1, name: 'x', explorer: { name: 'E', url: 'ftp://explorer.example' } }, 'chain.explorer.url'],
      [{ id: 1, name: 'x', explorer: { name: 'E', url: 'https://e.example/?q=1' } }, 'chain.explorer.url'],
      [{ id: 1, name: 'x', rpcUrl: 'https://rpc.example' }, 'chain'],
    ]
    for (const [input, field] of bad) {
      try {
        defineChain(input as never)
        expect.unreachable(`accepted ${String(input && JSON.stringify(input, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)))}`)
      } catch (e) {
        expect(isCustodyError(e, 'INVALID_ARGUMENT')).toBe(true)
        expect((e as { details: { field: string } }).details.field).toBe(field)
      }
    }
  })
})

describe('explorerTxUrl', () => {
  it('links a transaction on the chain explorer', () => {
    expect(explorerTxUrl(sepolia, HASH)).toBe(`https://sepolia.etherscan.io/tx/${HASH}`)
    expect(explorerTxUrl(base, HASH.toUpperCase().replace('0X', '0x'))).toBe(`https://basescan.org/tx/${HASH}`)
  })

  it('refuses a chain without explorer and a malformed hash', () => {
    expect(invalid(() => explorerTxUrl(defineChain({ id: 31337, name: 'Anvil' }), HASH))).toMatchInlineSnapshot(
      `""chain.explorer" is not set for chain 31337: give it one with defineChain({ …, explorer: { name, url } })"`,
    )
    expect(invalid(() => explorerTxUrl(sepolia, '0x1234'))).toMatchInlineSnapshot(`""hash" must be exactly 32 bytes"`)
  })
})
