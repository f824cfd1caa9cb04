import { execFileSync } from 'node:child_process'
import { constants, createDecipheriv, createHash, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isCustodyError } from '@enclave-custody/sdk'
import { ContentInfo, EnvelopedData, id_data, id_envelopedData } from '@peculiar/asn1-cms'
import { id_mgf1, id_RSAES_OAEP, id_sha256, RsaEsOaepParams } from '@peculiar/asn1-rsa'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier } from '@peculiar/asn1-x509'
import { afterAll, describe, expect, it } from 'vitest'
import { buildCiphertextForRecipient, ID_AES256_CBC } from './buildCiphertextForRecipient.js'

/**
 * keyEncryptionAlgorithm of the real KMS CiphertextForRecipient in aws-nitro-enclaves-sdk-c
 * `tests/kmstool-enclaves/cms_test.c` (`input_ber`), re-encoded in DER (see vectors/SOURCES.md §2).
 */
const KMS_KEY_ENCRYPTION_ALGORITHM =
  '303c06092a864886f70d010107302fa00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500'

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
const dir = mkdtempSync(join(tmpdir(), 'local-aws-cms-'))
const keyPem = join(dir, 'key.pem')
writeFileSync(keyPem, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function parse(der: Uint8Array) {
  const info = AsnConvert.parse(der, ContentInfo)
  expect(info.contentType).toBe(id_envelopedData)
  return AsnConvert.parse(info.content, EnvelopedData)
}

describe('buildCiphertextForRecipient', () => {
  const plaintext = randomBytes(32)
  const der = buildCiphertextForRecipient({ plaintext, recipientPublicKey: spki })

  it('has the KMS structure: EnvelopedData v2, one ktri v2 with a 32-byte SKI = SHA-256(SPKI)', () => {
    const enveloped = parse(der)
    expect(enveloped.version).toBe(2)
    expect(enveloped.recipientInfos).toHaveLength(1)
    const ktri = enveloped.recipientInfos[0]!.ktri!
    expect(ktri.version).toBe(2)
    const ski = new Uint8Array(ktri.rid.subjectKeyIdentifier!.buffer)
    expect(Buffer.from(ski).toString('hex')).toBe(createHash('sha256').update(spki).digest('hex'))
    expect(ktri.encryptedKey.byteLength).toBe(256)
  })

  it('uses RSAES-OAEP with SHA-256 and MGF1-SHA-256, byte-identical to the KMS sample', () => {
    const ktri = parse(der).recipientInfos[0]!.ktri!
    expect(ktri.keyEncryptionAlgorithm.algorithm).toBe(id_RSAES_OAEP)
    const params = AsnConvert.parse(ktri.keyEncryptionAlgorithm.parameters!, RsaEsOaepParams)
    expect(params.hashAlgorithm.algorithm).toBe(id_sha256)
    expect(params.maskGenAlgorithm.algorithm).toBe(id_mgf1)
    expect(AsnConvert.parse(params.maskGenAlgorithm.parameters!, AlgorithmIdentifier).algorithm).toBe(id_sha256)
    expect(Buffer.from(AsnConvert.serialize(ktri.keyEncryptionAlgorithm)).toString('hex')).toBe(KMS_KEY_ENCRYPTION_ALGORITHM)
  })

  it('encrypts the content with AES-256-CBC under the wrapped key (decrypted here with node:crypto)', () => {
    const enveloped = parse(der)
    const eci = enveloped.encryptedContentInfo
    expect(eci.contentType).toBe(id_data)
    expect(eci.contentEncryptionAlgorithm.algorithm).toBe(ID_AES256_CBC)
    const iv = new Uint8Array(AsnConvert.parse(eci.contentEncryptionAlgorithm.parameters!, OctetString).buffer)
    expect(iv).toHaveLength(16)
    const ktri = enveloped.recipientInfos[0]!.ktri!
    const contentKey = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      new Uint8Array(ktri.encryptedKey.buffer),
    )
    expect(contentKey).toHaveLength(32)
    const decipher = createDecipheriv('aes-256-cbc', contentKey, iv)
    const body = new Uint8Array(eci.encryptedContent!.value!.buffer)
    expect(Buffer.concat([decipher.update(body), decipher.final()])).toEqual(plaintext)
  })

  it('decrypts with `openssl cms -decrypt -inform DER -inkey <key>` (independent implementation)', () => {
    const out = execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-inkey', keyPem, '-binary'], { input: der })
    expect(Buffer.compare(out, plaintext)).toBe(0)
  })

  it('does not decrypt with another key (openssl fails)', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    const otherPem = join(dir, 'other.pem')
    writeFileSync(otherPem, other.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    expect(() => execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-inkey', otherPem, '-binary'], { input: der, stdio: 'pipe' })).toThrow()
  })

  it('uses a fresh content key and IV each time', () => {
    const again = buildCiphertextForRecipient({ plaintext, recipientPublicKey: spki })
    expect(Buffer.compare(again, der)).not.toBe(0)
  })

  it.each([
    ['garbage', new Uint8Array([1, 2, 3])],
    ['an EC key', new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' }))],
    ['RSA-1024', new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }))],
  ])('rejects %s as the recipient key', (_, key) => {
    let caught: unknown
    try {
      buildCiphertextForRecipient({ plaintext, recipientPublicKey: key })
    } catch (e) {
      caught = e
    }
    expect(isCustodyError(caught, 'INVALID_ARGUMENT')).toBe(true)
  })
})
