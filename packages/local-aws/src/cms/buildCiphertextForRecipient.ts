import { constants, createCipheriv, createHash, createPublicKey, type KeyObject, publicEncrypt, randomBytes } from 'node:crypto'
import {
  CMSVersion,
  ContentEncryptionAlgorithmIdentifier,
  ContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  id_data,
  id_envelopedData,
  KeyEncryptionAlgorithmIdentifier,
  KeyTransRecipientInfo,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
} from '@peculiar/asn1-cms'
import { id_mgf1, id_RSAES_OAEP, id_sha256, RsaEsOaepParams } from '@peculiar/asn1-rsa'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, SubjectKeyIdentifier } from '@peculiar/asn1-x509'
import { InvalidArgumentError } from '@enclave-custody/sdk'

/** id-aes256-CBC (NIST). */
export const ID_AES256_CBC = '2.16.840.1.101.3.4.1.42'

export type BuildCiphertextForRecipientParameters = {
  /** The bytes only the recipient may read (a data key, a decrypted plaintext, random bytes). */
  plaintext: Uint8Array
  /** The recipient's RSA public key as DER SubjectPublicKeyInfo (an attestation document's `public_key`). */
  recipientPublicKey: Uint8Array
}

/**
 * Build a KMS-style `CiphertextForRecipient`: a DER CMS ContentInfo / EnvelopedData (RFC 5652) with one
 * KeyTransRecipientInfo (version 2, rid = `[0]` SubjectKeyIdentifier = SHA-256 of the recipient SPKI, key
 * encryption RSAES-OAEP with SHA-256 and MGF1-SHA-256) wrapping a fresh 32-byte content key, and the
 * content encrypted with AES-256-CBC (PKCS#7 padding, random 16-byte IV in the algorithm parameters).
 *
 * Real KMS emits BER with indefinite lengths; the structure is the same and every CMS parser that reads the
 * KMS form reads DER too. `openssl cms -decrypt -inform DER -inkey <key>` decrypts it.
 *
 * @param parameters - the plaintext and the recipient key
 * @returns the DER bytes
 * @throws InvalidArgumentError when the recipient key is not an RSA SubjectPublicKeyInfo of 2048..4096 bits
 * @example
 * import { buildCiphertextForRecipient } from '@enclave-custody/local-aws'
 * const cms = buildCiphertextForRecipient({ plaintext: dataKey, recipientPublicKey: spkiDer })
 */
export function buildCiphertextForRecipient({ plaintext, recipientPublicKey }: BuildCiphertextForRecipientParameters): Uint8Array {
  const publicKey = rsaPublicKey(recipientPublicKey)
  const contentKey = randomBytes(32)
  const iv = randomBytes(16)
  try {
    const cipher = createCipheriv('aes-256-cbc', contentKey, iv)
    const encryptedContent = Buffer.concat([cipher.update(plaintext), cipher.final()])
    const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, contentKey)

    const sha256 = new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null })
    const oaepParams = new RsaEsOaepParams({
      hashAlgorithm: sha256,
      maskGenAlgorithm: new AlgorithmIdentifier({ algorithm: id_mgf1, parameters: AsnConvert.serialize(sha256) }),
    })
    const ktri = new KeyTransRecipientInfo({
      version: CMSVersion.v2,
      rid: new RecipientIdentifier({
        subjectKeyIdentifier: new SubjectKeyIdentifier(createHash('sha256').update(recipientPublicKey).digest()),
      }),
      keyEncryptionAlgorithm: new KeyEncryptionAlgorithmIdentifier({
        algorithm: id_RSAES_OAEP,
        parameters: AsnConvert.serialize(oaepParams),
      }),
      encryptedKey: new OctetString(encryptedKey),
    })
    const envelopedData = new EnvelopedData({
      version: CMSVersion.v2,
      recipientInfos: new RecipientInfos([new RecipientInfo({ ktri })]),
      encryptedContentInfo: new EncryptedContentInfo({
        contentType: id_data,
        contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier({
          algorithm: ID_AES256_CBC,
          parameters: AsnConvert.serialize(new OctetString(iv)),
        }),
        encryptedContent: new EncryptedContent({ value: new OctetString(encryptedContent) }),
      }),
    })
    const contentInfo = new ContentInfo({ contentType: id_envelopedData, content: AsnConvert.serialize(envelopedData) })
    return new Uint8Array(AsnConvert.serialize(contentInfo))
  } finally {
    contentKey.fill(0)
  }
}

function rsaPublicKey(spki: Uint8Array): KeyObject {
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
  } catch (cause) {
    throw new InvalidArgumentError({ field: 'recipientPublicKey', rule: 'must be a DER SubjectPublicKeyInfo', cause })
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048 || bits > 4096) {
    throw new InvalidArgumentError({ field: 'recipientPublicKey', rule: 'must be an RSA key of 2048 to 4096 bits' })
  }
  return key
}
