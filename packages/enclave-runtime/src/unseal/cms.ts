import { constants, createDecipheriv, type KeyObject, privateDecrypt } from 'node:crypto'
import { ContentInfo, EnvelopedData, id_data, id_envelopedData } from '@peculiar/asn1-cms'
import { AsnConvert, AsnProp, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier } from '@peculiar/asn1-x509'
import { IntegrityError, InvalidArgumentError } from '@enclave-custody/sdk'
import { berElementLength } from './berLength.js'

const OID_RSAES_OAEP = '1.2.840.113549.1.1.7'
const OID_MGF1 = '1.2.840.113549.1.1.8'
const OID_P_SPECIFIED = '1.2.840.113549.1.1.9'
const OID_SHA256 = '2.16.840.1.101.3.4.2.1'
const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42'
/** KMS answers stay far below this (CiphertextType is at most 6144 bytes). */
const MAX_CMS_BYTES = 64 * 1024

/** The fields of a KMS `CiphertextForRecipient` (RFC 5652 EnvelopedData) that decryption needs. */
export type ParsedEnvelopedData = {
  /** EnvelopedData version (2 from KMS and from `openssl cms -keyid`). */
  version: number
  /** The single KeyTransRecipientInfo. */
  recipient: {
    /** 2 (rid = subjectKeyIdentifier) or 0 (rid = issuerAndSerialNumber). */
    version: number
    /** The rid when it is a subjectKeyIdentifier (32 bytes from KMS; what it hashes is undocumented, so it is not matched). */
    subjectKeyIdentifier?: Uint8Array
  }
  /** Always RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label: anything else is rejected. */
  keyEncryptionAlgorithm: 'RSAES-OAEP-SHA-256'
  /** The RSA-wrapped content-encryption key. */
  encryptedKey: Uint8Array
  /** Always AES-256-CBC: anything else is rejected. */
  contentEncryptionAlgorithm: 'AES-256-CBC'
  /** 16 bytes. */
  iv: Uint8Array
  /** The encrypted content (chunks of a constructed encoding concatenated); a non-empty multiple of 16 bytes. */
  ciphertext: Uint8Array
}

/** RSAES-OAEP-params (RFC 8017 A.2.1) without the library's defaults, so that absent fields stay visible. */
class OaepParams {
  hashAlgorithm?: AlgorithmIdentifier
  maskGenAlgorithm?: AlgorithmIdentifier
  pSourceAlgorithm?: AlgorithmIdentifier
}
AsnType({ type: AsnTypeTypes.Sequence })(OaepParams)
AsnProp({ type: AlgorithmIdentifier, context: 0, optional: true })(OaepParams.prototype, 'hashAlgorithm')
AsnProp({ type: AlgorithmIdentifier, context: 1, optional: true })(OaepParams.prototype, 'maskGenAlgorithm')
AsnProp({ type: AlgorithmIdentifier, context: 2, optional: true })(OaepParams.prototype, 'pSourceAlgorithm')

/**
 * Parse a CMS EnvelopedData as KMS returns it in `CiphertextForRecipient`, and check that it is exactly
 * the expected shape: BER (indefinite lengths, as KMS sends) or DER (as OpenSSL writes); EnvelopedData
 * version 0 or 2; exactly one KeyTransRecipientInfo (version 2 with a subjectKeyIdentifier, or 0 with
 * issuerAndSerialNumber); RSAES-OAEP with SHA-256, MGF1-SHA-256 and an empty label; id-data content
 * encrypted with AES-256-CBC under a 16-byte IV; no trailing bytes.
 *
 * @param der - The CMS ContentInfo (BER or DER).
 * @returns The encrypted key, IV and ciphertext.
 * @throws IntegrityError when the input is malformed or uses anything but the algorithms above.
 * @example
 * import { parseEnvelopedData } from '@enclave-custody/enclave-runtime'
 * const { encryptedKey, iv, ciphertext } = parseEnvelopedData(ciphertextForRecipient)
 */
export function parseEnvelopedData(der: Uint8Array): ParsedEnvelopedData {
  if (!(der instanceof Uint8Array)) throw new InvalidArgumentError({ field: 'der', rule: 'must be a Uint8Array' })
  if (der.length === 0 || der.length > MAX_CMS_BYTES) malformed(`must be 1..${MAX_CMS_BYTES} bytes`)
  const length = berElementLength(der)
  if (length === undefined) malformed('truncated or malformed BER')
  if (length !== der.length) malformed(`${der.length - length} trailing byte(s)`)

  const contentInfo = parse(der, ContentInfo, 'ContentInfo')
  if (contentInfo.contentType !== id_envelopedData) malformed('content type is not id-envelopedData')
  const enveloped = parse(new Uint8Array(contentInfo.content), EnvelopedData, 'EnvelopedData')
  if (enveloped.version !== 0 && enveloped.version !== 2) malformed(`unsupported EnvelopedData version ${enveloped.version}`)
  if (enveloped.recipientInfos.length !== 1) malformed(`expected exactly one RecipientInfo, got ${enveloped.recipientInfos.length}`)
  const ktri = enveloped.recipientInfos[0]!.ktri
  if (ktri === undefined) malformed('the RecipientInfo is not a KeyTransRecipientInfo')

  const recipient: ParsedEnvelopedData['recipient'] = { version: ktri.version }
  const ski = ktri.rid.subjectKeyIdentifier
  if (ktri.version === 2) {
    if (ski === undefined) malformed('KeyTransRecipientInfo version 2 must identify the recipient by subjectKeyIdentifier')
    recipient.subjectKeyIdentifier = new Uint8Array(ski.buffer)
  } else if (ktri.version === 0) {
    if (ktri.rid.issuerAndSerialNumber === undefined) malformed('KeyTransRecipientInfo version 0 must identify the recipient by issuerAndSerialNumber')
  } else {
    malformed(`unsupported KeyTransRecipientInfo version ${ktri.version}`)
  }
  checkOaep(ktri.keyEncryptionAlgorithm)
  const encryptedKey = new Uint8Array(ktri.encryptedKey.buffer)
  if (encryptedKey.length === 0) malformed('the encrypted key is empty')

  const eci = enveloped.encryptedContentInfo
  if (eci.contentType !== id_data) malformed('the encrypted content type is not id-data')
  const cea = eci.contentEncryptionAlgorithm
  if (cea.algorithm !== OID_AES256_CBC) malformed('content encryption is not AES-256-CBC')
  if (!(cea.parameters instanceof ArrayBuffer)) malformed('AES-256-CBC parameters (the IV) are missing')
  const iv = new Uint8Array(parse(new Uint8Array(cea.parameters), OctetString, 'IV').buffer)
  if (iv.length !== 16) malformed(`the IV must be 16 bytes, got ${iv.length}`)

  const content = eci.encryptedContent
  let ciphertext: Uint8Array
  if (content?.value !== undefined) ciphertext = new Uint8Array(content.value.buffer)
  else if (content?.constructedValue !== undefined) ciphertext = Buffer.concat(content.constructedValue.map((chunk) => new Uint8Array(chunk.buffer)))
  else return malformed('the encrypted content is absent')
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) malformed('the ciphertext length is not a positive multiple of 16')

  return {
    version: enveloped.version,
    recipient,
    keyEncryptionAlgorithm: 'RSAES-OAEP-SHA-256',
    encryptedKey,
    contentEncryptionAlgorithm: 'AES-256-CBC',
    iv,
    ciphertext: new Uint8Array(ciphertext),
  }
}

/**
 * Decrypt a KMS `CiphertextForRecipient`: parse it ({@link parseEnvelopedData}), unwrap the 32-byte
 * content-encryption key with RSAES-OAEP-SHA-256 and the enclave's RSA private key, and AES-256-CBC-decrypt
 * the content (PKCS#7 padding). The unwrapped key and intermediate plaintext buffers are zeroed before
 * returning; OpenSSL's own copies inside the cipher context are out of JavaScript's reach.
 *
 * @param der - The CMS EnvelopedData (BER or DER).
 * @param rsaPrivateKey - The enclave's ephemeral RSA private key (at least 2048 bits).
 * @returns The plaintext; the caller owns it and zeroes it when done.
 * @throws IntegrityError when the CMS is malformed or does not decrypt with this key.
 * @throws InvalidArgumentError when `rsaPrivateKey` is not an RSA private key.
 * @example
 * import { decryptEnvelopedData } from '@enclave-custody/enclave-runtime'
 * const privateKey = decryptEnvelopedData(response.CiphertextForRecipient, rsa.privateKey)
 */
export function decryptEnvelopedData(der: Uint8Array, rsaPrivateKey: KeyObject): Uint8Array {
  if (
    typeof rsaPrivateKey !== 'object' ||
    rsaPrivateKey === null ||
    (rsaPrivateKey as { type?: unknown }).type !== 'private' ||
    rsaPrivateKey.asymmetricKeyType !== 'rsa' ||
    (rsaPrivateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048
  ) {
    throw new InvalidArgumentError({ field: 'rsaPrivateKey', rule: 'must be an RSA private KeyObject of at least 2048 bits' })
  }
  const parsed = parseEnvelopedData(der)
  let contentKey: Buffer | undefined
  const parts: Buffer[] = []
  try {
    try {
      contentKey = privateDecrypt({ key: rsaPrivateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, parsed.encryptedKey)
    } catch {
      throw new IntegrityError({ reason: 'the content-encryption key does not unwrap with the enclave key (RSAES-OAEP-SHA-256)' })
    }
    if (contentKey.length !== 32) throw new IntegrityError({ reason: `the unwrapped content-encryption key is ${contentKey.length} bytes, expected 32` })
    try {
      const decipher = createDecipheriv('aes-256-cbc', contentKey, parsed.iv)
      parts.push(decipher.update(parsed.ciphertext))
      parts.push(decipher.final())
    } catch {
      throw new IntegrityError({ reason: 'the content does not decrypt (AES-256-CBC padding check failed)' })
    }
    const length = parts.reduce((n, p) => n + p.length, 0)
    const plaintext = new Uint8Array(length)
    let offset = 0
    for (const part of parts) {
      plaintext.set(part, offset)
      offset += part.length
    }
    return plaintext
  } finally {
    contentKey?.fill(0)
    for (const part of parts) part.fill(0)
  }
}

function checkOaep(algorithm: AlgorithmIdentifier): void {
  if (algorithm.algorithm !== OID_RSAES_OAEP) malformed('key encryption is not RSAES-OAEP')
  if (!(algorithm.parameters instanceof ArrayBuffer)) malformed('RSAES-OAEP parameters are missing (the SHA-1 defaults are not accepted)')
  const params = parse(new Uint8Array(algorithm.parameters), OaepParams, 'RSAES-OAEP-params')
  if (params.hashAlgorithm === undefined || !isSha256(params.hashAlgorithm)) malformed('the RSAES-OAEP hash is not SHA-256')
  const mgf = params.maskGenAlgorithm
  if (
    mgf === undefined ||
    mgf.algorithm !== OID_MGF1 ||
    !(mgf.parameters instanceof ArrayBuffer) ||
    !isSha256(parse(new Uint8Array(mgf.parameters), AlgorithmIdentifier, 'MGF1 hash'))
  ) {
    malformed('the RSAES-OAEP mask generation is not MGF1 with SHA-256')
  }
  const pSource = params.pSourceAlgorithm
  if (pSource !== undefined) {
    if (pSource.algorithm !== OID_P_SPECIFIED || !(pSource.parameters instanceof ArrayBuffer)) malformed('unsupported RSAES-OAEP label source')
    if (parse(new Uint8Array(pSource.parameters), OctetString, 'OAEP label').byteLength !== 0) malformed('RSAES-OAEP labels are not supported')
  }
}

/** SHA-256 with absent or NULL parameters (RFC 5754 §2 allows both). */
function isSha256(algorithm: AlgorithmIdentifier): boolean {
  if (algorithm.algorithm !== OID_SHA256) return false
  if (algorithm.parameters === undefined || algorithm.parameters === null) return true
  const raw = new Uint8Array(algorithm.parameters)
  return raw.length === 2 && raw[0] === 0x05 && raw[1] === 0x00
}

function parse<T>(bytes: Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(bytes, type)
  } catch {
    return malformed(`${what} does not parse`)
  }
}

function malformed(reason: string): never {
  throw new IntegrityError({ reason: `CMS EnvelopedData: ${reason}` })
}
