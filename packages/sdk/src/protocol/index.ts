/**
 * The wire protocol shared by the SDK, the parent proxy and the enclave runtime: message schemas,
 * length-prefixed JSON framing, error codes and the HTTP route table.
 *
 * @module @enclave-custody/sdk/protocol
 */
export {
  AttestationError,
  CustodyError,
  type CustodyErrorParameters,
  ErrorCode,
  errorCodes,
  errorFromWire,
  ForbiddenError,
  IntegrityError,
  InternalError,
  InvalidArgumentError,
  InvalidFrameError,
  isCustodyError,
  KeyExistsError,
  KeyNotFoundError,
  PolicyDeniedError,
  TimeoutError,
  toCustodyError,
  UnauthenticatedError,
  UnavailableError,
  UnknownOperationError,
  UnsupportedVersionError,
} from '../errors/CustodyError.js'
export { type DecodedFrame, encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from './framing.js'
export { APPROVALS_HEADER, type HttpRoute, httpStatusOf, operationToRoute, RESPONSE_SIGNATURE_HEADER, routeToOperation, STAMP_HEADER } from './http.js'
export {
  errorResponse,
  ForwardedCredentialsSchema,
  type ParentContext,
  ParentContextSchema,
  MAX_APPROVAL_STAMPS,
  MAX_BATCH_ITEMS,
  MAX_LIST_CREATORS,
  MAX_LISTED_RECORDS,
  idOf,
  KEY_ID_PATTERN,
  KEY_ID_RULE,
  type KeyInfoWire,
  KeyInfoSchema,
  type MessageSignatureWire,
  MessageSignatureSchema,
  type Operation,
  type OperationParams,
  type OperationParamsWire,
  type OperationResult,
  operationNames,
  operations,
  type ParsedRequest,
  PROTOCOL_VERSION,
  parseEnvelope,
  parseParams,
  parseRequest,
  parseResponse,
  parseResult,
  type RequestAuth,
  type RequestEnvelope,
  type RequestMessage,
  type ResponseMessage,
  type SignedAuthorizationResultWire,
  SignedAuthorizationSchema,
  type SignedTransactionWire,
  SignedTransactionSchema,
  type SignedTypedTransactionWire,
  SignedTypedTransactionSchema,
  successResponse,
  type WireError,
  UNSTAMPED_OPERATIONS,
} from './messages.js'
export { CborDecodeError, type CborValue, decodeCbor } from '../attestation/cbor.js'
export { canonicalJson } from '../auth/canonicalJson.js'
export { APPROVAL_STAMP_CONTEXT, REQUEST_STAMP_CONTEXT, type StampPayloadParameters, stampPayload } from '../auth/stampPayload.js'
export { compressP256PublicKey, type P256Signer, p256Signer, verifyP256 } from '../auth/p256.js'
export { P256_STAMP_SCHEME, type RequestStamp, type StampScheme } from '../auth/types.js'
export { STAMP_MAX_SKEW_MS, type VerifyStampParameters, type VerifyStampReturnType, verifyStamp } from '../auth/verifyStamp.js'
export { AUDIT_CONTEXT, AUDIT_GENESIS, type AuditEvent, auditEventBytes, auditEventHash } from '../session/auditEvent.js'
export { contextBytes, contextDigest, jsonDigest } from '../session/contextBytes.js'
export {
  parseResponseSignature,
  REQUEST_DIGEST_CONTEXT,
  RESPONSE_CONTEXT,
  type ResponseSignature,
  type ResponseSigningFields,
  requestDigest,
  responseKeyIdOf,
  responseSigningPayload,
  verifyResponseSignature,
} from '../session/responseSignature.js'
export {
  ATTESTATION_USER_DATA_CONTEXT,
  attestationUserData,
  HPKE_SUITE,
  parseTrustConfiguration,
  TRUST_CONTEXT,
  type TrustConfiguration,
  trustDigest,
} from '../session/trust.js'
export { type AttestationPolicy, type AttestedEnclave, attestEnclave, checkAttestationPolicy } from '../session/attestEnclave.js'
export { type Hex, bytesToHex, hexToBytes } from '../utils/hex.js'
export { hpkeKeyIdOf, IMPORT_CONTEXT, importAad, importHpkeSuite, type SealedImport, sealImport } from '../session/sealedImport.js'
export { createNativeSecp256k1Backend, type NativeSecp256k1Binding } from '../crypto/secp256k1/nativeSecp256k1Backend.js'
export { createNobleSecp256k1Backend } from '../crypto/secp256k1/nobleSecp256k1Backend.js'
export type { Secp256k1Backend, Secp256k1RecoverOptions, Secp256k1Signature } from '../crypto/secp256k1/secp256k1Backend.js'
export { defaultSecp256k1Backend, type SelectSecp256k1BackendParameters, selectSecp256k1Backend } from '../crypto/secp256k1/selectSecp256k1Backend.js'
