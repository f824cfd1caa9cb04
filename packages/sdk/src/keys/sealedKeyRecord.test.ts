import { describe, expect, it } from 'vitest'
import { SealedKeyRecordSchema } from './sealedKeyRecord.js'

const BASE = {
  version: 2,
  keyId: 'acct',
  sealing: 'local-aes-gcm',
  dataKey: 'AAAA',
  ciphertext: 'AAAA',
  encryptionContext: { keyId: 'acct', owners: 'x', record: 'v2' },
  createdAt: '2026-01-01T00:00:00.000Z',
  owners: { publicKeys: [`0x02${'11'.repeat(32)}`], threshold: 1 },
  creator: `0x02${'11'.repeat(32)}`,
  enclaveSignature: { keyId: `0x${'22'.repeat(32)}`, signature: `0x${'33'.repeat(64)}` },
}
const ACCOUNT = { kind: 'hd-account', fingerprint: '0x73c5da0a', walletId: 'w', walletPublicKey: `0x03${'44'.repeat(32)}` }

const issues = (record: unknown) => {
  const parsed = SealedKeyRecordSchema.safeParse(record)
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('sealed key records of every kind', () => {
  it('tells an ed25519 account key from a secp256k1 one by its length, whatever its first byte', () => {
    // Solana account 56 of the BIP-39 test mnemonic: an ed25519 key that starts with 0x0e.
    const solana = { ...BASE, ...ACCOUNT, family: 'solana', path: "m/44'/501'/56'/0'", address: '21JGr3aa6qLjeLBDEPdxpWe7fEWbYiY7oaEYSy8jYQqY', publicKey: '0x0ef56a2dccd386b59d14489391dd5e8b969799295f775150df3999b9221350a2' }
    expect(issues(solana)).toEqual([])
    // A compressed secp256k1 key on a Solana account, and a 32-byte key on an EVM account, are refused.
    expect(issues({ ...solana, publicKey: `0x02${'55'.repeat(32)}` })).toEqual(['publicKey: must be an ed25519 public key'])
    const evm = { ...BASE, ...ACCOUNT, family: 'evm', path: "m/44'/60'/0'/0/0", address: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94', publicKey: `0x02${'55'.repeat(32)}` }
    expect(issues(evm)).toEqual([])
    expect(issues({ ...evm, publicKey: solana.publicKey })).toEqual(['publicKey: must be a compressed secp256k1 public key'])
  })

  it('refuses fields that are not its kind\'s and requires those that are', () => {
    expect(issues({ ...BASE, kind: 'secp256k1', address: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94', path: "m/44'/60'/0'/0/0" })).toEqual(['path: is not a field of a secp256k1 record'])
    expect(issues({ ...BASE, kind: 'hd-wallet', fingerprint: '0x73c5da0a' })).toEqual(['publicKey: is required for a hd-wallet record'])
    expect(issues({ ...BASE, ...ACCOUNT, family: 'bitcoin', path: "m/84'/0'/0'/0/0", address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', publicKey: `0x02${'55'.repeat(32)}` })).toEqual([
      'network: is required for a hd-account record',
      'format: is required for a hd-account record',
    ])
    expect(issues({ ...BASE, kind: 'ed25519', address: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94' })).toEqual(['address: must be a base58 ed25519 public key'])
  })
})
