import { generateKeyPair } from 'node:crypto'
import { promisify } from 'node:util'
import {
  DecryptCommand,
  type DecryptCommandOutput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandOutput,
  KMSClient,
  type RecipientInfo,
} from '@aws-sdk/client-kms'
import {
  AttestationError,
  CustodyError,
  DEFAULT_KEY_POLICY,
  ErrorCode,
  encryptionContextsEqual,
  IntegrityError,
  InvalidArgumentError,
  isValidPrivateKeyBytes,
  type KeyPolicy,
  keyEncryptionContext,
  type Owners,
  recordEncryptionContext,
} from '@enclave-custody/sdk'
import type { AttestationProvider, AwsCredentials, SealedKeyRecord, SealedSecret, Sealer, UnsealContext } from '../keys/types.js'
import { AMAZON_TRUST_SERVICES_ROOTS } from '../trust/amazonTrustServicesRoots.js'
import { checkKmsKeyArn } from '../trust/checkKmsKeyArn.js'
import { checkAwsEndpoint, createClientsPerCredentials, trustedRootsOf } from '../trust/awsClients.js'
import { decryptEnvelopedData } from './cms.js'
import { mapKmsError } from './mapKmsError.js'

/** Options of {@link createKmsSealer}. */

/**
 * One KMS call, retries and queueing for a socket included, ends within this: a parent that stalls the
 * vsock proxy holds a request (and the frame it parsed) for at most this long.
 */
export const KMS_CALL_DEADLINE_MS = 15_000
export type CreateKmsSealerParameters = {
  /** Produces the attestation documents (the NSM in production, the software NSM locally). */
  attestation: AttestationProvider
  /** AWS region of the KMS endpoint. */
  region: string
  /** KMS endpoint override (e.g. local-aws over HTTPS). @default the regional AWS endpoint, https://kms.<region>.amazonaws.com */
  endpoint?: string
  /**
   * The sealing key, pinned: its full key ARN (`arn:aws:kms:<region>:<account>:key/<key id>`, in `region`;
   * no alias, no bare key id — see `checkKmsKeyArn`). `generate` creates keys under it; `unseal` refuses a
   * record naming another key before calling KMS and sends it as `KeyId`; both refuse a KMS response whose
   * `KeyId` is not this ARN.
   */
  kmsKeyArn: string
  /**
   * The only roots the KMS client's TLS trusts (PEM, one certificate per entry). Node's default store and
   * `NODE_EXTRA_CA_CERTS` are not used. @default AMAZON_TRUST_SERVICES_ROOTS (compiled into the runtime, so
   * measured into PCR0)
   */
  caCertificates?: readonly string[]
  /** Accept a plain `http://` endpoint (local development only: nothing authenticates KMS then). @default false */
  allowHttpEndpoint?: boolean
  /** Reuse an attestation document for at most this long; KMS refuses documents older than 5 minutes. @default 240_000 */
  documentRefreshMs?: number
  /** How many GenerateDataKey calls `generate` makes before giving up on getting a valid secp256k1 scalar. @default 4 */
  maxGenerateAttempts?: number
  /** Attempts per KMS call, including the first (the AWS SDK's retry strategy). @default 3 */
  maxAttempts?: number
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number
}

/** The attested KMS sealer: unseals and generates keys that only this enclave instance can read. */
export type KmsSealer = Sealer & {
  readonly kind: 'aws-kms'
  unseal(record: SealedKeyRecord, context?: UnsealContext): Promise<Uint8Array>
  generate(keyId: string, context?: UnsealContext, policy?: KeyPolicy, owners?: Owners, format?: 1 | 2): Promise<{ privateKey: Uint8Array; sealed: SealedSecret }>
  /** DER SubjectPublicKeyInfo of this boot's ephemeral RSA-2048 key (the documents' `public_key`). */
  readonly recipientPublicKey: Uint8Array
  /** Close the KMS clients' connections. */
  close(): void
}

/** What {@link createKmsSealer} resolves to. */
export type CreateKmsSealerReturnType = KmsSealer

const generateRsa = promisify(generateKeyPair)

/**
 * Create the attested KMS sealer (kind `aws-kms`).
 *
 * At creation it makes an ephemeral RSA-2048 key pair that never leaves this process. Each KMS call
 * carries `Recipient { KeyEncryptionAlgorithm: RSAES_OAEP_SHA_256, AttestationDocument }`, where the
 * document (from `attestation`, refreshed before it is `documentRefreshMs` old) holds the RSA public key
 * as `public_key`; KMS checks the document against the key policy and answers with
 * `CiphertextForRecipient`, a CMS EnvelopedData only this key pair can open.
 *
 * The sealing key is pinned (`kmsKeyArn`, a full key ARN measured into the image): a record whose
 * `kmsKeyId` is not that ARN is refused before any KMS request (the parent could otherwise forward
 * credentials of another account and a record sealed under that account's permissive key); Decrypt and
 * GenerateDataKey always send the pinned ARN as `KeyId` (so KMS refuses a ciphertext of another key), and a
 * response whose `KeyId` is not the pinned ARN is refused before its ciphertext is opened. TLS to KMS ends
 * here and trusts only `caCertificates` (by default the Amazon Trust Services roots compiled into the
 * runtime); a plain `http://` endpoint needs `allowHttpEndpoint` (development).
 *
 * - `unseal(record, { credentials })`: KMS Decrypt of what the record seals (a v1 record's `ciphertext`, the
 *   private key; a v2 record's `dataKey`) as `CiphertextBlob`, with the record's `EncryptionContext`, which must be
 *   exactly `recordEncryptionContext(record)`: the record's own `keyId`, the SHA-256 of its policy when that is
 *   not the default, its owners' hash, and `record: 'v2'` for a v2 record. A record whose policy or owners
 *   were edited, or a v2 data key moved into a v1 record (or the reverse), thus either fails this check or is
 *   refused by KMS (InvalidCiphertextException).
 * - `generate(keyId, { credentials }, policy, owners, format)`: KMS GenerateDataKey (AES_256, context
 *   `keyEncryptionContext(keyId, policy, owners, format)`); the handler asks for format 2, the data key of a
 *   v2 record. The 32-byte key is retried while it is not a valid secp256k1 scalar (format 1 uses it as the
 *   private key).
 *
 * There is no `seal`: the enclave role has no `kms:Encrypt`. A response that carries `Plaintext` (KMS
 * ignored the Recipient) is refused. Each set of forwarded credentials gets its own `KMSClient`.
 *
 * @param parameters - Attestation provider, region/endpoint, pinned KMS key ARN, trusted roots, timings.
 * @returns The sealer.
 * @throws InvalidArgumentError on malformed parameters (an alias or bare key id as `kmsKeyArn`, a key of
 *   another region, an `http://` endpoint without `allowHttpEndpoint`, a `caCertificates` entry that is not
 *   a CA certificate).
 * @example
 * import { createKmsSealer, createSoftwareNsm } from '@enclave-custody/enclave-runtime'
 * const sealer = await createKmsSealer({
 *   attestation: await createSoftwareNsm(),
 *   region: 'us-east-1',
 *   kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
 * })
 * const { privateKey, sealed } = await sealer.generate('key-1', { credentials })
 */
export async function createKmsSealer(parameters: CreateKmsSealerParameters): Promise<CreateKmsSealerReturnType> {
  const {
    attestation,
    region,
    endpoint,
    kmsKeyArn,
    caCertificates = AMAZON_TRUST_SERVICES_ROOTS,
    allowHttpEndpoint = false,
    documentRefreshMs = 240_000,
    maxGenerateAttempts = 4,
    maxAttempts = 3,
    now = Date.now,
  } = parameters
  if (typeof attestation?.attest !== 'function') throw new InvalidArgumentError({ field: 'attestation', rule: 'must be an AttestationProvider' })
  if (typeof region !== 'string' || !/^[a-z0-9-]{1,64}$/.test(region)) throw new InvalidArgumentError({ field: 'region', rule: 'must be an AWS region name' })
  checkAwsEndpoint(endpoint, { allowHttp: allowHttpEndpoint, service: 'KMS' })
  checkKmsKeyArn(kmsKeyArn, { field: 'kmsKeyArn', region })
  const trustedRoots = trustedRootsOf(caCertificates)
  if (!Number.isSafeInteger(documentRefreshMs) || documentRefreshMs <= 0 || documentRefreshMs > 290_000) {
    throw new InvalidArgumentError({ field: 'documentRefreshMs', rule: 'must be an integer in 1..290000 (KMS accepts documents up to 5 minutes old)' })
  }
  if (!Number.isSafeInteger(maxGenerateAttempts) || maxGenerateAttempts < 1 || maxGenerateAttempts > 16) {
    throw new InvalidArgumentError({ field: 'maxGenerateAttempts', rule: 'must be an integer in 1..16' })
  }
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) throw new InvalidArgumentError({ field: 'maxAttempts', rule: 'must be an integer in 1..10' })

  const { privateKey: rsaPrivateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
  const recipientPublicKey = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))

  // The attestation document, shared by concurrent callers and replaced before it gets too old.
  let current: { document: Uint8Array; fetchedAt: number } | undefined
  let pending: Promise<Uint8Array> | undefined
  const attestationDocument = (): Promise<Uint8Array> => {
    const t = now()
    if (current !== undefined && t - current.fetchedAt < documentRefreshMs && t >= current.fetchedAt) return Promise.resolve(current.document)
    pending ??= (async () => {
      try {
        const fetchedAt = now()
        let document: Uint8Array
        try {
          document = await attestation.attest({ publicKey: recipientPublicKey })
        } catch (cause) {
          throw cause instanceof CustodyError ? cause : new AttestationError({ reason: 'the attestation provider could not produce a document', cause })
        }
        current = { document, fetchedAt }
        return document
      } finally {
        pending = undefined
      }
    })()
    return pending
  }
  const recipient = async (): Promise<RecipientInfo> => ({ KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: await attestationDocument() })

  // One client per credential set (the parent forwards short-lived instance-role credentials).
  const clients = createClientsPerCredentials({ make: (config) => new KMSClient(config), region, endpoint, trustedRoots, maxAttempts })
  const clientFor = (context: UnsealContext | undefined): KMSClient => clients.clientFor(checkCredentials(context?.credentials))

  // KMS names the key it used in `KeyId` (the key ARN). Anything else answered for another key, or was not KMS.
  const checkResponseKeyId = (response: { KeyId?: string | undefined; Plaintext?: Uint8Array | undefined }, operation: string): void => {
    if (response.KeyId === kmsKeyArn) return
    response.Plaintext?.fill(0)
    throw new IntegrityError({
      reason:
        response.KeyId === undefined
          ? `KMS ${operation} returned no KeyId`
          : `KMS ${operation} answered for another KMS key than the one this enclave pins`,
      details: { field: 'KeyId' },
    })
  }

  const openRecipientCiphertext = (ciphertextForRecipient: Uint8Array | undefined, plaintext: Uint8Array | undefined, operation: string): Uint8Array => {
    if (plaintext !== undefined && plaintext.length > 0) {
      plaintext.fill(0)
      throw new IntegrityError({ reason: `KMS ${operation} returned Plaintext instead of CiphertextForRecipient: the Recipient was ignored` })
    }
    if (ciphertextForRecipient === undefined || ciphertextForRecipient.length === 0) {
      throw new IntegrityError({ reason: `KMS ${operation} returned no CiphertextForRecipient` })
    }
    return decryptEnvelopedData(ciphertextForRecipient, rsaPrivateKey)
  }

  return {
    kind: 'aws-kms',
    recipientPublicKey,
    async unseal(record, context) {
      const { ciphertextBlob, encryptionContext } = checkRecord(record, kmsKeyArn)
      const client = clientFor(context)
      const command = new DecryptCommand({
        CiphertextBlob: ciphertextBlob,
        EncryptionContext: encryptionContext,
        // Always the pinned key: KMS then refuses (IncorrectKeyException) a ciphertext of any other key.
        KeyId: kmsKeyArn,
        Recipient: await recipient(),
      })
      let response: DecryptCommandOutput
      try {
        response = await client.send(command, { abortSignal: AbortSignal.timeout(KMS_CALL_DEADLINE_MS) })
      } catch (e) {
        throw mapKmsError(e, 'Decrypt')
      }
      checkResponseKeyId(response, 'Decrypt')
      const key = openRecipientCiphertext(response.CiphertextForRecipient, response.Plaintext, 'Decrypt')
      if (key.length !== 32) {
        key.fill(0)
        throw new IntegrityError({ reason: 'the unsealed key is not 32 bytes' })
      }
      return key
    },
    async generate(keyId, context, policy = DEFAULT_KEY_POLICY, owners, format = 1) {
      if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 256) throw new InvalidArgumentError({ field: 'keyId', rule: 'must be a string of 1..256 characters' })
      const client = clientFor(context)
      const encryptionContext = keyEncryptionContext(keyId, policy, owners, format)
      for (let attempt = 1; attempt <= maxGenerateAttempts; attempt++) {
        const command = new GenerateDataKeyCommand({ KeyId: kmsKeyArn, KeySpec: 'AES_256', EncryptionContext: encryptionContext, Recipient: await recipient() })
        let response: GenerateDataKeyCommandOutput
        try {
          response = await client.send(command, { abortSignal: AbortSignal.timeout(KMS_CALL_DEADLINE_MS) })
        } catch (e) {
          throw mapKmsError(e, 'GenerateDataKey')
        }
        checkResponseKeyId(response, 'GenerateDataKey')
        const blob = response.CiphertextBlob
        const privateKey = openRecipientCiphertext(response.CiphertextForRecipient, response.Plaintext, 'GenerateDataKey')
        if (blob === undefined || blob.length === 0) {
          privateKey.fill(0)
          throw new IntegrityError({ reason: 'KMS GenerateDataKey returned no CiphertextBlob' })
        }
        if (privateKey.length !== 32) {
          privateKey.fill(0)
          throw new IntegrityError({ reason: 'KMS GenerateDataKey returned a data key that is not 32 bytes' })
        }
        if (isValidPrivateKeyBytes(privateKey)) {
          return {
            privateKey,
            sealed: { sealing: 'aws-kms', kmsKeyId: kmsKeyArn, ciphertext: Buffer.from(blob).toString('base64'), encryptionContext: { ...encryptionContext } },
          }
        }
        privateKey.fill(0)
      }
      throw new IntegrityError({ reason: `KMS GenerateDataKey gave no valid secp256k1 private key in ${maxGenerateAttempts} attempts` })
    },
    close() {
      clients.close()
    },
  }
}

function checkCredentials(credentials: AwsCredentials | undefined): AwsCredentials {
  if (credentials === undefined) {
    throw new CustodyError(ErrorCode.UNAUTHENTICATED, { shortMessage: 'no AWS credentials were forwarded with the request: the KMS sealer needs them' })
  }
  const { accessKeyId, secretAccessKey, sessionToken, expiration } = credentials as Record<string, unknown>
  if (typeof accessKeyId !== 'string' || !/^[A-Za-z0-9]{1,128}$/.test(accessKeyId)) {
    throw new InvalidArgumentError({ field: 'credentials.accessKeyId', rule: 'must be an AWS access key id' })
  }
  if (typeof secretAccessKey !== 'string' || secretAccessKey.length === 0 || secretAccessKey.length > 256) {
    throw new InvalidArgumentError({ field: 'credentials.secretAccessKey', rule: 'must be a non-empty string' })
  }
  if (sessionToken !== undefined && (typeof sessionToken !== 'string' || sessionToken.length === 0 || sessionToken.length > 8192)) {
    throw new InvalidArgumentError({ field: 'credentials.sessionToken', rule: 'must be a non-empty string when present' })
  }
  if (expiration !== undefined && typeof expiration !== 'string') throw new InvalidArgumentError({ field: 'credentials.expiration', rule: 'must be an ISO-8601 string' })
  return credentials
}

function checkRecord(record: SealedKeyRecord, kmsKeyArn: string): { ciphertextBlob: Uint8Array; encryptionContext: Record<string, string> } {
  if (typeof record !== 'object' || record === null) throw new InvalidArgumentError({ field: 'record', rule: 'must be a sealed key record' })
  if (record.sealing !== 'aws-kms') throw new InvalidArgumentError({ field: 'record.sealing', rule: 'must be "aws-kms" for the KMS sealer' })
  // The parent may forward another account's credentials with a record sealed under that account's key
  // (whose policy allows anything): only the pinned key is ever asked to decrypt.
  if (record.kmsKeyId !== kmsKeyArn) {
    throw new IntegrityError({ reason: "the record's kmsKeyId is not the KMS key this enclave pins", details: { field: 'record.kmsKeyId' } })
  }
  const context = record.encryptionContext
  if (typeof context !== 'object' || context === null || Array.isArray(context) || Object.values(context).some((v) => typeof v !== 'string')) {
    throw new InvalidArgumentError({ field: 'record.encryptionContext', rule: 'must be an object of strings' })
  }
  // KMS only checks that the context matches the ciphertext; this check binds both to the record's keyId,
  // so a ciphertext moved (with its context) into another key's record is refused.
  if (typeof record.keyId !== 'string' || context.keyId !== record.keyId) {
    throw new IntegrityError({ reason: 'the record\'s encryption context does not bind its keyId' })
  }
  // …and to its format, policy and owners: edited in the record, they no longer match the context (or, if the
  // context was edited along with them, KMS refuses the ciphertext). A v2 data key's context names the format
  // (`record: 'v2'`): re-wrapped as a v1 record's ciphertext, it is refused here or by KMS, and the reverse.
  let expected: Record<string, string>
  try {
    expected = recordEncryptionContext(record)
  } catch {
    throw new IntegrityError({ reason: "the record's policy or owners are malformed" })
  }
  if (!encryptionContextsEqual(context, expected)) {
    throw new IntegrityError({ reason: "the record's encryption context does not bind its policy and owners" })
  }
  // What the record seals: a v1 record's private key, a v2 record's data key.
  const [field, sealed] = record.version === 2 ? ['record.dataKey', record.dataKey] : ['record.ciphertext', record.ciphertext]
  if (typeof sealed !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(sealed) || sealed.length % 4 !== 0) {
    throw new InvalidArgumentError({ field, rule: 'must be base64' })
  }
  const ciphertextBlob = new Uint8Array(Buffer.from(sealed, 'base64'))
  if (ciphertextBlob.length === 0 || ciphertextBlob.length > 6144) throw new InvalidArgumentError({ field, rule: 'must decode to 1..6144 bytes' })
  return { ciphertextBlob, encryptionContext: { ...context } }
}
