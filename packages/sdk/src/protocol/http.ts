import { type ErrorCode, ErrorCode as Codes } from '../errors/CustodyError.js'
import { SIGN_ACTIONS } from '../families/index.js'
import type { Operation } from './messages.js'

/** HTTP status for each error code on the SDK ↔ parent-proxy API. */
export const httpStatusOf: Record<ErrorCode, number> = {
  [Codes.INVALID_ARGUMENT]: 400,
  [Codes.INVALID_FRAME]: 400,
  [Codes.UNSUPPORTED_VERSION]: 400,
  [Codes.UNKNOWN_OPERATION]: 404,
  [Codes.UNAUTHENTICATED]: 401,
  [Codes.FORBIDDEN]: 403,
  [Codes.KEY_NOT_FOUND]: 404,
  [Codes.KEY_EXISTS]: 409,
  [Codes.INTEGRITY_ERROR]: 502,
  [Codes.ATTESTATION_FAILED]: 502,
  [Codes.POLICY_DENIED]: 403,
  [Codes.UNAVAILABLE]: 503,
  [Codes.TIMEOUT]: 504,
  [Codes.INTERNAL]: 500,
}

/** On the HTTP API, a request's stamp travels as JSON in this header… */
export const STAMP_HEADER = 'x-custody-stamp'
/** Approval stamps of other API keys over the same request (quorum), as a JSON array. */
export const APPROVALS_HEADER = 'x-custody-approvals'
/** …and the enclave's response signature comes back as JSON in this one. */
export const RESPONSE_SIGNATURE_HEADER = 'x-custody-signature'

export type HttpRoute = { method: 'GET' | 'POST'; path: string; body?: unknown }

/** The HTTP action of `sign.batch`: `POST /v1/keys/:keyId/sign-batch`. */
const SIGN_BATCH_ACTION = 'sign-batch'

const ACTION_OPS = new Map<string, Operation>(Object.entries(SIGN_ACTIONS).map(([op, action]) => [action, op as Operation]))

/**
 * Map an operation to its versioned HTTP route (`POST /v1/keys`, `GET /v1/keys/:keyId`, …).
 * The parent proxy uses `routeToOperation` to map back: one table, both directions.
 */
export function operationToRoute(op: Operation, params: Record<string, unknown>): HttpRoute {
  const { keyId, ...rest } = params as { keyId?: string }
  const k = encodeURIComponent(String(keyId))
  switch (op) {
    case 'key.import':
      return { method: 'POST', path: '/v1/keys', body: params }
    case 'key.generate':
      return { method: 'POST', path: '/v1/keys', body: { generate: true, ...params } }
    case 'key.importSealed':
      return { method: 'POST', path: '/v1/keys', body: params }
    case 'wallet.create':
    case 'wallet.importSealed':
      return { method: 'POST', path: '/v1/wallets', body: params }
    case 'account.create': {
      const { walletId, ...account } = params as { walletId?: string }
      return { method: 'POST', path: `/v1/wallets/${encodeURIComponent(String(walletId))}/accounts`, body: account }
    }
    case 'key.get':
      return { method: 'GET', path: `/v1/keys/${k}` }
    case 'key.list': {
      // The creators travel as one comma-separated query parameter (compressed keys: hex, no commas).
      const { creators } = params as { creators?: unknown }
      return { method: 'GET', path: Array.isArray(creators) ? `/v1/keys?creators=${creators.map((c) => encodeURIComponent(String(c))).join(',')}` : '/v1/keys' }
    }
    case 'sign.eip1559':
      return { method: 'POST', path: `/v1/keys/${k}/sign`, body: { type: 'eip1559', ...rest } }
    case 'policy.set':
      return { method: 'POST', path: `/v1/keys/${k}/policy`, body: rest }
    case 'policy.get':
      return { method: 'GET', path: `/v1/keys/${k}/policy` }
    case 'system.health':
      return { method: 'GET', path: '/healthz' }
    case 'system.attestation':
      return { method: 'GET', path: `/v1/attestation?nonce=${encodeURIComponent(String((params as { nonce?: unknown }).nonce))}` }
    case 'sign.batch':
      // One route for a batch of any signing operations of one key: the items travel as they are stamped.
      return { method: 'POST', path: `/v1/keys/${k}/${SIGN_BATCH_ACTION}`, body: rest }
    case 'audit.read':
      // Parent-internal: the proxy reads the enclave's audit events itself; there is no HTTP route.
      return { method: 'GET', path: '/v1/audit' }
    default:
      // Every other signing operation, of every family: its action from the families' table.
      return { method: 'POST', path: `/v1/keys/${k}/${SIGN_ACTIONS[op]}`, body: rest }
  }
}

/** Map an HTTP request back to `{ op, params }`, or undefined for a route that does not exist. */
export function routeToOperation(method: string, pathname: string, body: unknown, search?: URLSearchParams): { op: Operation; params: unknown } | undefined {
  const parts = pathname.split('/').filter(Boolean)
  if (pathname === '/v1/attestation' && method === 'GET') return { op: 'system.attestation', params: { nonce: search?.get('nonce') ?? '' } }
  if (parts[0] === 'v1' && parts[1] === 'wallets' && method === 'POST') {
    const wallet = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>
    if (parts.length === 2) return { op: wallet.sealed === undefined ? 'wallet.create' : 'wallet.importSealed', params: wallet }
    if (parts.length === 4 && parts[3] === 'accounts') return { op: 'account.create', params: { ...wallet, walletId: safeDecode(parts[2]!) } }
    return undefined
  }
  if (parts[0] !== 'v1' || parts[1] !== 'keys') return undefined
  const keyId = parts[2] === undefined ? undefined : safeDecode(parts[2])
  const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>
  if (parts.length === 2 && method === 'GET') {
    const creators = search?.get('creators')
    return { op: 'key.list', params: creators === null || creators === undefined ? {} : { creators: creators.split(',') } }
  }
  if (parts.length === 2 && method === 'POST') {
    if (b.generate === true) {
      const { generate: _, ...params } = b
      return { op: 'key.generate', params }
    }
    if (b.sealed !== undefined) return { op: 'key.importSealed', params: b }
    return { op: 'key.import', params: b }
  }
  if (parts.length === 3 && method === 'GET') return { op: 'key.get', params: { keyId } }
  if (parts.length === 4 && parts[3] === 'policy') {
    if (method === 'GET') return { op: 'policy.get', params: { keyId } }
    if (method === 'POST') return { op: 'policy.set', params: { ...b, keyId } }
  }
  if (parts.length === 4 && parts[3] === 'sign' && method === 'POST') {
    const { type, ...rest } = b
    if (type === undefined || type === 'eip1559') return { op: 'sign.eip1559', params: { ...rest, keyId } }
  }
  if (parts.length === 4 && parts[3] === SIGN_BATCH_ACTION && method === 'POST') return { op: 'sign.batch', params: { ...b, keyId } }
  const action = parts.length === 4 && method === 'POST' ? ACTION_OPS.get(parts[3]!) : undefined
  if (action) return { op: action, params: { ...b, keyId } }
  return undefined
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
