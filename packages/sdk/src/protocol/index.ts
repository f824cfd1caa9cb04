/**
 * The wire protocol shared by the SDK, the parent proxy and the enclave runtime: message schemas,
 * length-prefixed JSON framing, error codes and the HTTP route table.
 */
export {
  AttestationError,
  CustodyError,
  type CustodyErrorParameters,
  ErrorCode,
  errorCodes,
  errorFromWire,
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
export { type HttpRoute, httpStatusOf, operationToRoute, routeToOperation } from './http.js'
export {
  errorResponse,
  ForwardedCredentialsSchema,
  type ParentContext,
  ParentContextSchema,
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
  parseRequest,
  parseResponse,
  parseResult,
  type RequestAuth,
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
} from './messages.js'
export { CborDecodeError, type CborValue, decodeCbor } from '../attestation/cbor.js'
export { canonicalJson } from '../auth/canonicalJson.js'
export { REQUEST_STAMP_CONTEXT, type StampPayloadParameters, stampPayload } from '../auth/stampPayload.js'
export { P256_STAMP_SCHEME, type RequestStamp, type StampScheme } from '../auth/types.js'
export { STAMP_MAX_SKEW_MS, type VerifyStampParameters, type VerifyStampReturnType, verifyStamp } from '../auth/verifyStamp.js'
