/**
 * `@enclave-custody/parent-proxy`: the untrusted parent instance's side: `custody-proxy`, the record source, IMDS
 * credentials and the log receiver.
 *
 * @module @enclave-custody/parent-proxy
 */
export { createEnclaveConnection, createEnclavePool, type EnclaveConnection, type EnclaveConnectionOptions, type EnclavePoolOptions } from './enclaveConnection.js'
export { formatEnclaveLogLine, MAX_ENCLAVE_LOG_STRING_CHARS } from './formatEnclaveLogLine.js'
export { type CredentialsProvider, createImdsCredentialsProvider, type ImdsCredentialsOptions } from './imdsCredentials.js'
export { type Logger, REDACT_PATHS, silentLogger } from '@enclave-custody/sdk/server'
export { type ParentProxy, type ParentProxyOptions, startParentProxy } from './parentProxy.js'
export { createSecretsManagerRecordSource, type RecordSource, type SecretsManagerRecordSourceOptions } from './recordSource.js'
export { type LogReceiver, type LogReceiverOutput, startLogReceiver } from './startLogReceiver.js'
export type { AwsCredentials, UnsealContext } from './types.js'
export { type AuditFileSink, createAuditFileSink } from './auditFile.js'
