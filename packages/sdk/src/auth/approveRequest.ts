import { PROTOCOL_VERSION } from '../protocol/version.js'
import { canonicalApiKey } from '../keys/owners.js'
import { assertObject, fail } from '../utils/assert.js'
import { stampRequest } from './stampRequest.js'
import type { RequestStamp, Stamper } from './types.js'

/**
 * A request to approve, as `custody.approvalRequest.<method>(…)` builds it: the operation, its params exactly as
 * they will be sent, the audience (the enclave's trust-configuration digest) and the requester's API key. Plain JSON: send it to an
 * approver, who reads what it approves (`op`, `params`) before stamping it.
 */
export type ApprovalRequest = { v: number; op: string; params: unknown; aud: string; requester: string }

/**
 * Stamp a request as an approver (quorum): a stamp over the request and its requester's API key, in its own
 * context (`enclave-custody/approval/v1`: never usable as a request stamp, nor by another requester), with this
 * approver's API key, a fresh nonce and the time. The requester passes it in `options.approvals` within 5
 * minutes; the enclave counts it once.
 *
 * @throws InvalidArgumentError when `request` is malformed.
 * @example
 * const request = await custody.approvalRequest.signTransaction('treasury', tx)
 * const approval = await approveRequest(cfoStamper, request) // on the CFO's machine
 * await custody.signTransaction('treasury', tx, { approvals: [approval] })
 */
export async function approveRequest(stamper: Stamper, request: ApprovalRequest): Promise<RequestStamp> {
  const r = assertObject(request, 'request', ['v', 'op', 'params', 'aud', 'requester'])
  if (r.v !== PROTOCOL_VERSION) fail('request.v', `must be ${PROTOCOL_VERSION}`)
  if (typeof r.op !== 'string' || !r.op.startsWith('sign.')) fail('request.op', 'must be a signing operation')
  if (typeof r.aud !== 'string' || !/^0x[0-9a-f]{64}$/.test(r.aud)) fail('request.aud', 'must be a 32-byte digest, lower-case 0x-hex')
  // The requester is part of what is approved: the stamp counts only in a request that requester stamps.
  const requester = canonicalApiKey(r.requester, 'request.requester')
  return stampRequest({ stamper, v: PROTOCOL_VERSION, op: r.op, params: r.params, aud: r.aud, approvalFor: requester })
}
