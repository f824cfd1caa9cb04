import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from '@enclave-custody/sdk'
import { HDKey } from '@scure/bip32'
import { describe, expect, it } from 'vitest'
import { deriveSecp256k1Key } from '../src/families/hd/derive.js'
import { assertMnemonic, entropyToMnemonic, isValidMnemonic, mnemonicToEntropy, mnemonicToSeed } from '../src/families/hd/mnemonic.js'

// BIP-39 known answers: trezor/python-mnemonic vectors.json (where from: test/vectors/hd/SOURCES.md).
const trezor = JSON.parse(readFileSync(new URL('./vectors/hd/bip39-trezor-english.json', import.meta.url), 'utf8')) as {
  passphrase: string
  english: [entropy: string, mnemonic: string, seed: string, xprv: string][]
}
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'))
const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'

/** Run `f`, expect an InvalidArgumentError, return its details and message. */
function refusal(f: () => unknown): { field: unknown; rule: unknown; message: string } {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError)
    const err = e as InvalidArgumentError
    expect(err.cause).toBeUndefined()
    return { field: err.details?.field, rule: err.details?.rule, message: err.message }
  }
  throw new Error('expected an InvalidArgumentError, nothing was thrown')
}

describe('BIP-39 Trezor vectors (passphrase "TREZOR")', () => {
  it('covers 12, 18 and 24 words, at least 12 entries', () => {
    const counts = new Set(trezor.english.map(([, m]) => m.split(' ').length))
    expect(trezor.english.length).toBeGreaterThanOrEqual(12)
    expect([...counts].sort((a, b) => a - b)).toEqual([12, 18, 24])
  })

  it.each(trezor.english.map((v) => [v[1].split(' ').length, ...v] as const))('%i words: %s', (_, entropy, mnemonic, seed, xprv) => {
    expect(entropyToMnemonic(bytes(entropy))).toBe(mnemonic)
    expect(hex(mnemonicToEntropy(mnemonic))).toBe(entropy)
    expect(assertMnemonic(mnemonic)).toBe(mnemonic)
    expect(isValidMnemonic(mnemonic)).toBe(true)
    const derived = mnemonicToSeed(mnemonic, trezor.passphrase)
    expect(hex(derived)).toBe(seed)
    // The vector's fourth column: the BIP-32 root of that seed.
    const root = deriveSecp256k1Key(derived, 'm')
    expect(new HDKey({ chainCode: root.chainCode, privateKey: root.privateKey }).privateExtendedKey).toBe(xprv)
  })
})

describe('mnemonicToSeed', () => {
  it('uses the passphrase (empty by default) and gives the BIP-84 vectors’ seed for "abandon … about"', () => {
    // Without a passphrase, "abandon … about" is the seed behind BIP-84/86's root xprv (checked in hdAddresses).
    expect(hex(mnemonicToSeed(ABANDON))).toBe(
      '5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4',
    )
    expect(hex(mnemonicToSeed(ABANDON, ''))).toBe(hex(mnemonicToSeed(ABANDON)))
    expect(hex(mnemonicToSeed(ABANDON, 'TREZOR'))).toBe(trezor.english[0]![2])
  })

  it('normalises mnemonic and passphrase to NFKD (full-width letters are the ASCII ones)', () => {
    const fullWidth = (s: string) => [...s].map((c) => (c === ' ' ? c : String.fromCharCode(c.charCodeAt(0) + 0xfee0))).join('')
    expect(fullWidth('zoo')).toBe('ｚｏｏ')
    expect(assertMnemonic(fullWidth(ABANDON))).toBe(ABANDON)
    expect(hex(mnemonicToSeed(fullWidth(ABANDON), fullWidth('TREZOR')))).toBe(trezor.english[0]![2])
    // A passphrase with a composed character and its decomposed form give the same seed.
    expect(hex(mnemonicToSeed(ABANDON, 'caf\u00e9'))).toBe(hex(mnemonicToSeed(ABANDON, 'cafe\u0301')))
    expect(hex(mnemonicToSeed(ABANDON, 'cafe'))).not.toBe(hex(mnemonicToSeed(ABANDON, 'caf\u00e9')))
  })

  it('checks the checksum first (the bare library function does not)', () => {
    const bad = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon'
    expect(refusal(() => mnemonicToSeed(bad))).toMatchObject({ field: 'mnemonic', rule: 'has an invalid checksum' })
  })

  it('refuses a passphrase that is not a string, not well-formed, or over 1024 characters', () => {
    expect(refusal(() => mnemonicToSeed(ABANDON, 7 as unknown as string))).toMatchObject({ field: 'passphrase', rule: 'must be a string' })
    expect(refusal(() => mnemonicToSeed(ABANDON, 'a\uD800b'))).toMatchObject({ field: 'passphrase', rule: 'must be well-formed Unicode' })
    expect(refusal(() => mnemonicToSeed(ABANDON, 'x'.repeat(1025)))).toMatchObject({ field: 'passphrase', rule: 'must be at most 1024 characters' })
    expect(mnemonicToSeed(ABANDON, 'x'.repeat(1024))).toHaveLength(64)
  })
})

describe('entropyToMnemonic: entropy sizes', () => {
  it.each([16, 20, 24, 28, 32])('accepts %i bytes and round-trips', (n) => {
    const entropy = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff)
    const mnemonic = entropyToMnemonic(entropy)
    expect(mnemonic.split(' ')).toHaveLength((n * 8 + n / 4) / 11)
    expect(mnemonicToEntropy(mnemonic)).toEqual(entropy)
  })

  it.each([0, 1, 12, 15, 17, 18, 31, 33, 36, 64])('refuses %i bytes', (n) => {
    expect(refusal(() => entropyToMnemonic(new Uint8Array(n)))).toEqual({
      field: 'entropy',
      rule: `must be 16, 20, 24, 28 or 32 bytes (got ${n})`,
      message: `"entropy" must be 16, 20, 24, 28 or 32 bytes (got ${n})`,
    })
  })

  it.each([['a hex string', '00'.repeat(16)], ['an array', Array(16).fill(0)], ['null', null], ['a Buffer-like object', { length: 16 }]])('refuses %s', (_, value) => {
    expect(refusal(() => entropyToMnemonic(value as unknown as Uint8Array))).toMatchObject({ field: 'entropy', rule: 'must be a Uint8Array' })
  })
})

describe('assertMnemonic: bad mnemonics, never echoed', () => {
  const words = ABANDON.split(' ')
  const cases: [string, unknown, string][] = [
    ['a bad checksum (12 words)', 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon', 'has an invalid checksum'],
    ['a bad checksum (24 words)', `${'zoo '.repeat(23)}zoo`, 'has an invalid checksum'],
    ['a swapped last word', `${words.slice(0, 11).join(' ')} above`, 'has an invalid checksum'],
    ['a word not in the list', `${words.slice(0, 5).join(' ')} bitcoin ${words.slice(6).join(' ')}`, 'word 6 is not in the BIP-39 English word list'],
    ['a misspelt word', `abandn ${words.slice(1).join(' ')}`, 'word 1 is not in the BIP-39 English word list'],
    ['11 words', words.slice(1).join(' '), 'must have 12, 15, 18, 21 or 24 words (got 11)'],
    ['13 words', `abandon ${ABANDON}`, 'must have 12, 15, 18, 21 or 24 words (got 13)'],
    ['25 words', `${ABANDON} ${ABANDON} abandon`, 'must have 12, 15, 18, 21 or 24 words (got 25)'],
    ['30 words of 8 letters', Array(30).fill('abstract').join(' '), 'is too long for a BIP-39 mnemonic'],
    ['upper case', ABANDON.toUpperCase(), 'must be lower-case English words separated by single spaces'],
    ['a double space', ABANDON.replace(' ', '  '), 'must be lower-case English words separated by single spaces'],
    ['a leading space', ` ${ABANDON}`, 'must be lower-case English words separated by single spaces'],
    ['a trailing newline', `${ABANDON}\n`, 'must be lower-case English words separated by single spaces'],
    ['tabs', ABANDON.replaceAll(' ', '\t'), 'must be lower-case English words separated by single spaces'],
    ['digits', ABANDON.replace('about', 'ab0ut'), 'must be lower-case English words separated by single spaces'],
    ['the empty string', '', 'must be lower-case English words separated by single spaces'],
    ['a lone surrogate', `${ABANDON}\uDC00`, 'must be well-formed Unicode'],
    ['a very long string', 'a'.repeat(100_000), 'is too long for a BIP-39 mnemonic'],
    ['a number', 12, 'must be a string'],
    ['an array of words', words, 'must be a string'],
    ['undefined', undefined, 'must be a string'],
  ]

  it.each(cases)('refuses %s, naming the rule and no word', (_, mnemonic, rule) => {
    const { field, rule: got, message } = refusal(() => assertMnemonic(mnemonic))
    expect({ field, rule: got }).toEqual({ field: 'mnemonic', rule })
    for (const word of ['abandon', 'about', 'above', 'zoo', 'bitcoin', 'abandn', 'ABANDON']) expect(message).not.toContain(word)
    expect(isValidMnemonic(mnemonic)).toBe(false)
    if (typeof mnemonic === 'string') {
      expect(() => mnemonicToEntropy(mnemonic)).toThrow(InvalidArgumentError)
      expect(() => mnemonicToSeed(mnemonic)).toThrow(InvalidArgumentError)
    }
  })

  it('names the field it is given', () => {
    expect(refusal(() => assertMnemonic('zoo', 'import.mnemonic'))).toMatchObject({ field: 'import.mnemonic' })
    expect(refusal(() => mnemonicToEntropy('zoo', 'wallet.mnemonic'))).toMatchObject({ field: 'wallet.mnemonic' })
  })

  it('gives a message a person can act on', () => {
    expect(refusal(() => assertMnemonic(`${words.slice(0, 11).join(' ')} above`)).message).toMatchInlineSnapshot(`""mnemonic" has an invalid checksum"`)
  })
})
