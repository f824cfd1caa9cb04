import { readFileSync } from 'node:fs'
import { InvalidArgumentError, privateKeyToAddress } from '@enclave-custody/sdk'
import { HDKey } from '@scure/bip32'
import { HDNodeWallet } from 'ethers'
import { describe, expect, it, vi } from 'vitest'
import {
  bip32MasterFingerprint,
  type DefaultDerivationPathParameters,
  defaultDerivationPath,
  deriveEd25519Key,
  deriveSecp256k1Key,
  HARDENED_OFFSET,
  parseDerivationPath,
} from '../src/families/hd/derive.js'
import * as hd from '../src/families/hd/index.js'
import { mnemonicToSeed } from '../src/families/hd/mnemonic.js'

// Known answers from BIP-32 and SLIP-0010 (where from: test/vectors/hd/SOURCES.md).
const readVectors = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./vectors/hd/${name}`, import.meta.url), 'utf8')) as T
type Chain = { path: string; xpub: string; xprv: string }
const bip32 = readVectors<{ valid: { name: string; seed: string; chains: Chain[] }[]; invalid: { key: string; reason: string }[] }>('bip32.json')
type Slip10Chain = { path: string; fingerprint: string; chainCode: string; private: string; public: string }
const slip10 = readVectors<{ vectors: { name: string; seed: string; chains: Slip10Chain[] }[] }>('slip10-ed25519.json')

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'))
const vectorPath = (p: string) => p.replaceAll('H', "'")
const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'

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

describe('parseDerivationPath', () => {
  it.each([
    ['m', 'm', []],
    ["m/44'/60'/0'/0/0", "m/44'/60'/0'/0/0", [44 + HARDENED_OFFSET, 60 + HARDENED_OFFSET, HARDENED_OFFSET, 0, 0]],
    ['m/84h/0h/0h/0/0', "m/84'/0'/0'/0/0", [84 + HARDENED_OFFSET, HARDENED_OFFSET, HARDENED_OFFSET, 0, 0]],
    ["m/86h/1'/2h/1/7", "m/86'/1'/2'/1/7", [86 + HARDENED_OFFSET, 1 + HARDENED_OFFSET, 2 + HARDENED_OFFSET, 1, 7]],
    ["m/2147483647'/2147483647", "m/2147483647'/2147483647", [0xffffffff, 0x7fffffff]],
    ['m/0/1/2/3/4/5/6/7/8/9', 'm/0/1/2/3/4/5/6/7/8/9', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  ] as const)('parses %s to %s', (input, path, indices) => {
    expect(parseDerivationPath(input)).toEqual({ path, indices })
    // Canonical output parses to itself.
    expect(parseDerivationPath(path).path).toBe(path)
  })

  const bad: [string, unknown, string][] = [
    ['the empty string', '', 'must start with "m/" (or be "m")'],
    ['M (public derivation)', "M/44'/0'", 'must start with "m/" (or be "m")'],
    ['no m', "44'/0'", 'must start with "m/" (or be "m")'],
    ['a leading slash', "/44'/0'", 'must start with "m/" (or be "m")'],
    ['a leading space', " m/44'", 'must start with "m/" (or be "m")'],
    ["m'", "m'", 'must start with "m/" (or be "m")'],
    ['a trailing slash', "m/44'/", "level 2 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['m/ alone', 'm/', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['an empty level', "m/44'//0", "level 2 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['a leading zero', 'm/01', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['a negative index', 'm/-1', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['a hex index', 'm/0x10', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['a decimal point', 'm/1.5', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['H as the marker', 'm/44H', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['two markers', "m/44''", "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['a trailing space', "m/44' ", "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['a non-ASCII digit', 'm/\u0664', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['2^31', 'm/2147483648', 'level 1 must be an index below 2^31'],
    ["2^31'", "m/0/2147483648'", 'level 2 must be an index below 2^31'],
    ['2^32', 'm/4294967296', 'level 1 must be an index below 2^31'],
    ['an 11-digit index', 'm/99999999999', "level 1 must be a decimal index without leading zeros, optionally followed by ' or h"],
    ['11 levels', 'm/0/1/2/3/4/5/6/7/8/9/10', 'must be at most 10 levels deep'],
    ['a very long path', `m${'/0'.repeat(10_000)}`, 'must be at most 10 levels deep'],
    ['a number', 44, 'must be a string'],
    ['an array', [44, 0], 'must be a string'],
    ['null', null, 'must be a string'],
  ]
  it.each(bad)('refuses %s', (_, input, rule) => {
    expect(refusal(() => parseDerivationPath(input))).toEqual({ field: 'path', rule })
  })

  it('names the field it is given', () => {
    expect(refusal(() => parseDerivationPath('x', 'account.path'))).toMatchObject({ field: 'account.path' })
  })
})

/** The xprv / xpub of a derived key, serialised by @scure/bip32 from every field the derivation returned. */
function serialise(key: ReturnType<typeof deriveSecp256k1Key>) {
  const fields = { depth: key.depth, index: key.index, parentFingerprint: key.parentFingerprint, chainCode: key.chainCode }
  return {
    xprv: new HDKey({ ...fields, privateKey: key.privateKey }).privateExtendedKey,
    xpub: new HDKey({ ...fields, publicKey: key.publicKey }).publicExtendedKey,
  }
}

describe('BIP-32 test vectors 1 to 4 (secp256k1)', () => {
  for (const vector of bip32.valid) {
    describe(vector.name, () => {
      const master = HDKey.fromExtendedKey(vector.chains[0]!.xprv)
      it.each(vector.chains)('$path', (chain) => {
        const key = deriveSecp256k1Key(bytes(vector.seed), vectorPath(chain.path))
        expect(serialise(key)).toEqual({ xprv: chain.xprv, xpub: chain.xpub })
        expect(key.curve).toBe('secp256k1')
        expect(key.path).toBe(vectorPath(chain.path))
        expect(key.depth).toBe(chain.path.split('/').length - 1)
        expect(key.publicKey).toHaveLength(33)
        expect(key.masterFingerprint).toBe(master.fingerprint)
        expect(bip32MasterFingerprint(bytes(vector.seed))).toBe(master.fingerprint)
      })
    })
  }

  it('accepts a parsed path and the h marker alike', () => {
    const seed = bytes(bip32.valid[0]!.seed)
    const want = bip32.valid[0]!.chains[3]!
    expect(serialise(deriveSecp256k1Key(seed, 'm/0h/1/2h')).xprv).toBe(want.xprv)
    expect(serialise(deriveSecp256k1Key(seed, parseDerivationPath("m/0'/1/2'"))).xprv).toBe(want.xprv)
  })

  it('re-reads the text of a parsed path (indices that disagree with it are not used)', () => {
    const seed = bytes(bip32.valid[0]!.seed)
    const forged = { path: "m/0'", indices: [1] }
    expect(serialise(deriveSecp256k1Key(seed, forged)).xprv).toBe(bip32.valid[0]!.chains[1]!.xprv)
  })
})

describe('BIP-32 test vector 5 (invalid extended keys)', () => {
  // This module derives from seeds and never parses an extended key, so TV5 does not apply to it. The
  // vectors guard the dependency that will parse them (@scure/bip32's fromExtendedKey) once an xpub import
  // exists: every one of them must be refused.
  it.each(bip32.invalid)('@scure/bip32 refuses $reason', ({ key }) => {
    expect(() => HDKey.fromExtendedKey(key)).toThrow()
  })
})

describe('SLIP-0010 ed25519 test vectors 1 and 2', () => {
  for (const vector of slip10.vectors) {
    describe(vector.name, () => {
      it.each(vector.chains)('$path', (chain) => {
        const key = deriveEd25519Key(bytes(vector.seed), vectorPath(chain.path))
        expect({
          private: hex(key.privateKey),
          chainCode: hex(key.chainCode),
          public: `00${hex(key.publicKey)}`,
          fingerprint: key.parentFingerprint.toString(16).padStart(8, '0'),
        }).toEqual({ private: chain.private, chainCode: chain.chainCode, public: chain.public, fingerprint: chain.fingerprint })
        expect(key.curve).toBe('ed25519')
        expect(key.depth).toBe(chain.path.split('/').length - 1)
        // The master's fingerprint is the parent fingerprint of its first child in the vectors.
        expect(key.masterFingerprint.toString(16).padStart(8, '0')).toBe(vector.chains[1]!.fingerprint)
      })
    })
  }

  it.each([
    ['m/0', 1],
    ["m/44'/501'/0'/0", 4],
    ["m/44'/501'/0/0'", 3],
  ] as const)('refuses %s: non-hardened level %i', (path, level) => {
    expect(refusal(() => deriveEd25519Key(new Uint8Array(64), path))).toEqual({
      field: 'path',
      rule: `must have every level hardened for ed25519 (SLIP-0010 has no non-hardened derivation): level ${level} is not`,
    })
  })

  it('refuses malformed paths before any derivation', () => {
    expect(refusal(() => deriveEd25519Key(new Uint8Array(64), "m/44'/501'/0'/0'/0'/0'/0'/0'/0'/0'/0'"))).toMatchObject({ rule: 'must be at most 10 levels deep' })
    expect(refusal(() => deriveEd25519Key(new Uint8Array(64), "m/2147483648'"))).toMatchObject({ rule: 'level 1 must be an index below 2^31' })
  })
})

describe('seeds', () => {
  it.each([
    ['15 bytes', new Uint8Array(15), 'must be 16 to 64 bytes (got 15)'],
    ['65 bytes', new Uint8Array(65), 'must be 16 to 64 bytes (got 65)'],
    ['a hex string', '00'.repeat(32), 'must be a Uint8Array'],
    ['an array', Array(32).fill(1), 'must be a Uint8Array'],
  ] as const)('refuses %s (both curves and the fingerprint)', (_, seed, rule) => {
    const s = seed as unknown as Uint8Array
    expect(refusal(() => deriveSecp256k1Key(s, 'm'))).toEqual({ field: 'seed', rule })
    expect(refusal(() => deriveEd25519Key(s, 'm'))).toEqual({ field: 'seed', rule })
    expect(refusal(() => bip32MasterFingerprint(s))).toEqual({ field: 'seed', rule })
  })

  it('returns fresh buffers and leaves the seed alone (zeroing a result affects nothing else)', () => {
    const seed = mnemonicToSeed(ABANDON)
    const copy = seed.slice()
    for (const derive of [deriveSecp256k1Key, deriveEd25519Key]) {
      const path = derive === deriveSecp256k1Key ? "m/44'/60'/0'/0/0" : "m/44'/501'/0'/0'"
      const first = derive(seed, path)
      const want = { privateKey: hex(first.privateKey), chainCode: hex(first.chainCode), publicKey: hex(first.publicKey) }
      first.privateKey.fill(0)
      first.chainCode.fill(0)
      const second = derive(seed, path)
      expect({ privateKey: hex(second.privateKey), chainCode: hex(second.chainCode), publicKey: hex(second.publicKey) }).toEqual(want)
      expect(want.privateKey).not.toBe('00'.repeat(32))
    }
    expect(seed).toEqual(copy)
  })
})

describe('"abandon … about" (no passphrase)', () => {
  const seed = mnemonicToSeed(ABANDON)

  it('has master fingerprint 73c5da0a (BIP-84/86 vectors)', () => {
    expect(bip32MasterFingerprint(seed).toString(16)).toBe('73c5da0a')
    expect(deriveSecp256k1Key(seed, "m/84'/0'/0'/0/0").masterFingerprint.toString(16)).toBe('73c5da0a')
  })

  it("gives 0x9858EfFD232B4033E47d90003D41EC34EcaEda94 at m/44'/60'/0'/0/0, as ethers does", () => {
    const key = deriveSecp256k1Key(seed, defaultDerivationPath({ family: 'evm' }))
    const address = privateKeyToAddress(key.privateKey)
    expect(address).toBe('0x9858EfFD232B4033E47d90003D41EC34EcaEda94')
    // ethers: its own BIP-39, BIP-32 and secp256k1 stack (no @scure code).
    const wallet = HDNodeWallet.fromPhrase(ABANDON, undefined, "m/44'/60'/0'/0/0")
    expect(wallet.address).toBe(address)
    expect(wallet.privateKey).toBe(`0x${hex(key.privateKey)}`)
    expect(wallet.chainCode).toBe(`0x${hex(key.chainCode)}`)
    expect(HDNodeWallet.fromPhrase(ABANDON, undefined, "m/44'/60'/0'/0/7").address).toBe(
      privateKeyToAddress(deriveSecp256k1Key(seed, defaultDerivationPath({ family: 'evm', account: 7 })).privateKey),
    )
  })
})

describe('defaultDerivationPath', () => {
  it.each([
    [{ family: 'evm' }, "m/44'/60'/0'/0/0"],
    [{ family: 'evm', account: 3 }, "m/44'/60'/0'/0/3"],
    [{ family: 'solana' }, "m/44'/501'/0'/0'"],
    [{ family: 'solana', account: 2 }, "m/44'/501'/2'/0'"],
    [{ family: 'bitcoin', format: 'p2pkh', network: 'mainnet' }, "m/44'/0'/0'/0/0"],
    [{ family: 'bitcoin', format: 'p2sh-p2wpkh', network: 'mainnet', account: 1 }, "m/49'/0'/1'/0/0"],
    [{ family: 'bitcoin', format: 'p2wpkh', network: 'mainnet', account: 5 }, "m/84'/0'/5'/0/0"],
    [{ family: 'bitcoin', format: 'p2tr', network: 'mainnet' }, "m/86'/0'/0'/0/0"],
    [{ family: 'bitcoin', format: 'p2wpkh', network: 'testnet' }, "m/84'/1'/0'/0/0"],
    [{ family: 'bitcoin', format: 'p2tr', network: 'signet', account: 2 }, "m/86'/1'/2'/0/0"],
    [{ family: 'bitcoin', format: 'p2pkh', network: 'regtest' }, "m/44'/1'/0'/0/0"],
    [{ family: 'evm', account: 2 ** 31 - 1 }, "m/44'/60'/0'/0/2147483647"],
  ] as [DefaultDerivationPathParameters, string][])('%j → %s', (parameters, path) => {
    expect(defaultDerivationPath(parameters).path).toBe(path)
  })

  it.each([
    [{ family: 'evm', account: -1 }, 'account', 'must be an integer from 0 to 2^31 - 1'],
    [{ family: 'evm', account: 2 ** 31 }, 'account', 'must be an integer from 0 to 2^31 - 1'],
    [{ family: 'solana', account: 1.5 }, 'account', 'must be an integer from 0 to 2^31 - 1'],
    [{ family: 'solana', account: '1' }, 'account', 'must be an integer from 0 to 2^31 - 1'],
    [{ family: 'cosmos' }, 'family', 'must be one of evm, bitcoin, solana'],
    [{}, 'family', 'must be one of evm, bitcoin, solana'],
    [{ family: 'bitcoin', format: 'p2wsh', network: 'mainnet' }, 'format', 'must be one of p2pkh, p2sh-p2wpkh, p2wpkh, p2tr'],
    [{ family: 'bitcoin', format: 'toString', network: 'mainnet' }, 'format', 'must be one of p2pkh, p2sh-p2wpkh, p2wpkh, p2tr'],
    [{ family: 'bitcoin', format: 'p2wpkh', network: 'bitcoin' }, 'network', 'must be one of mainnet, testnet, signet, regtest'],
    [{ family: 'bitcoin', format: 'p2wpkh' }, 'network', 'must be one of mainnet, testnet, signet, regtest'],
    [null, 'parameters', 'must be an object'],
  ])('refuses %j', (parameters, field, rule) => {
    expect(refusal(() => defaultDerivationPath(parameters as DefaultDerivationPathParameters))).toEqual({ field, rule })
  })

  it('does not read an inherited family or account', () => {
    const inherited = Object.create({ family: 'evm', account: 4 }) as DefaultDerivationPathParameters
    expect(refusal(() => defaultDerivationPath(inherited))).toMatchObject({ field: 'family' })
  })
})

describe('zeroing', () => {
  it('wipes the private key of every @scure/bip32 node it made, the master and the leaf included', () => {
    const wiped: HDKey[] = []
    const original = HDKey.prototype.wipePrivateData
    const spy = vi.spyOn(HDKey.prototype, 'wipePrivateData').mockImplementation(function (this: HDKey) {
      wiped.push(this)
      return original.call(this)
    })
    try {
      const key = deriveSecp256k1Key(mnemonicToSeed(ABANDON), "m/84'/0'/0'/0/0")
      expect(hex(key.privateKey)).not.toBe('00'.repeat(32))
    } finally {
      spy.mockRestore()
    }
    expect(wiped.map((node) => node.depth)).toEqual([0, 1, 2, 3, 4, 5])
    for (const node of wiped) expect(node.privateKey).toBeNull()
  })
})

describe('the module surface', () => {
  it('exports exactly these names', () => {
    expect(Object.keys(hd).sort()).toMatchInlineSnapshot(`
      [
        "BIP39_ENTROPY_BYTES",
        "BIP39_MAX_PASSPHRASE_LENGTH",
        "BIP39_WORD_COUNTS",
        "BITCOIN_ADDRESS_FORMATS",
        "HARDENED_OFFSET",
        "MAX_DERIVATION_DEPTH",
        "assertMnemonic",
        "bip32MasterFingerprint",
        "bitcoinAddress",
        "bitcoinAddresses",
        "defaultDerivationPath",
        "deriveEd25519Key",
        "deriveSecp256k1Key",
        "entropyToMnemonic",
        "evmAddress",
        "isValidMnemonic",
        "mnemonicToEntropy",
        "mnemonicToSeed",
        "parseDerivationPath",
        "solanaAddressOfPublicKey",
      ]
    `)
  })
})
