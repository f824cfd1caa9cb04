import { z } from 'zod'
import { KEY_ID_PATTERN } from '../protocol/keyId.js'
import { isDefaultKeyPolicy, keyEncryptionContext, type KeyPolicy, KeyPolicySchema, normalizeKeyPolicy } from './keyPolicy.js'
import { type Owners, OwnersSchema } from './owners.js'
import { contextBytes } from '../session/contextBytes.js'

const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

const EncryptionContextSchema = z
    .unknown()
    .superRefine((value, ctx) => {
      // zod's record copy skips an own `__proto__` silently: refuse such keys instead of dropping them.
      if (typeof value === 'object' && value !== null && Object.keys(value).some((k) => RESERVED_KEYS.has(k))) {
        ctx.addIssue({ code: 'custom', message: 'must not have a key named __proto__, constructor or prototype' })
      }
    })
    .pipe(z.record(z.string(), z.string()))

/**
 * The sealed key record (one per key; in AWS the Secrets Manager secret `enclave-custody/keys/<keyId>`):
 * public facts about a key plus its private key sealed by KMS (or, in development, by a local key).
 * It holds no plaintext: it may travel through the parent and the SDK, and is validated wherever it arrives.
 */
export const SealedKeyRecordV1Schema = z.strictObject({
  version: z.literal(1),
  keyId: z.string().regex(KEY_ID_PATTERN),
  curve: z.literal('secp256k1'),
  /** EIP-55 address derived from the key. */
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  /** Which sealer produced `ciphertext`. */
  sealing: z.enum(['local-aes-gcm', 'aws-kms']),
  /** KMS key id or ARN (aws-kms sealing). */
  kmsKeyId: z.string().min(1).max(2048).optional(),
  /** Base64: a KMS CiphertextBlob (aws-kms) or an AES-GCM envelope (local-aes-gcm). */
  ciphertext: z.string().min(1).max(8192).regex(/^[A-Za-z0-9+/]+={0,2}$/),
  /** Bound to the ciphertext (KMS encryption context): a record moved to another keyId does not unseal. */
  encryptionContext: EncryptionContextSchema,
  /** ISO-8601. */
  createdAt: z.iso.datetime(),
  /**
   * What the key may sign beyond the default (absent: nothing). Bound to the ciphertext: a non-default
   * policy's SHA-256 is part of `encryptionContext`, so an edited policy makes the unsealing fail.
   */
  policy: KeyPolicySchema.optional(),
  /**
   * Who may use the key (canonical: compressed keys, sorted, distinct). Bound to the ciphertext: its hash is
   * part of `encryptionContext`. Absent on records sealed before owners existed: those serve only the
   * image's `legacyOwners`.
   */
  owners: OwnersSchema.optional(),
})


/** What a v2 record's sealed material is: a plain key, an HD wallet's BIP-39 seed, or an HD account's derived key. */
export const RECORD_KINDS = ['secp256k1', 'ed25519', 'hd-wallet', 'hd-account'] as const
export type RecordKind = (typeof RECORD_KINDS)[number]

/** The chain families an HD account is created for. */
export const ACCOUNT_FAMILIES = ['evm', 'bitcoin', 'solana'] as const
export type AccountFamily = (typeof ACCOUNT_FAMILIES)[number]

export const BITCOIN_NETWORK_NAMES = ['mainnet', 'testnet', 'signet', 'regtest'] as const
export const BITCOIN_ADDRESS_FORMATS = ['p2pkh', 'p2sh-p2wpkh', 'p2wpkh', 'p2tr'] as const

const EVM_ADDRESS = /^0x[0-9a-fA-F]{40}$/
const BASE58_32 = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/
const BITCOIN_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{25,35}$|^(bc|tb|bcrt)1[02-9ac-hj-np-z]{8,87}$/
const PATH = /^m(\/[0-9]{1,10}'?){1,10}$/
const hexOf = (bytes: number) => new RegExp(`^0x[0-9a-f]{${bytes * 2}}$`)

/**
 * Record format v2: what the enclave creates (generated and imported keys, HD wallets and their accounts). The key
 * material is under AES-256-GCM with a fresh 32-byte data key and the record header (`recordHeaderBytes`) as
 * associated data; the data key is sealed like a v1 key (KMS GenerateDataKey with the enclave's attestation as
 * `Recipient`, or the local sealer), bound to `encryptionContext` (a v1 key's context plus `record: 'v2'`, so that
 * a data key and a v1 private key never stand in for each other). `enclaveSignature` is the creating enclave's
 * response-key signature over the record (`recordSigningBytes`): the importer stores only a record whose
 * signature verifies.
 *
 * `kind` names the key material, and every kind-specific field is in the header, so bound by the AAD:
 * - `secp256k1`: a 32-byte key; `address` its EIP-55 address (signs EVM payloads and Bitcoin PSBTs).
 * - `ed25519`: a 32-byte seed (RFC 8032); `address` its base58 public key (signs Solana payloads).
 * - `hd-wallet`: a 64-byte BIP-39 seed; no address; `publicKey` the BIP-32 master public key (compressed) and
 *   `fingerprint` its BIP-32 fingerprint. Its accounts sign; the wallet itself does not.
 * - `hd-account`: the 32-byte key derived from wallet `walletId` at `path` (BIP-32 for secp256k1, SLIP-0010 for
 *   ed25519) for one `family` (a Bitcoin account is one leaf key, `…/0/0` by default, with its `network` and the
 *   `format` of its address). `walletPublicKey` names the wallet whose signing policy and rolling limits govern the
 *   account; its owners and sealed policy are the wallet's.
 */
export const SealedKeyRecordV2Schema = z
  .strictObject({
    version: z.literal(2),
    kind: z.enum(RECORD_KINDS),
    keyId: z.string().regex(KEY_ID_PATTERN),
    /** The key's primary address (absent for an HD wallet): see the kinds above. */
    address: z.string().max(100).optional(),
    /** hd-wallet: the master public key; hd-account: the account's public key (secp256k1 compressed, or ed25519). */
    publicKey: z.string().regex(/^0x(?:0[23][0-9a-f]{64}|[0-9a-f]{64})$/).optional(),
    /** hd-wallet and hd-account: the wallet's BIP-32 master fingerprint (what PSBT derivation records name). */
    fingerprint: z.string().regex(hexOf(4)).optional(),
    walletId: z.string().regex(KEY_ID_PATTERN).optional(),
    /** hd-account: the wallet's master public key (compressed), whose signing policy governs the account. */
    walletPublicKey: z.string().regex(/^0x0[23][0-9a-f]{64}$/).optional(),
    family: z.enum(ACCOUNT_FAMILIES).optional(),
    path: z.string().regex(PATH).optional(),
    /** Bitcoin accounts: the network and the address format of `address` (the account's first receive address). */
    network: z.enum(BITCOIN_NETWORK_NAMES).optional(),
    format: z.enum(BITCOIN_ADDRESS_FORMATS).optional(),
    sealing: z.enum(['local-aes-gcm', 'aws-kms']),
    kmsKeyId: z.string().min(1).max(2048).optional(),
    /** Base64: the sealed data key (a KMS CiphertextBlob, or the local sealer's envelope). */
    dataKey: z.string().min(1).max(8192).regex(/^[A-Za-z0-9+/]+={0,2}$/),
    /** Base64: 12-byte IV ‖ AES-256-GCM ciphertext of the key material ‖ 16-byte tag. */
    ciphertext: z.string().min(1).max(8192).regex(/^[A-Za-z0-9+/]+={0,2}$/),
    encryptionContext: EncryptionContextSchema,
    createdAt: z.iso.datetime(),
    policy: KeyPolicySchema.optional(),
    owners: OwnersSchema,
    /**
     * The API key (compressed point) whose stamped request created the key: part of the header, so bound to the
     * sealing. A client accepts a key only from a creator it trusts (itself by default), so a key the parent
     * had the enclave create under its own API key — even one naming the victim as owner — is refused.
     */
    creator: z.string().regex(/^0x0[23][0-9a-f]{64}$/),
    enclaveSignature: z.strictObject({
      /** The creating enclave's response key id (SHA-256 of its attested point). */
      keyId: z.string().regex(/^0x[0-9a-f]{64}$/),
      signature: z.string().regex(/^0x[0-9a-f]{128}$/),
    }),
  })
  .superRefine((r, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message })
    const only = (fields: readonly string[]) => {
      for (const f of ['address', 'publicKey', 'fingerprint', 'walletId', 'walletPublicKey', 'family', 'path', 'network', 'format'] as const) {
        const present = r[f] !== undefined
        if (present !== fields.includes(f)) issue(f, present ? `is not a field of a ${r.kind} record` : `is required for a ${r.kind} record`)
      }
    }
    switch (r.kind) {
      case 'secp256k1':
        only(['address'])
        if (r.address !== undefined && !EVM_ADDRESS.test(r.address)) issue('address', 'must be an EIP-55 address')
        return
      case 'ed25519':
        only(['address'])
        if (r.address !== undefined && !BASE58_32.test(r.address)) issue('address', 'must be a base58 ed25519 public key')
        return
      case 'hd-wallet':
        only(['publicKey', 'fingerprint'])
        if (r.publicKey !== undefined && !/^0x0[23]/.test(r.publicKey)) issue('publicKey', 'must be a compressed secp256k1 point')
        return
      case 'hd-account': {
        const bitcoin = r.family === 'bitcoin'
        only(['address', 'publicKey', 'fingerprint', 'walletId', 'walletPublicKey', 'family', 'path', ...(bitcoin ? ['network', 'format'] : [])])
        const pattern = r.family === 'evm' ? EVM_ADDRESS : r.family === 'solana' ? BASE58_32 : BITCOIN_ADDRESS
        if (r.address !== undefined && !pattern.test(r.address)) issue('address', `must be a ${r.family} address`)
        // By length: an ed25519 key is 32 bytes (it may well start with 0x02 or 0x03), a compressed secp256k1 key 33.
        const ed25519Key = r.publicKey !== undefined && r.publicKey.length === 66
        if (r.publicKey !== undefined && (r.family === 'solana') !== ed25519Key) issue('publicKey', `must be a${r.family === 'solana' ? 'n ed25519' : ' compressed secp256k1'} public key`)
        return
      }
    }
  })

/** A sealed key record: v1 (sealed before record format v2; still readable) or v2. */
export const SealedKeyRecordSchema = z.union([SealedKeyRecordV1Schema, SealedKeyRecordV2Schema])

export type SealedKeyRecordV1 = z.infer<typeof SealedKeyRecordV1Schema>
export type SealedKeyRecordV2 = z.infer<typeof SealedKeyRecordV2Schema>

export type SealedKeyRecord = z.infer<typeof SealedKeyRecordSchema>
export type SealingKind = SealedKeyRecord['sealing']

/** The policy a record declares, every field present (absent fields and an absent policy are `false`). */
export function keyPolicyOfRecord(record: Pick<SealedKeyRecord, 'policy'>): KeyPolicy {
  return normalizeKeyPolicy(record.policy ?? {}, 'record.policy')
}

/** The public description of a record's key (what get/list answer), as the record states it. */
export type RecordKeyInfo = {
  keyId: string
  kind: RecordKind
  address?: string
  curve: 'secp256k1' | 'ed25519'
  family?: AccountFamily
  walletId?: string
  path?: string
  network?: (typeof BITCOIN_NETWORK_NAMES)[number]
  format?: (typeof BITCOIN_ADDRESS_FORMATS)[number]
  fingerprint?: string
  createdAt: string
  policy?: KeyPolicy
  owners?: Owners
  creator?: string
}

/** The curve of a record's key material. */
export function recordCurve(record: SealedKeyRecord): 'secp256k1' | 'ed25519' {
  if (record.version === 1) return record.curve
  return record.kind === 'ed25519' || (record.kind === 'hd-account' && record.family === 'solana') ? 'ed25519' : 'secp256k1'
}

/** The family a record's key serves first: secp256k1 keys EVM (and Bitcoin), ed25519 keys Solana, accounts their own; none for a wallet. */
export function recordFamily(record: SealedKeyRecord): AccountFamily | undefined {
  if (record.version === 1 || record.kind === 'secp256k1') return 'evm'
  if (record.kind === 'ed25519') return 'solana'
  return record.kind === 'hd-account' ? record.family : undefined
}

/** The public description of a record's key (what get/list answer): never its ciphertext or context. */
export function keyInfoOfRecord(record: SealedKeyRecord): RecordKeyInfo {
  const policy = keyPolicyOfRecord(record)
  const family = recordFamily(record)
  const v2 = record.version === 2 ? record : undefined
  return {
    keyId: record.keyId,
    kind: v2?.kind ?? 'secp256k1',
    ...(record.address === undefined ? {} : { address: record.address }),
    curve: recordCurve(record),
    ...(family === undefined ? {} : { family }),
    ...(v2?.walletId === undefined ? {} : { walletId: v2.walletId }),
    ...(v2?.path === undefined ? {} : { path: v2.path }),
    ...(v2?.network === undefined ? {} : { network: v2.network }),
    ...(v2?.format === undefined ? {} : { format: v2.format }),
    ...(v2?.fingerprint === undefined ? {} : { fingerprint: v2.fingerprint }),
    createdAt: record.createdAt,
    ...(isDefaultKeyPolicy(policy) ? {} : { policy }),
    ...(record.owners === undefined ? {} : { owners: record.owners as Owners }),
    ...(v2 ? { creator: v2.creator } : {}),
  }
}

/**
 * The encryption context a record's own facts (format, keyId, policy, owners) call for: what its sealing must
 * bind — the private key's for v1, the data key's (with `record: 'v2'`) for v2.
 */
export function recordEncryptionContext(record: Pick<SealedKeyRecord, 'version' | 'keyId' | 'policy' | 'owners'>): Record<string, string> {
  return keyEncryptionContext(record.keyId, keyPolicyOfRecord(record), record.owners as Owners | undefined, record.version)
}

export const RECORD_HEADER_CONTEXT = 'enclave-custody/record-header/v2'
export const RECORD_CONTEXT = 'enclave-custody/record/v1'

/**
 * The associated data of a v2 record's AES-256-GCM: `enclave-custody/record-header/v2` ‖ 0x00 ‖ canonical JSON
 * of every field but `dataKey`, `ciphertext` and `enclaveSignature`. Any edit of the header breaks the unsealing.
 */
export function recordHeaderBytes(record: Omit<SealedKeyRecordV2, 'dataKey' | 'ciphertext' | 'enclaveSignature'> & Partial<SealedKeyRecordV2>): Uint8Array {
  const { dataKey: _, ciphertext: __, enclaveSignature: ___, ...header } = record
  return contextBytes(RECORD_HEADER_CONTEXT, JSON.parse(JSON.stringify(header)))
}

/** What an enclave's record signature covers: `enclave-custody/record/v1` ‖ 0x00 ‖ canonical JSON of the record without `enclaveSignature`. */
export function recordSigningBytes(record: Omit<SealedKeyRecordV2, 'enclaveSignature'> & Partial<SealedKeyRecordV2>): Uint8Array {
  const { enclaveSignature: _, ...body } = record
  return contextBytes(RECORD_CONTEXT, JSON.parse(JSON.stringify(body)))
}
