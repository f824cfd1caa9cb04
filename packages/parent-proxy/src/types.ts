import type { SealedKeyRecord } from '@enclave-custody/sdk'

/** Short-lived AWS credentials the parent forwards to the enclave (instance-role credentials). */
export type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: string }

/**
 * What the parent forwards with a request: the instance role's credentials for KMS and, when records
 * live outside the enclave (Secrets Manager), the sealed record of the key the request names. The
 * enclave trusts neither (same shape as the enclave runtime's `UnsealContext`).
 */
export type UnsealContext = { credentials?: AwsCredentials; record?: SealedKeyRecord; records?: SealedKeyRecord[] }
