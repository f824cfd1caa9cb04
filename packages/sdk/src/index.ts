/**
 * `@enclave-custody/sdk`: the custody client, its transports, the importer, the KMS key policy builder, validation
 * helpers, chains, the attestation verifier and `parseEther` / `formatEther`.
 *
 * @module @enclave-custody/sdk
 */
export {
  type ApprovalRequests,
  type AuditReceipt,
  type CreateCustodyClientParameters,
  type CustodyClient,
  createCustodyClient,
  type ImportKeyParameters,
  type KeyInfo,
  type SignBatchItem,
  type SignBatchItemKind,
  type SignBatchItemResult,
  type SignBatchReturnType,
  type SignBatchValue,
  type SignBitcoinPsbtParameters,
  type SignBitcoinPsbtReturnType,
  type SignedTransaction,
  type SignMessageParameters,
  type SignOptions,
  type SignMessageReturnType,
  type SignSolanaMessageParameters,
  type SignSolanaMessageReturnType,
  type SignSolanaTransactionParameters,
  type SignSolanaTransactionReturnType,
  type SignTransactionReturnType,
  type SetSigningPolicyOptions,
  type SetSigningPolicyParameters,
  type SigningPolicyState,
} from './client/createCustodyClient.js'
export { type ApprovalRequest, approveRequest } from './auth/approveRequest.js'
export {
  AttestationError,
  CustodyError,
  ErrorCode,
  ForbiddenError,
  IntegrityError,
  InternalError,
  InvalidArgumentError,
  isCustodyError,
  KeyExistsError,
  KeyNotFoundError,
  PolicyDeniedError,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
} from './errors/CustodyError.js'
export {
  type AccessListEntry,
  DEFAULT_MAX_GAS,
  type Eip1559Transaction,
  type Eip1559TransactionRequest,
  type Eip1559TransactionWire,
  eip1559ToWire,
  MIN_GAS,
  normalizeAccessList,
  normalizeEip1559Transaction,
} from './transactions/eip1559.js'
export {
  legacyV,
  type ParsedSignedEip1559,
  type ParsedSignedTransaction,
  parseSignedEip1559,
  parseSignedTransaction,
  serializeEip1559Signed,
  serializeEip1559Unsigned,
  serializeTransactionSigned,
  serializeTransactionUnsigned,
  type TransactionSignature,
} from './transactions/serialize.js'
export {
  type Eip1559TypedTransaction,
  type Eip1559TypedTransactionRequest,
  type Eip2930Transaction,
  type Eip2930TransactionRequest,
  type Eip7702Transaction,
  type Eip7702TransactionRequest,
  type LegacyTransaction,
  type LegacyTransactionRequest,
  MAX_AUTHORIZATIONS,
  MAX_LEGACY_CHAIN_ID,
  normalizeTransactionRequest,
  TRANSACTION_TYPE_NUMBER,
  type Transaction,
  type TransactionRequest,
  type TransactionRequestWire,
  type TransactionType,
  type TransactionTypeInput,
  transactionToWire,
  transactionTypeOf,
} from './transactions/transaction.js'
export {
  AUTHORIZATION_MAGIC,
  type Authorization,
  type AuthorizationRequest,
  type AuthorizationWire,
  authorizationToWire,
  hashAuthorization,
  normalizeAuthorizationRequest,
  normalizeSignedAuthorization,
  type SignedAuthorization,
  type SignedAuthorizationInput,
  type SignedAuthorizationWire,
  signedAuthorizationToWire,
} from './transactions/authorization.js'
export { decodeRlp, encodeRlp, type RlpItem } from './transactions/rlp.js'
export { keccak256Hex, type RecoverableSignature, recoverAddress, serializeSignature, toHex32 } from './transactions/signature.js'
export { type SignedTransactionReport, verifySignedTransaction } from './transactions/verifySignedTransaction.js'
export { verifySignedAuthorization } from './transactions/verifySignedAuthorization.js'
export { verifySignedEip1559 } from './transactions/verifySignedEip1559.js'
export {
  hashPersonalMessage,
  isWellFormedString,
  MAX_MESSAGE_BYTES,
  normalizePersonalMessage,
  type PersonalMessage,
  personalMessageBytes,
  type SignableMessage,
} from './messages/personalSign.js'
export {
  encodeType,
  encodeTypedData,
  hashTypedData,
  hashTypedDataDomain,
  type NormalizedTypedData,
  normalizeTypedData,
  TYPED_DATA_LIMITS,
  type TypedDataDefinition,
  type TypedDataDomain,
  type TypedDataDomainInput,
  type TypedDataField,
  type TypedDataValue,
} from './messages/typedData.js'
export { type MessageSignature, verifyMessageSignature } from './messages/verifyMessageSignature.js'
export {
  canonicalKeyPolicyJson,
  DEFAULT_KEY_POLICY,
  encryptionContextsEqual,
  isDefaultKeyPolicy,
  type KeyPolicy,
  type KeyPolicyInput,
  KeyPolicySchema,
  keyEncryptionContext,
  keyPolicyHash,
  normalizeKeyPolicy,
} from './keys/keyPolicy.js'
export { type NitroEnclaveParameters, nitroEnclave } from './transports/nitroEnclave.js'
export type { HttpsTrust } from './transports/httpExchange.js'
export {
  type CustodyEnvironmentVariables,
  type ReadCustodyEnvironmentErrorType,
  type ReadCustodyEnvironmentOptions,
  type ReadCustodyEnvironmentReturnType,
  readCustodyEnvironment,
} from './config/readCustodyEnvironment.js'
export type { RetryOptions, RetryPolicy } from './transports/retry.js'
export type { Transport } from './transports/types.js'
export { canonicalApiKey, isCanonicalOwners, MAX_OWNERS, normalizeOwners, type Owners, type OwnersInput, ownersHash } from './keys/owners.js'
export { type AttestationPolicy, type AttestedEnclave, attestEnclave, checkAttestationPolicy } from './session/attestEnclave.js'
export { AUDIT_CONTEXT, AUDIT_GENESIS, type AuditEvent, auditEventBytes, auditEventHash } from './session/auditEvent.js'
export { type ResponseSignature, requestDigest, verifyResponseSignature } from './session/responseSignature.js'
export { type TrustConfiguration, trustDigest } from './session/trust.js'
export { type AuditLogReceipt, type AuditSegment, type VerifyAuditLogParameters, type VerifyAuditLogReturnType, verifyAuditLog } from './session/verifyAuditLog.js'
export * from './signingPolicy/index.js'
export { type Address, assertAddress, toChecksumAddress } from './utils/address.js'
export { bytesToHex, type Hex, hexToBytes } from './utils/hex.js'
export { assertPrivateKeyHex, isValidPrivateKeyBytes, privateKeyToAddress, publicKeyToAddress, SECP256K1_N } from './utils/privateKey.js'
export {
  keyInfoOfRecord,
  keyPolicyOfRecord,
  RECORD_CONTEXT,
  RECORD_HEADER_CONTEXT,
  recordEncryptionContext,
  recordHeaderBytes,
  recordSigningBytes,
  type SealedKeyRecord,
  type SealedKeyRecordV1,
  SealedKeyRecordV1Schema,
  type SealedKeyRecordV2,
  SealedKeyRecordV2Schema,
  SealedKeyRecordSchema,
  type SealingKind,
} from './keys/sealedKeyRecord.js'
export { MAX_NONCE, MAX_UINT256, type QuantityInput, toQuantity } from './utils/quantity.js'
export { formatEther, parseEther } from './utils/units.js'
export { AWS_NITRO_ENCLAVES_ROOT_G1_PEM, AWS_NITRO_ENCLAVES_ROOT_G1_SHA256 } from './attestation/awsNitroRootCertificate.js'
export {
  type VerifyAttestationDocumentErrorType,
  type VerifyAttestationDocumentParameters,
  type VerifyAttestationDocumentReturnType,
  verifyAttestationDocument,
} from './attestation/verifyAttestationDocument.js'
export { createKmsImporter, DEFAULT_SECRET_PREFIX, type KmsImporter, type KmsImporterParameters } from './importer/createKmsImporter.js'
export { DEFAULT_POLICY_SECRET_PREFIX, type SigningPolicySecretNameErrorType, signingPolicySecretName } from './protocol/signingPolicySecretName.js'
export {
  type BuildKeyPolicyErrorType,
  type BuildKeyPolicyParameters,
  type BuildKeyPolicyReturnType,
  buildKeyPolicy,
  DENY_GRANTS_EXCEPT_FOR_AWS_RESOURCES,
  KEY_ADMIN_ACTIONS,
  type KeyPolicyDocument,
  MAX_ACCEPTED_PCR_VALUES,
  type PcrValues,
} from './policy/buildKeyPolicy.js'
export {
  arbitrum,
  type BlockExplorer,
  base,
  type Chain,
  chains,
  type DefineChainErrorType,
  type DefineChainParameters,
  type DefineChainReturnType,
  defineChain,
  type ExplorerTxUrlErrorType,
  explorerTxUrl,
  type GetChainErrorType,
  getChain,
  holesky,
  hoodi,
  mainnet,
  type NativeCurrency,
  optimism,
  polygon,
  RETIRED_TESTNETS,
  sepolia,
} from './chains/index.js'
export { type ApiKeyStamperParameters, apiKeyStamper } from './auth/apiKeyStamper.js'
export { canonicalJson } from './auth/canonicalJson.js'
export { type GenerateApiKeyReturnType, generateApiKey } from './auth/generateApiKey.js'
export { REQUEST_STAMP_CONTEXT, type StampPayloadParameters, stampPayload } from './auth/stampPayload.js'
export { type StampRequestParameters, stampRequest } from './auth/stampRequest.js'
export { P256_STAMP_SCHEME, type RequestStamp, type StampScheme, type Stamper } from './auth/types.js'
export { STAMP_MAX_SKEW_MS, type VerifyStampParameters, type VerifyStampReturnType, verifyStamp } from './auth/verifyStamp.js'
