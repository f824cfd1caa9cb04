/**
 * `@enclave-custody/local-aws`: wire-compatible local KMS and Secrets Manager for development and tests.
 *
 * @module @enclave-custody/local-aws
 */
export {
  sdkVerifyAttestation,
  type VerifiedAttestationDocument,
  type VerifyAttestationFunction,
  type VerifyAttestationOptions,
} from './attestation/verifier.js'
export { isPrincipalArn, principalArnOf } from './auth/principals.js'
export {
  type AuthenticatedPrincipal,
  type PrincipalCredentials,
  type SigV4Request,
  type VerifySigV4Parameters,
  verifySigV4,
} from './auth/verifySigV4.js'
export { type BuildCiphertextForRecipientParameters, buildCiphertextForRecipient } from './cms/buildCiphertextForRecipient.js'
export { type LocalAwsConfig, resolveLocalAwsConfig, type StartLocalAwsParameters } from './config.js'
export { defaultKeyPolicy } from './policy/defaultKeyPolicy.js'
export {
  type EvaluateIdentityPoliciesParameters,
  type EvaluatePolicyParameters,
  type EvaluatePolicyReturnType,
  evaluateIdentityPolicies,
  evaluatePolicy,
  type PolicyDecision,
} from './policy/evaluatePolicy.js'
export { CONDITION_OPERATORS, type ConditionOperator, parseIdentityPolicy, parseKeyPolicy } from './policy/parseKeyPolicy.js'
export { PolicyDocumentError } from './policy/PolicyDocumentError.js'
export type {
  IdentityPolicyDocument,
  IdentityPolicyStatement,
  KeyPolicyConditionValue,
  KeyPolicyDocument,
  KeyPolicyPrincipal,
  KeyPolicyStatement,
  PolicyContext,
} from './policy/types.js'
export type { LocalAwsLogEntry } from './server/createRequestHandler.js'
export { type LocalAws, type StartLocalAwsReturnType, startLocalAws } from './startLocalAws.js'
