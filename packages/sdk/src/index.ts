export {
  type CreateCustodyClientParameters,
  type CustodyClient,
  createCustodyClient,
  type ImportKeyParameters,
  type KeyInfo,
  type SignedTransaction,
} from './client/createCustodyClient.js'
export {
  AttestationError,
  CustodyError,
  ErrorCode,
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
  normalizeEip1559Transaction,
} from './transactions/eip1559.js'
export {
  type ParsedSignedEip1559,
  parseSignedEip1559,
  serializeEip1559Signed,
  serializeEip1559Unsigned,
  type TransactionSignature,
} from './transactions/serialize.js'
export { verifySignedEip1559 } from './transactions/verifySignedEip1559.js'
export { type NitroEnclaveParameters, nitroEnclave } from './transports/nitroEnclave.js'
export type { Transport } from './transports/types.js'
export { type Address, assertAddress, toChecksumAddress } from './utils/address.js'
export { bytesToHex, type Hex, hexToBytes } from './utils/hex.js'
export { assertPrivateKeyHex, isValidPrivateKeyBytes, privateKeyToAddress, SECP256K1_N } from './utils/privateKey.js'
export { type SealedKeyRecord, SealedKeyRecordSchema, type SealingKind } from './keys/sealedKeyRecord.js'
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
export { type BuildKeyPolicyParameters, buildKeyPolicy, KEY_ADMIN_ACTIONS, type KeyPolicyDocument } from './policy/buildKeyPolicy.js'
