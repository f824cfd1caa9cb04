import { randomBytes } from 'node:crypto'
import { apiKeyStamper, generateApiKey, type Stamper, stampRequest } from '@enclave-custody/sdk'
import {
  bytesToHex,
  canonicalJson,
  type Hex,
  type Operation,
  PROTOCOL_VERSION,
  parseResponseSignature,
  parseTrustConfiguration,
  requestDigest,
  trustDigest,
  UNSTAMPED_OPERATIONS,
  verifyResponseSignature,
} from '@enclave-custody/sdk/protocol'
import type { RequestHandler } from '../../src/handler.js'

/** A fresh API key's stamper: one per logical caller of a test (create it once, reuse it). */
export function newStamper(): Stamper {
  return apiKeyStamper({ privateKey: generateApiKey().privateKey })
}

/** A request envelope as it travels, with its stamp. */
export type StampedEnvelope = { v: number; id: string; op: string; params: unknown; auth: Awaited<ReturnType<typeof stampRequest>> }

/**
 * Stamp `{ op, params }` for the enclave whose audience is `aud`. `params` go through JSON first, so that
 * what is stamped is exactly what is sent (an `undefined` field is dropped on both sides).
 *
 * @throws InvalidArgumentError when the params are not canonical JSON (fractions, exponents): no client can stamp those.
 */
export async function stampEnvelope({
  stamper,
  aud,
  op,
  params = {},
  id = `r-${randomBytes(6).toString('hex')}`,
  v = PROTOCOL_VERSION,
  now,
}: {
  stamper: Stamper
  aud: string
  op: string
  params?: unknown
  id?: string
  v?: number
  /** The stamp's time (ms). @default Date.now() */
  now?: number
}): Promise<StampedEnvelope> {
  const wire = JSON.parse(JSON.stringify(params)) as unknown
  const auth = await stampRequest({ stamper, v, op, params: wire, aud, ...(now === undefined ? {} : { now }) })
  return { v, id, op, params: wire, auth }
}

/**
 * Stamp a raw protocol message the way an honest client would, keeping every other field as it is: a JSON
 * object with a string `op` that needs a stamp (not health or attestation) and no `auth` of its own gets
 * one over its params as they travel (`{}` when absent, as the enclave reads them). Left unstamped, as no
 * client could stamp them: non-objects, messages without an op, and params that are not canonical JSON
 * (fractions, exponents: the enclave refuses those as INVALID_FRAME before it looks at a stamp).
 */
export async function stampMessage(message: unknown, { stamper, aud }: { stamper: Stamper; aud: string }): Promise<unknown> {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return message
  const wire = JSON.parse(JSON.stringify(message)) as Record<string, unknown>
  if (typeof wire.op !== 'string' || UNSTAMPED_OPERATIONS.has(wire.op as Operation) || Object.hasOwn(wire, 'auth')) return wire
  const params = wire.params ?? {}
  try {
    canonicalJson(params)
  } catch {
    return wire
  }
  const v = typeof wire.v === 'number' ? wire.v : PROTOCOL_VERSION
  return { ...wire, auth: await stampRequest({ stamper, v, op: wire.op, params, aud }) }
}

/** A handler that stamps every message it is given with `stamper` for `aud` (see `stampMessage`), then asks `handler`. */
export function stampingHandler(handler: RequestHandler, { stamper, aud }: { stamper: Stamper; aud: string }): RequestHandler {
  return {
    handle: async (message, context) => handler.handle(await stampMessage(message, { stamper, aud }), context),
  }
}

/**
 * The audience of the enclave behind `send`, as a client learns it: a `system.attestation` request (no
 * stamp needed) and the digest of the trust configuration it reports. Tests that do not check the document
 * itself use this; clients verify it (`attestEnclave`).
 */
export async function audienceOf(send: (message: unknown) => Promise<unknown>): Promise<Hex> {
  const answer = (await send({ v: PROTOCOL_VERSION, id: 'aud', op: 'system.attestation', params: { nonce: bytesToHex(new Uint8Array(randomBytes(16))) } })) as {
    ok: boolean
    result?: { trust?: unknown }
    error?: { code: string }
  }
  if (!answer.ok) throw new Error(`the enclave did not attest (${answer.error?.code})`)
  return trustDigest(parseTrustConfiguration(answer.result?.trust))
}

/**
 * Whether `response` carries the response key's valid signature over this answer to `request` (a stamped
 * envelope as sent) for the enclave of audience `aud`.
 */
export function isSignedAnswer(response: unknown, request: StampedEnvelope, { publicKey, aud }: { publicKey: Uint8Array; aud: string }): boolean {
  const r = response as { ok: boolean; result?: unknown; error?: unknown; sig?: unknown }
  const sig = parseResponseSignature(r.sig)
  if (!sig) return false
  const digest = requestDigest({ v: request.v, op: request.op, params: request.params, auth: request.auth, aud })
  return verifyResponseSignature(sig, publicKey, { request: digest, ok: r.ok, value: r.ok ? r.result : r.error })
}
