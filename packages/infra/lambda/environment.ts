/** Environment variables of the deployed signing function, set by the SigningFunction construct. */
export const HANDLER_ENVIRONMENT = {
  /** `https://<domain>` of the parent proxies' load balancer. */
  proxyUrl: 'CUSTODY_URL',
  /** Secret holding the proxies' bearer token. */
  authTokenSecretArn: 'CUSTODY_AUTH_TOKEN_SECRET_ARN',
  /** Secret the Lambda's API key is derived from (`deriveApiKey`): it stamps every request. */
  apiKeySecretArn: 'CUSTODY_API_KEY_SECRET_ARN',
  /** PCR0 values the enclave may attest to, comma-separated: the key policy's list (two during a rotation). */
  pcr0: 'CUSTODY_PCR0',
  /** `true` only for a debug-mode enclave (PCR0 all zeros), as the stack's `allowDebugEnclave`. */
  allowDebugEnclave: 'CUSTODY_ALLOW_DEBUG_ENCLAVE',
  /** The attested sealing key. */
  kmsKeyId: 'CUSTODY_KMS_KEY_ID',
  /** Key Secrets Manager encrypts the records with. */
  recordsKmsKeyId: 'CUSTODY_RECORDS_KMS_KEY_ID',
  /** Name prefix of the records. */
  secretPrefix: 'CUSTODY_SECRET_PREFIX',
  /** keyId of payloads without `key_id`. */
  defaultKeyId: 'CUSTODY_KEY_ID',
} as const
