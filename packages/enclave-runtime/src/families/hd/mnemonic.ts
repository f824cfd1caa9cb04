import { InvalidArgumentError } from '@enclave-custody/sdk'
import { entropyToMnemonic as scureEntropyToMnemonic, mnemonicToEntropy as scureMnemonicToEntropy, mnemonicToSeedSync } from '@scure/bip39'
import { wordlist as english } from '@scure/bip39/wordlists/english.js'

/**
 * BIP-39 (English word list) on top of @scure/bip39: entropy ↔ mnemonic, strict mnemonic validation, and the
 * seed. Errors name the field and the rule, never a word of the mnemonic nor the passphrase.
 *
 * What JavaScript cannot wipe: the mnemonic and passphrase are immutable strings (as are their NFKD forms and
 * the words split from them); PBKDF2's internal state lives in @scure/bip39 / @noble/hashes. The byte arrays
 * returned here (entropy, seed) are the caller's to zero with `fill(0)` once used.
 */

/** Entropy sizes BIP-39 defines, in bytes (128 to 256 bits in steps of 32). */
export const BIP39_ENTROPY_BYTES = [16, 20, 24, 28, 32] as const
/** Word counts BIP-39 defines (entropy + checksum bits, 11 bits per word). */
export const BIP39_WORD_COUNTS = [12, 15, 18, 21, 24] as const
/** Longest passphrase accepted, in characters (after NFKD): a bound on the input, far above any real use. */
export const BIP39_MAX_PASSPHRASE_LENGTH = 1024

const WORDS = new Set(english)
// 24 words of at most 8 letters and 23 spaces: anything longer is refused before it is split.
const MAX_MNEMONIC_LENGTH = 24 * 8 + 23

function assertEntropy(entropy: unknown, field: string): Uint8Array {
  if (!(entropy instanceof Uint8Array)) throw new InvalidArgumentError({ field, rule: 'must be a Uint8Array' })
  if (!(BIP39_ENTROPY_BYTES as readonly number[]).includes(entropy.length)) {
    throw new InvalidArgumentError({ field, rule: `must be 16, 20, 24, 28 or 32 bytes (got ${entropy.length})` })
  }
  return entropy
}

function isWellFormed(value: string): boolean {
  // A lone surrogate cannot be NFKD-normalised reliably nor UTF-8 encoded as PBKDF2 input.
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)
}

/**
 * The English BIP-39 mnemonic of `entropy`.
 *
 * @param entropy - 16, 20, 24, 28 or 32 bytes (12 to 24 words), only read.
 * @param field - Field the error names. @default 'entropy'
 * @returns The mnemonic: lower-case English words separated by single spaces (an immutable string: it cannot
 *   be wiped).
 * @throws InvalidArgumentError naming `field` when `entropy` is not a Uint8Array of a BIP-39 size.
 * @example
 * import { entropyToMnemonic } from './mnemonic.js'
 * entropyToMnemonic(new Uint8Array(16)) // 'abandon abandon … abandon about' (12 words)
 */
export function entropyToMnemonic(entropy: Uint8Array, field = 'entropy'): string {
  return scureEntropyToMnemonic(assertEntropy(entropy, field), english)
}

/**
 * Check an English BIP-39 mnemonic strictly and return it in canonical (NFKD) form: 12, 15, 18, 21 or 24
 * words of the English list, separated by single spaces (no leading, trailing or repeated whitespace: a
 * mnemonic spelt differently would give a different seed), with a valid checksum.
 *
 * @param mnemonic - The mnemonic to check.
 * @param field - Field the error names. @default 'mnemonic'
 * @returns The NFKD-normalised mnemonic.
 * @throws InvalidArgumentError naming `field` and the broken rule (never a word of the mnemonic).
 * @example
 * import { assertMnemonic } from './mnemonic.js'
 * assertMnemonic('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about')
 */
export function assertMnemonic(mnemonic: unknown, field = 'mnemonic'): string {
  if (typeof mnemonic !== 'string') throw new InvalidArgumentError({ field, rule: 'must be a string' })
  if (mnemonic.length > MAX_MNEMONIC_LENGTH * 2) throw new InvalidArgumentError({ field, rule: 'is too long for a BIP-39 mnemonic' })
  if (!isWellFormed(mnemonic)) throw new InvalidArgumentError({ field, rule: 'must be well-formed Unicode' })
  const normalized = mnemonic.normalize('NFKD')
  if (normalized.length > MAX_MNEMONIC_LENGTH) throw new InvalidArgumentError({ field, rule: 'is too long for a BIP-39 mnemonic' })
  if (!/^[a-z]+( [a-z]+)*$/.test(normalized)) {
    throw new InvalidArgumentError({ field, rule: 'must be lower-case English words separated by single spaces' })
  }
  const words = normalized.split(' ')
  if (!(BIP39_WORD_COUNTS as readonly number[]).includes(words.length)) {
    throw new InvalidArgumentError({ field, rule: `must have 12, 15, 18, 21 or 24 words (got ${words.length})` })
  }
  const unknown = words.findIndex((word) => !WORDS.has(word))
  if (unknown >= 0) throw new InvalidArgumentError({ field, rule: `word ${unknown + 1} is not in the BIP-39 English word list` })
  try {
    scureMnemonicToEntropy(normalized, english).fill(0)
  } catch {
    // Everything but the checksum was checked above. The library's error is not kept as `cause`: it may
    // quote the mnemonic.
    throw new InvalidArgumentError({ field, rule: 'has an invalid checksum' })
  }
  return normalized
}

/**
 * Whether `mnemonic` is a valid English BIP-39 mnemonic under the rules of {@link assertMnemonic}.
 *
 * @param mnemonic - The value to check.
 * @returns `true` when {@link assertMnemonic} would accept it.
 * @example
 * import { isValidMnemonic } from './mnemonic.js'
 * isValidMnemonic('zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo') // false (checksum)
 */
export function isValidMnemonic(mnemonic: unknown): boolean {
  try {
    assertMnemonic(mnemonic)
    return true
  } catch {
    return false
  }
}

/**
 * The entropy an English BIP-39 mnemonic encodes (the inverse of {@link entropyToMnemonic}).
 *
 * @param mnemonic - A mnemonic valid under {@link assertMnemonic}.
 * @param field - Field the error names. @default 'mnemonic'
 * @returns 16 to 32 fresh bytes: the caller zeroes them when done.
 * @throws InvalidArgumentError naming `field` when the mnemonic is not valid.
 * @example
 * import { mnemonicToEntropy } from './mnemonic.js'
 * mnemonicToEntropy('legal winner thank year wave sausage worth useful legal winner thank yellow') // 16 × 0x7f
 */
export function mnemonicToEntropy(mnemonic: string, field = 'mnemonic'): Uint8Array {
  return scureMnemonicToEntropy(assertMnemonic(mnemonic, field), english)
}

/**
 * The 64-byte BIP-39 seed: PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" ‖ NFKD(passphrase), 2048 rounds).
 * Unlike the bare library function, the mnemonic's word list and checksum are checked first.
 *
 * @param mnemonic - A mnemonic valid under {@link assertMnemonic}.
 * @param passphrase - The optional BIP-39 passphrase ("25th word"), at most
 *   {@link BIP39_MAX_PASSPHRASE_LENGTH} characters after NFKD. @default ''
 * @returns 64 fresh bytes: the caller zeroes them when done.
 * @throws InvalidArgumentError naming `mnemonic` or `passphrase` and the broken rule (never their value).
 * @example
 * import { mnemonicToSeed } from './mnemonic.js'
 * const seed = mnemonicToSeed('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', 'TREZOR')
 * // seed begins c55257c3…; zero it with seed.fill(0) once the keys are derived
 */
export function mnemonicToSeed(mnemonic: string, passphrase = ''): Uint8Array {
  const normalized = assertMnemonic(mnemonic)
  if (typeof passphrase !== 'string') throw new InvalidArgumentError({ field: 'passphrase', rule: 'must be a string' })
  if (!isWellFormed(passphrase)) throw new InvalidArgumentError({ field: 'passphrase', rule: 'must be well-formed Unicode' })
  if (passphrase.length > BIP39_MAX_PASSPHRASE_LENGTH || passphrase.normalize('NFKD').length > BIP39_MAX_PASSPHRASE_LENGTH) {
    throw new InvalidArgumentError({ field: 'passphrase', rule: `must be at most ${BIP39_MAX_PASSPHRASE_LENGTH} characters` })
  }
  return mnemonicToSeedSync(normalized, passphrase)
}
