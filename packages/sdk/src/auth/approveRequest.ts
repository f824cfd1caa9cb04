import { PROTOCOL_VERSION } from '../protocol/version.js'
import { assertObject, fail } from '../utils/assert.js'
import { stampRequest } from './stampRequest.js'
import type { RequestStamp, Stamper } from './types.js'

/**
 * A request to approve, as `custody.approvalRequest.<method>(…)` builds it: the operation, its params exactly as
 * they will be sent, and the audience (the enclave's trust-configuration digest). Plain JSON: send it to an
 * approver, who reads what it approves (`op`, `params`) before stamping it.
 */
export type ApprovalRequest = { v: number; op: string; params: unknown; aud: string }

/**
 * Stamp a request as an approver (quorum): the same stamp as a request's own, over the same bytes, with this
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
  const r = assertObject(request, 'request', ['v', 'op', 'params', 'aud'])
  if (r.v !== PROTOCOL_VERSION) fail('request.v', `must be ${PROTOCOL_VERSION}`)
  if (typeof r.op !== 'string' || !r.op.startsWith('sign.')) fail('request.op', 'must be a signing operation')
  if (typeof r.aud !== 'string' || !/^0x[0-9a-f]{64}$/.test(r.aud)) fail('request.aud', 'must be a 32-byte digest, lower-case 0x-hex')
  return stampRequest({ stamper, v: PROTOCOL_VERSION, op: r.op, params: r.params, aud: r.aud })
}
