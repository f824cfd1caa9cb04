/**
 * `@enclave-custody/enclave-runtime`: the code measured into the enclave image, and `localEnclave()`, the same
 * runtime in-process as a transport for tests.
 *
 * @module @enclave-custody/enclave-runtime
 */
export { createRequestHandler, type EnclaveSession, type RequestHandler, type RequestHandlerOptions } from './handler.js'
export { type AuditLog, type AuditRecord, type CreateAuditLogParameters, createAuditLog } from './audit/createAuditLog.js'
export { type CreateNonceCacheParameters, createNonceCache, type NonceCache } from './auth/createNonceCache.js'
export { type CreateEnclaveIdentityParameters, createEnclaveIdentity, createHpkeSuite, type EnclaveIdentity } from './identity/createEnclaveIdentity.js'
export { type CreateEnclaveSessionParameters, createEnclaveSession } from './identity/createEnclaveSession.js'
export { createFileAtomic, writeFileAtomic } from '@enclave-custody/sdk/server'
export { createFileKeyStore, createMemoryKeyStore } from './keys/fileKeyStore.js'
export { createLocalSealer } from './keys/localSealer.js'
export type {
  AttestationProvider,
  AwsCredentials,
  KeyStore,
  SealedKeyRecord,
  SealedSecret,
  Sealer,
  SealingKind,
  UnsealContext,
} from './keys/types.js'
export { createLocalRuntime, createRuntime, type LocalEnclaveOptions, type LocalRuntime, loadDevSealingKey, localEnclave } from './localEnclave.js'
export { type Logger, REDACT_PATHS, silentLogger } from '@enclave-custody/sdk/server'
export { type EnclaveServer, type EnclaveServerOptions, startEnclaveServer } from './server/enclaveServer.js'
export { signEip1559Transaction } from './families/evm/eip1559.js'
export { deriveAddress, signDigest } from './families/evm/secp256k1.js'
export {
  type ComputeRuntimeMeasurementParameters,
  type ComputeRuntimeMeasurementReturnType,
  computeRuntimeMeasurement,
} from './attestation/computeRuntimeMeasurement.js'
export {
  type CreateSoftwareNsmCaParameters,
  createSoftwareNsmCa,
  loadOrCreateSoftwareNsmCa,
  SOFTWARE_NSM_CA_FILE,
  SOFTWARE_NSM_ROOT_CERT_FILE,
  type SoftwareNsmCa,
} from './attestation/createSoftwareNsmCa.js'
export { type CreateSoftwareNsmParameters, type CreateSoftwareNsmReturnType, createSoftwareNsm, type SoftwareNsm } from './attestation/softwareNsm.js'
export { decryptEnvelopedData, type ParsedEnvelopedData, parseEnvelopedData } from './unseal/cms.js'
export { type CreateKeyCacheParameters, type CreateKeyCacheReturnType, createKeyCache, type KeyCache } from './unseal/keyCache.js'
export { type CreateKmsSealerParameters, type CreateKmsSealerReturnType, createKmsSealer, type KmsSealer } from './unseal/kmsSealer.js'
export { createForwardedKeyStore } from './keys/forwardedKeyStore.js'
export { type AttestedRuntimeOptions, createAttestedRuntime } from './attestedRuntime.js'
export {
  type CreateNsmAttestationProviderParameters,
  type CreateNsmAttestationProviderReturnType,
  createNsmAttestationProvider,
  type NsmAttestationProvider,
  type NsmPcr,
} from './attestation/nsm/createNsmAttestationProvider.js'
export {
  type CreateNsmDeviceTransportParameters,
  type CreateNsmDeviceTransportReturnType,
  createNsmDeviceTransport,
  type NsmTransport,
} from './attestation/nsm/createNsmDeviceTransport.js'
export { decodeNsmResponse, type NsmResponse, type NsmResponseType } from './attestation/nsm/decodeNsmResponse.js'
export { encodeNsmRequest, NSM_ATTESTATION_LIMITS, type NsmRequest } from './attestation/nsm/encodeNsmRequest.js'
export { isNsmErrorCode, NsmError, type NsmErrorCode } from './attestation/nsm/NsmError.js'
export { NSM_DEVICE_PATH, NSM_IOCTL_REQUEST, NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE } from './attestation/nsm/nsmConstants.js'
export {
  type SelectAttestationProviderParameters,
  type SelectAttestationProviderReturnType,
  selectAttestationProvider,
} from './attestation/nsm/selectAttestationProvider.js'
export { signAuthorization } from './families/evm/authorization.js'
export { signHash } from './families/evm/hash.js'
export { signMessage } from './families/evm/message.js'
export { signTransaction } from './families/evm/transaction.js'
export { signTypedData } from './families/evm/typedData.js'
export { AMAZON_TRUST_SERVICES_ROOTS } from './trust/amazonTrustServicesRoots.js'
export { type CheckKmsKeyArnErrorType, type CheckKmsKeyArnParameters, type CheckKmsKeyArnReturnType, checkKmsKeyArn } from './trust/checkKmsKeyArn.js'
export { type ParseCaBundleErrorType, type ParseCaBundleReturnType, parseCaBundle } from './trust/parseCaBundle.js'
export { type CompiledPolicyRule, type CompiledSigningPolicy, compileSigningPolicy } from './policy/compileSigningPolicy.js'
export { type EvaluateSigningPolicyContext, evaluateSigningPolicy, NO_RULE_ALLOWS, type PolicyEvaluation } from './policy/evaluateSigningPolicy.js'
export { type CreateRollingLimitsParameters, createRollingLimits, type InMemoryRollingLimits, type LimitReservation, type RollingLimits } from './policy/rollingLimits.js'
export { createMemoryPolicyStore, createSigningPolicies, type LoadedPolicy, POLICY_REFRESH_MS, type SigningPolicies } from './policy/signingPolicies.js'
export type { PolicyStore } from './policy/types.js'
export { extractFacts, SIGNING_OPERATIONS, type SigningOperation, type SigningOperationSpec, type SigningOperations, signingOperationOf } from './families/index.js'
