/** Environment variables of the deployed signing function, set by the SigningFunction construct. */
export const HANDLER_ENVIRONMENT = {
  /** `https://<domain>` of the parent proxies' load balancer. */
  proxyUrl: 'CUSTODY_PROXY_URL',
  /** Secret holding the proxies' bearer token. */
  authTokenSecretArn: 'CUSTODY_AUTH_TOKEN_SECRET_ARN',
  /** The attested sealing key. */
  kmsKeyId: 'CUSTODY_KMS_KEY_ID',
  /** Key Secrets Manager encrypts the records with. */
  recordsKmsKeyId: 'CUSTODY_RECORDS_KMS_KEY_ID',
  /** Name prefix of the records. */
  secretPrefix: 'CUSTODY_SECRET_PREFIX',
  /** keyId of payloads without `key_id`. */
  defaultKeyId: 'CUSTODY_DEFAULT_KEY_ID',
} as const
