import { createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { getAddressDecoder, isOffCurveAddress } from '@solana/kit'
import { bech32, bech32m } from '@scure/base'
import { HDKey } from '@scure/bip32'
import { networks, payments } from 'bitcoinjs-lib'
import { computeHmac, HDNodeWallet, sha256 } from 'ethers'
import { describe, expect, it } from 'vitest'
import { BITCOIN_ADDRESS_FORMATS, bitcoinAddress, bitcoinAddresses, evmAddress, solanaAddressOfPublicKey } from '../src/families/hd/addresses.js'
import { type BitcoinNetwork, defaultDerivationPath, deriveEd25519Key, deriveSecp256k1Key } from '../src/families/hd/derive.js'
import { mnemonicToSeed } from '../src/families/hd/mnemonic.js'

// BIP-84 / BIP-86 known answers (where from: test/vectors/hd/SOURCES.md).
type Bip84 = { path: string; publicKey: string; address: string }
type Bip86 = { path: string; internalKey: string; outputKey: string; address: string }
const vectors = JSON.parse(readFileSync(new URL('./vectors/hd/bip84-bip86-abandon.json', import.meta.url), 'utf8')) as {
  mnemonic: string
  bip84: Bip84[]
  bip86: { accountXpub: string; addresses: Bip86[] }
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const seed = mnemonicToSeed(vectors.mnemonic)
const NETWORKS: BitcoinNetwork[] = ['mainnet', 'testnet', 'signet', 'regtest']

function refusal(f: () => unknown): { field: unknown; rule: unknown } {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError)
    const err = e as InvalidArgumentError
    return { field: err.details?.field, rule: err.details?.rule }
  }
  throw new Error('expected an InvalidArgumentError, nothing was thrown')
}

describe('BIP-84 (P2WPKH) vectors', () => {
  it.each(vectors.bip84)('$path → $address', ({ path, publicKey, address }) => {
    const key = deriveSecp256k1Key(seed, path)
    expect(hex(key.publicKey)).toBe(publicKey)
    expect(bitcoinAddress(key.publicKey, { format: 'p2wpkh', network: 'mainnet' })).toBe(address)
  })

  it('the default P2WPKH path of account 0 is the first vector', () => {
    const key = deriveSecp256k1Key(seed, defaultDerivationPath({ family: 'bitcoin', format: 'p2wpkh', network: 'mainnet' }))
    expect(bitcoinAddress(key.publicKey, { format: 'p2wpkh', network: 'mainnet' })).toBe(vectors.bip84[0]!.address)
  })
})

describe('BIP-86 (P2TR) vectors', () => {
  it('account xpub', () => {
    const account = deriveSecp256k1Key(seed, "m/86'/0'/0'")
    const xpub = new HDKey({ depth: account.depth, index: account.index, parentFingerprint: account.parentFingerprint, chainCode: account.chainCode, publicKey: account.publicKey })
    expect(xpub.publicExtendedKey).toBe(vectors.bip86.accountXpub)
  })

  it.each(vectors.bip86.addresses)('$path → $address', ({ path, internalKey, outputKey, address }) => {
    const key = deriveSecp256k1Key(seed, path)
    expect(hex(key.publicKey.subarray(1))).toBe(internalKey)
    const got = bitcoinAddress(key.publicKey, { format: 'p2tr', network: 'mainnet' })
    expect(got).toBe(address)
    // The witness program is the tweaked output key the BIP lists.
    const decoded = bech32m.decode(got as `${string}1${string}`)
    expect(decoded.words[0]).toBe(1)
    expect(hex(bech32m.fromWords(decoded.words.slice(1)))).toBe(outputKey)
  })

  it('the same output key on every network, with its bech32m prefix', () => {
    const key = deriveSecp256k1Key(seed, vectors.bip86.addresses[0]!.path)
    const prefixes = { mainnet: 'bc1p', testnet: 'tb1p', signet: 'tb1p', regtest: 'bcrt1p' }
    for (const network of NETWORKS) {
      const address = bitcoinAddress(key.publicKey, { format: 'p2tr', network })
      expect(address.startsWith(prefixes[network])).toBe(true)
      const decoded = bech32m.decode(address as `${string}1${string}`)
      expect(hex(bech32m.fromWords(decoded.words.slice(1)))).toBe(vectors.bip86.addresses[0]!.outputKey)
    }
  })
})

describe('Bitcoin P2PKH, P2SH-P2WPKH, P2WPKH on four networks, against bitcoinjs-lib', () => {
  const bitcoinjsNetwork = { mainnet: networks.bitcoin, testnet: networks.testnet, signet: networks.testnet, regtest: networks.regtest }
  const keys = [0, 1, 2, 3, 4].map((n) => deriveSecp256k1Key(seed, `m/44'/0'/0'/0/${n}`).publicKey)

  it.each(NETWORKS)('%s', (network) => {
    const net = bitcoinjsNetwork[network]
    for (const pubkey of keys) {
      const all = bitcoinAddresses(pubkey, network)
      expect(Object.keys(all)).toEqual([...BITCOIN_ADDRESS_FORMATS])
      expect(all.p2pkh).toBe(payments.p2pkh({ pubkey, network: net }).address)
      expect(all.p2wpkh).toBe(payments.p2wpkh({ pubkey, network: net }).address)
      expect(all['p2sh-p2wpkh']).toBe(payments.p2sh({ redeem: payments.p2wpkh({ pubkey, network: net }), network: net }).address)
      // P2TR's witness program is 32 bytes under bech32m, on this network's prefix.
      const decoded = bech32m.decode(all.p2tr as `${string}1${string}`)
      expect(decoded.prefix).toBe(net.bech32)
      expect(bech32m.fromWords(decoded.words.slice(1))).toHaveLength(32)
      // Signet and testnet share their address encodings; regtest has its own bech32 prefix.
      if (network === 'regtest') expect(bech32.decode(all.p2wpkh as `${string}1${string}`).prefix).toBe('bcrt')
    }
  })

  it("legacy m/44'/0'/0'/0/0 and BIP-49 testnet m/49'/1'/0'/0/0 of \"abandon … about\"", () => {
    const legacy = deriveSecp256k1Key(seed, defaultDerivationPath({ family: 'bitcoin', format: 'p2pkh', network: 'mainnet' }))
    expect(bitcoinAddress(legacy.publicKey, { format: 'p2pkh', network: 'mainnet' })).toBe('1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA')
    // BIP-49's own test vector.
    const nested = deriveSecp256k1Key(seed, defaultDerivationPath({ family: 'bitcoin', format: 'p2sh-p2wpkh', network: 'testnet' }))
    expect(bitcoinAddress(nested.publicKey, { format: 'p2sh-p2wpkh', network: 'testnet' })).toBe('2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2')
  })
})

describe('EVM addresses', () => {
  it("m/44'/60'/0'/0/0 of \"abandon … about\" from the compressed or the uncompressed key", () => {
    const key = deriveSecp256k1Key(seed, defaultDerivationPath({ family: 'evm' }))
    expect(evmAddress(key.publicKey)).toBe('0x9858EfFD232B4033E47d90003D41EC34EcaEda94')
    const wallet = HDNodeWallet.fromPhrase(vectors.mnemonic)
    expect(evmAddress(Buffer.from(wallet.signingKey.publicKey.slice(2), 'hex'))).toBe('0x9858EfFD232B4033E47d90003D41EC34EcaEda94')
    expect(wallet.address).toBe('0x9858EfFD232B4033E47d90003D41EC34EcaEda94')
  })
})

describe('Solana', () => {
  // An independent SLIP-0010 walk: ethers' HMAC (noble, not OpenSSL) and node:crypto's ed25519 (OpenSSL, not noble).
  function independentSolanaPublicKey(path: number[]): Uint8Array {
    let I = Buffer.from(computeHmac('sha512', Buffer.from('ed25519 seed'), seed).slice(2), 'hex')
    for (const index of path) {
      const data = Buffer.alloc(37)
      I.copy(data, 1, 0, 32)
      data.writeUInt32BE(index, 33)
      I = Buffer.from(computeHmac('sha512', I.subarray(32), data).slice(2), 'hex')
    }
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), I.subarray(0, 32)])
    const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })
    return new Uint8Array(spki.subarray(-32))
  }

  it("m/44'/501'/0'/0' of \"abandon … about\" is HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk, as computed independently", () => {
    const key = deriveEd25519Key(seed, defaultDerivationPath({ family: 'solana' }))
    const address = solanaAddressOfPublicKey(key.publicKey)
    expect(address).toBe('HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk')
    const H = 0x8000_0000
    const independent = independentSolanaPublicKey([44 + H, 501 + H, H, H])
    expect(hex(independent)).toBe(hex(key.publicKey))
    expect(getAddressDecoder().decode(independent)).toBe(address)
  })

  it('accounts 1 and 2 agree with the independent walk too', () => {
    const H = 0x8000_0000
    for (const n of [1, 2]) {
      const key = deriveEd25519Key(seed, defaultDerivationPath({ family: 'solana', account: n }))
      expect(solanaAddressOfPublicKey(key.publicKey)).toBe(getAddressDecoder().decode(independentSolanaPublicKey([44 + H, 501 + H, n + H, H])))
    }
  })
})

describe('bad public keys and parameters', () => {
  const key = deriveSecp256k1Key(seed, "m/84'/0'/0'/0/0").publicKey
  const uncompressed = Buffer.from(HDNodeWallet.fromPhrase(vectors.mnemonic).signingKey.publicKey.slice(2), 'hex')
  const offCurve = Uint8Array.from([0x02, ...new Uint8Array(32).fill(0xff)]) // x ≥ p
  const notOnCurve65 = Uint8Array.from([0x04, ...new Uint8Array(64).fill(1)])

  it.each([
    ['32 bytes', key.subarray(1), 'must be a 33- or 65-byte secp256k1 public key'],
    ['34 bytes', Uint8Array.from([...key, 0]), 'must be a 33- or 65-byte secp256k1 public key'],
    ['x beyond the field', offCurve, 'must be a point of the secp256k1 curve'],
    ['a 65-byte non-point', notOnCurve65, 'must be a point of the secp256k1 curve'],
    ['a bad prefix', Uint8Array.from([0x05, ...key.subarray(1)]), 'must be a point of the secp256k1 curve'],
    ['a hex string', hex(key), 'must be a 33- or 65-byte secp256k1 public key'],
  ])('evmAddress refuses %s', (_, publicKey, rule) => {
    expect(refusal(() => evmAddress(publicKey as Uint8Array))).toEqual({ field: 'publicKey', rule })
  })

  it.each([
    ['an uncompressed key', uncompressed, 'must be a 33-byte compressed secp256k1 public key'],
    ['32 bytes', key.subarray(1), 'must be a 33-byte compressed secp256k1 public key'],
    ['x beyond the field', offCurve, 'must be a point of the secp256k1 curve'],
  ])('bitcoinAddress refuses %s for every format', (_, publicKey, rule) => {
    for (const format of BITCOIN_ADDRESS_FORMATS) {
      expect(refusal(() => bitcoinAddress(publicKey, { format, network: 'mainnet' }))).toEqual({ field: 'publicKey', rule })
    }
  })

  it.each([
    [{ format: 'p2wsh', network: 'mainnet' }, 'format', 'must be one of p2pkh, p2sh-p2wpkh, p2wpkh, p2tr'],
    [{ format: 'p2wpkh', network: 'bitcoin' }, 'network', 'must be one of mainnet, testnet, signet, regtest'],
    [{ format: 'p2wpkh', network: 'constructor' }, 'network', 'must be one of mainnet, testnet, signet, regtest'],
    [{ format: 'p2wpkh' }, 'network', 'must be one of mainnet, testnet, signet, regtest'],
    [null, 'parameters', 'must be an object'],
  ])('bitcoinAddress refuses %j', (parameters, field, rule) => {
    expect(refusal(() => bitcoinAddress(key, parameters as Parameters<typeof bitcoinAddress>[1]))).toEqual({ field, rule })
    if (field === 'network' && parameters !== null && 'network' in parameters) {
      expect(refusal(() => bitcoinAddresses(key, parameters.network as BitcoinNetwork))).toMatchObject({ field: 'network' })
    }
  })

  it('solanaAddressOfPublicKey refuses keys that are not 32-byte ed25519 points', () => {
    expect(refusal(() => solanaAddressOfPublicKey(new Uint8Array(31)))).toEqual({ field: 'publicKey', rule: 'must be a 32-byte ed25519 public key' })
    expect(refusal(() => solanaAddressOfPublicKey(new Uint8Array(33)))).toEqual({ field: 'publicKey', rule: 'must be a 32-byte ed25519 public key' })
    expect(refusal(() => solanaAddressOfPublicKey('11111111111111111111111111111111' as unknown as Uint8Array))).toMatchObject({ field: 'publicKey' })
    // The first off-curve 32 bytes of a hash chain, as @solana/kit judges them (a program-derived address is such bytes).
    let candidate = new Uint8Array(32)
    while (!isOffCurveAddress(getAddressDecoder().decode(candidate))) candidate = Buffer.from(sha256(candidate).slice(2), 'hex')
    expect(refusal(() => solanaAddressOfPublicKey(candidate, 'owner'))).toEqual({ field: 'owner', rule: 'must be a point of the ed25519 curve' })
  })
})
