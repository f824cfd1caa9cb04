/**
 * Solana addresses: the base58 address of an ed25519 key from `solanaAddress` equals what @solana/kit
 * derives from the same seed through WebCrypto (an independent ed25519 and base58), for known and random
 * seeds; `solanaAddressBytes` accepts exactly the canonical 32-byte base58 strings.
 */
import { isCustodyError } from '@enclave-custody/sdk'
import { ed25519 } from '@noble/curves/ed25519.js'
import { createKeyPairFromPrivateKeyBytes, getAddressFromPublicKey, getAddressEncoder, type Address } from '@solana/kit'
import { describe, expect, it } from 'vitest'
import { solanaAddress, solanaAddressBytes } from '../src/families/solana/address.js'
import { createRng } from './rng.js'

const kitAddress = async (seed: Uint8Array) => getAddressFromPublicKey((await createKeyPairFromPrivateKeyBytes(seed)).publicKey)

describe('Solana addresses', () => {
  it('known vectors: the System Program, and the key of the RFC 8032 test 1 seed', async () => {
    expect(solanaAddress(new Uint8Array(32))).toBe('11111111111111111111111111111111')
    // RFC 8032 §7.1 TEST 1: its public key d75a9801…511a is this address.
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex')
    expect(Buffer.from(ed25519.getPublicKey(seed)).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    expect(solanaAddress(ed25519.getPublicKey(seed))).toBe(await kitAddress(seed))
    expect(solanaAddress(ed25519.getPublicKey(seed))).toBe('FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z')
  })

  it('equals @solana/kit for 32 random seeds, and round-trips through solanaAddressBytes', async () => {
    const rng = createRng(0x501a_0005)
    for (let i = 0; i < 32; i++) {
      const seed = rng.bytes(32)
      const address = solanaAddress(ed25519.getPublicKey(seed))
      expect(address).toBe(await kitAddress(seed))
      expect(solanaAddressBytes(address)).toEqual(new Uint8Array(getAddressEncoder().encode(address as Address)))
    }
  })

  it.each([
    ['a 31-byte key', () => solanaAddress(new Uint8Array(31)), 'publicKey'],
    ['a string key', () => solanaAddress('11111111111111111111111111111111' as unknown as Uint8Array), 'publicKey'],
    ['a non-base58 letter', () => solanaAddressBytes('0000000000000000000000000000000000000000000'), 'address'],
    ['33 bytes', () => solanaAddressBytes(`1${'11111111111111111111111111111111'}`), 'address'],
    ['31 bytes', () => solanaAddressBytes('1111111111111111111111111111111'), 'address'],
    ['too long', () => solanaAddressBytes('F'.repeat(45)), 'address'],
    ['not a string', () => solanaAddressBytes(42 as unknown as string), 'address'],
  ])('refuses %s', (_, f, field) => {
    let error: unknown
    try {
      f()
    } catch (e) {
      error = e
    }
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe(field)
  })
})
