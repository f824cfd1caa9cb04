import type { TrustConfiguration } from '@enclave-custody/sdk/protocol'
import { createAuditLog } from '../audit/createAuditLog.js'
import { createNonceCache } from '../auth/createNonceCache.js'
import type { EnclaveSession } from '../handler.js'
import type { AttestationProvider } from '../keys/types.js'
import { createEnclaveIdentity } from './createEnclaveIdentity.js'

export type CreateEnclaveSessionParameters = {
  /** The NSM in an enclave; the software NSM locally. */
  attestation: AttestationProvider
  trust: TrustConfiguration
}

/**
 * One boot's session for the request handler: a fresh identity (response-signing and HPKE keys) attested by
 * `attestation`, its audit log (starting with the boot event) and its stamp-nonce memory.
 *
 * @example
 * const session = await createEnclaveSession({ attestation: nsm, trust })
 * const handler = createRequestHandler({ keyStore, sealer, session })
 */
export async function createEnclaveSession({ attestation, trust }: CreateEnclaveSessionParameters): Promise<EnclaveSession> {
  const identity = await createEnclaveIdentity({ attestation, trust })
  return { identity, audit: await createAuditLog({ identity }), nonces: createNonceCache() }
}
