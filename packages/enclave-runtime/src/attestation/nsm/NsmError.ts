import { AttestationError } from '@enclave-custody/sdk'

/**
 * The error codes a Nitro Secure Module returns as `{"Error": "<code>"}` (aws-nitro-enclaves-nsm-api
 * `ErrorCode`), except `Success`, which never arrives as an error.
 */
export type NsmErrorCode =
  | 'InvalidArgument'
  | 'InvalidIndex'
  | 'InvalidResponse'
  | 'ReadOnlyIndex'
  | 'InvalidOperation'
  | 'BufferTooSmall'
  | 'InputTooLarge'
  | 'InternalError'

/** What each code means, phrased for an operator reading a log line. */
const MEANING: Record<NsmErrorCode, string> = {
  InvalidArgument: 'the NSM rejected an argument of the request',
  InvalidIndex: 'the PCR index is out of range',
  InvalidResponse: 'the NSM response does not correspond to the request',
  ReadOnlyIndex: 'the PCR is locked (read-only)',
  InvalidOperation: 'the NSM cannot fulfil the request (missing capability)',
  BufferTooSmall: 'the response buffer is too small',
  InputTooLarge: 'the request is too large',
  InternalError: 'the NSM had an internal error',
}

/**
 * Whether `code` is one of the {@link NsmErrorCode}s.
 *
 * @param code - Anything, typically the text of a `{"Error": …}` response.
 * @returns `true` for a known NSM error code.
 * @example
 * import { isNsmErrorCode } from '@enclave-custody/enclave-runtime'
 * isNsmErrorCode('InvalidIndex') // true
 */
export function isNsmErrorCode(code: unknown): code is NsmErrorCode {
  return typeof code === 'string' && Object.hasOwn(MEANING, code)
}

/**
 * The Nitro Secure Module answered a request with an error (or the device call failed in a way the AWS
 * library maps to one, such as `EMSGSIZE` → `InputTooLarge`). An {@link AttestationError}
 * (`ATTESTATION_FAILED`) whose `nsmErrorCode` and `details.nsmErrorCode` name the NSM's code.
 *
 * @example
 * import { NsmError } from '@enclave-custody/enclave-runtime'
 * try { await nsm.describePcr(99) } catch (e) {
 *   if (e instanceof NsmError && e.nsmErrorCode === 'InvalidIndex') console.error('no such PCR')
 * }
 */
export class NsmError extends AttestationError {
  override name = 'NsmError'
  /** The NSM's error code. */
  readonly nsmErrorCode: NsmErrorCode
  override readonly details: Record<string, unknown>

  /**
   * @param parameters - `code`: the NSM's error code; `operation`: what was asked (`DescribePCR`, `ioctl`…);
   *   `cause`: the underlying error, if any.
   */
  constructor({ code, operation, cause }: { code: NsmErrorCode; operation: string; cause?: unknown }) {
    super({ reason: `NSM ${operation} returned ${code}: ${MEANING[code]}`, cause })
    this.nsmErrorCode = code
    this.details = { nsmErrorCode: code, operation }
  }
}
