import { getRandomValues } from 'node:crypto'
import type { Stamper, Transport } from '@enclave-custody/sdk'
import { type Hex, type RequestMessage, requestDigest, type ResponseMessage, responseSigningPayload, type TrustConfiguration } from '@enclave-custody/sdk/protocol'
import { createRequestHandler, type EnclaveSession, type RequestHandler, type RequestHandlerOptions } from '../../src/handler.js'
import type { EnclaveIdentity } from '../../src/identity/createEnclaveIdentity.js'
import { createMemoryKeyStore } from '../../src/keys/fileKeyStore.js'
import { createLocalSealer } from '../../src/keys/localSealer.js'
import { createLocalRuntime, type LocalEnclaveOptions, type LocalRuntime } from '../../src/localEnclave.js'
import { attestationPolicyOf, sharedSoftwareNsm, TEST_TRUST, testSession } from './session.js'
import { audienceOf, newStamper, stampingHandler } from './stamps.js'

/** A handler under test: `handler` stamps what it is given as one caller (`stamper`), `raw` takes messages as they are. */
export type StampedHandler = { handler: RequestHandler; raw: RequestHandler; stamper: Stamper; aud: Hex }

/**
 * `createRequestHandler(options)` with a test session (the file's software NSM, `trust`), and a stamping
 * front for one caller: tests written against raw messages keep their shape.
 */
export async function testHandler(
  options: Omit<RequestHandlerOptions, 'session'>,
  { stamper = newStamper(), trust = TEST_TRUST }: { stamper?: Stamper; trust?: TrustConfiguration } = {},
): Promise<StampedHandler & { session: EnclaveSession }> {
  const session = await testSession(trust)
  const raw = createRequestHandler({ ...options, session })
  const aud = session.identity.aud
  return { handler: stampingHandler(raw, { stamper, aud }), raw, stamper, aud, session }
}

/**
 * `createLocalRuntime(options)` and a stamping front for one caller; the audience comes from the runtime's
 * attestation answer. Without `dataDir` or `attestation`, the runtime uses the file's shared software NSM.
 */
export async function createStampedRuntime(options: LocalEnclaveOptions = {}, stamper: Stamper = newStamper()): Promise<StampedHandler & LocalRuntime> {
  const runtime = await createLocalRuntime({ ...(options.dataDir || options.attestation ? {} : { attestation: await sharedSoftwareNsm() }), ...options })
  const aud = await audienceOf((m) => runtime.handler.handle(m))
  return { ...runtime, handler: stampingHandler(runtime.handler, { stamper, aud }), raw: runtime.handler, stamper, aud }
}

/**
 * An in-process enclave that signs whatever `edit` makes of its answers: the real handler (memory store,
 * local sealer unless given), then `edit`, then a fresh response signature by the session's key over the
 * edited answer. It stands for an enclave whose signing code went wrong — what only the SDK's own checks
 * of each result catch — where a tampering parent (which holds no response key) is caught by the response
 * signature already.
 */
export function signingEnclave({
  edit,
  keyStore = createMemoryKeyStore(),
  sealer = createLocalSealer(getRandomValues(new Uint8Array(32))),
}: {
  /**
   * What the enclave's code makes of its answer. `identity` is the session's: an edit that produces a record
   * re-signs it with `identity.sign(recordSigningBytes(record))`, as such an enclave would.
   */
  edit: (message: RequestMessage, response: ResponseMessage, identity: EnclaveIdentity) => ResponseMessage
} & Partial<Pick<RequestHandlerOptions, 'keyStore' | 'sealer'>>): Transport {
  const built = (async () => {
    const session = await testSession()
    return { session, handler: createRequestHandler({ keyStore, sealer, session }) }
  })()
  built.catch(() => {})
  return {
    name: 'signing-enclave',
    attestation: async () => attestationPolicyOf(await sharedSoftwareNsm()),
    async request(message) {
      const { session, handler } = await built
      const { audit: _, ...answer } = await handler.handle(JSON.parse(JSON.stringify(message)))
      const sig = answer.sig as { keyId: Hex; auditSeq: number; auditHead: Hex } | undefined
      // What is signed is what travels: the edited answer as JSON.
      const edited = JSON.parse(JSON.stringify(edit(message, JSON.parse(JSON.stringify(answer)) as ResponseMessage, session.identity))) as ResponseMessage
      if (!sig || !message.auth) return edited
      const { identity } = session
      const request = requestDigest({ v: message.v, op: message.op, params: message.params, auth: message.auth, aud: identity.aud })
      const value = edited.ok ? edited.result : edited.error
      const signature = identity.sign(responseSigningPayload(identity.responseKeyId, { request, ok: edited.ok, value, auditSeq: sig.auditSeq, auditHead: sig.auditHead }))
      return { ...edited, sig: { ...sig, signature } }
    },
  }
}
