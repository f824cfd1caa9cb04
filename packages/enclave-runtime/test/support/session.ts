import { type AttestationPolicy, PROTOCOL_VERSION, type TrustConfiguration } from '@enclave-custody/sdk/protocol'
import { createSoftwareNsm, type SoftwareNsm } from '../../src/attestation/softwareNsm.js'
import type { EnclaveSession } from '../../src/handler.js'
import { createEnclaveSession } from '../../src/identity/createEnclaveSession.js'

/** A local trust configuration for tests (the sealing key id names no real key: it is only the audience). */
export const TEST_TRUST: TrustConfiguration = { protocolVersion: PROTOCOL_VERSION, sealing: 'local', sealingKeyId: `0x${'5e'.repeat(32)}` }

let nsm: Promise<SoftwareNsm> | undefined

/**
 * One software NSM per test file (each file runs in its own module registry): making one costs a few
 * P-384 key pairs, so every session and local runtime of a file shares it.
 */
export function sharedSoftwareNsm(): Promise<SoftwareNsm> {
  nsm ??= createSoftwareNsm()
  return nsm
}

/** What a client of a runtime attested by `nsm` must expect (its PCR0 and root). */
export function attestationPolicyOf(nsm: SoftwareNsm): AttestationPolicy {
  return { pcr0: [nsm.pcrs[0]!], roots: [nsm.rootCertificatePem] }
}

/**
 * A fresh enclave session (identity, audit log, nonce memory) for `createRequestHandler`, attested by the
 * file's shared software NSM.
 */
export async function testSession(trust: TrustConfiguration = TEST_TRUST): Promise<EnclaveSession> {
  return createEnclaveSession({ attestation: await sharedSoftwareNsm(), trust })
}
