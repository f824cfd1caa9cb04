/**
 * Stable, machine-readable error codes. They travel on the wire and never change meaning.
 */
export const ErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  INVALID_FRAME: 'INVALID_FRAME',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  UNKNOWN_OPERATION: 'UNKNOWN_OPERATION',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  KEY_NOT_FOUND: 'KEY_NOT_FOUND',
  KEY_EXISTS: 'KEY_EXISTS',
  INTEGRITY_ERROR: 'INTEGRITY_ERROR',
  ATTESTATION_FAILED: 'ATTESTATION_FAILED',
  POLICY_DENIED: 'POLICY_DENIED',
  UNAVAILABLE: 'UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
  INTERNAL: 'INTERNAL',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export const errorCodes: readonly ErrorCode[] = Object.values(ErrorCode)

/** Whether a caller may retry the same request unchanged. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT])

/** Longest `shortMessage` an error carries (characters); longer ones are cut with an ellipsis. */
export const MAX_MESSAGE_CHARS = 512
/** Longest string value in an error's `details`. */
const MAX_DETAIL_CHARS = 256
/** Most entries in an error's `details`. */
const MAX_DETAIL_ENTRIES = 16

function clipText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** Details with bounded strings and entries; nested objects and arrays become a short type note. */
function clipDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(details).slice(0, MAX_DETAIL_ENTRIES)) {
    const key = clipText(k, 64)
    if (typeof v === 'string') out[key] = clipText(v, MAX_DETAIL_CHARS)
    else if (v === null || typeof v === 'number' || typeof v === 'boolean') out[key] = v
    else if (typeof v === 'bigint') out[key] = clipText(v.toString(), MAX_DETAIL_CHARS)
    else if (Array.isArray(v) && v.length <= MAX_DETAIL_ENTRIES && v.every((x) => typeof x === 'string' || typeof x === 'number')) {
      out[key] = v.map((x) => (typeof x === 'string' ? clipText(x, 64) : x))
    } else if (v !== undefined) out[key] = `[${Array.isArray(v) ? 'array' : typeof v}]`
  }
  return out
}

/**
 * The brand every CustodyError carries (on the prototype, not enumerable). A registered symbol is the same
 * in every copy of this module — the ESM and the CJS build loaded side by side, or two installed versions
 * — so an error thrown by one copy is recognised by another, where `instanceof` on a class alone is not.
 */
const CUSTODY_ERROR_BRAND: unique symbol = Symbol.for('enclave-custody.CustodyError')

/** Whether `value` is a CustodyError from any copy of this module: the brand and a known code. */
function hasCustodyErrorBrand(value: unknown): value is CustodyError {
  if (typeof value !== 'object' || value === null) return false
  const v = value as { [CUSTODY_ERROR_BRAND]?: unknown; code?: unknown }
  return v[CUSTODY_ERROR_BRAND] === true && (errorCodes as readonly unknown[]).includes(v.code)
}

const DOCS_BASE = 'https://github.com/enclave-custody/enclave-custody/blob/main/docs/errors.md'

export type CustodyErrorParameters = {
  /** One sentence: what went wrong. Never contains key material. */
  shortMessage: string
  /** Extra structured facts (field names, limits). Never contains key material. */
  details?: Record<string, unknown>
  cause?: unknown
  /** Override the default retryability of the code. */
  retryable?: boolean
}

/**
 * The base of every error enclave-custody throws. `code` is stable and machine-readable.
 *
 * @example
 * import { isCustodyError } from '@enclave-custody/sdk'
 * try { await custody.signEip1559(keyId, tx) } catch (e) {
 *   if (isCustodyError(e, 'INVALID_ARGUMENT')) console.error(e.details?.field)
 * }
 */
export class CustodyError extends Error {
  static {
    Object.defineProperty(CustodyError.prototype, CUSTODY_ERROR_BRAND, { value: true })
  }

  /**
   * `e instanceof CustodyError` holds for a CustodyError from any copy of the SDK (by its brand).
   * Subclasses keep the ordinary prototype check: across copies, test them with `isCustodyError(e, code)`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` names, a subclass too
    return this === CustodyError ? hasCustodyErrorBrand(value) : Function.prototype[Symbol.hasInstance].call(this, value)
  }

  override name = 'CustodyError'
  readonly code: ErrorCode
  readonly shortMessage: string
  readonly details: Record<string, unknown> | undefined
  readonly retryable: boolean
  readonly docsUrl: string

  constructor(code: ErrorCode, { shortMessage, details, cause, retryable }: CustodyErrorParameters) {
    // Messages and details may quote what a caller sent: bound them here, once, so that no error (and no
    // response carrying one) grows with its input.
    const message = clipText(shortMessage, MAX_MESSAGE_CHARS)
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
    this.shortMessage = message
    this.details = details === undefined ? undefined : clipDetails(details)
    this.retryable = retryable ?? RETRYABLE.has(code)
    this.docsUrl = `${DOCS_BASE}#${code.toLowerCase().replaceAll('_', '-')}`
  }

  /** The wire form: `{ code, message, retryable }` (details only when present). */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.shortMessage,
      retryable: this.retryable,
      ...(this.details === undefined ? {} : { details: this.details }),
    }
  }
}

/** A request argument broke a rule. `details.field` names the field, `details.rule` the rule. */
export class InvalidArgumentError extends CustodyError {
  override name = 'InvalidArgumentError'
  constructor({ field, rule, cause }: { field: string; rule: string; cause?: unknown }) {
    super(ErrorCode.INVALID_ARGUMENT, { shortMessage: `"${field}" ${rule}`, details: { field, rule }, cause })
  }
}

export class InvalidFrameError extends CustodyError {
  override name = 'InvalidFrameError'
  constructor({ reason, cause }: { reason: string; cause?: unknown }) {
    super(ErrorCode.INVALID_FRAME, { shortMessage: `invalid frame: ${reason}`, cause })
  }
}

export class UnsupportedVersionError extends CustodyError {
  override name = 'UnsupportedVersionError'
  constructor({ version, supported }: { version: unknown; supported: number }) {
    // Only a small integer is echoed: the caller may have sent anything (of any size) in its place.
    const shown = version === undefined ? 'undefined' : Number.isSafeInteger(version) && Math.abs(version as number) < 1e6 ? String(version) : `of type ${typeof version}`
    super(ErrorCode.UNSUPPORTED_VERSION, {
      shortMessage: `protocol version ${shown} is not supported (supported: ${supported})`,
      details: { supported },
    })
  }
}

export class UnknownOperationError extends CustodyError {
  override name = 'UnknownOperationError'
  constructor({ op }: { op: string }) {
    // Only an identifier-like name is echoed: a caller may have sent anything in its place.
    super(ErrorCode.UNKNOWN_OPERATION, { shortMessage: /^[a-zA-Z_.]{1,32}$/.test(op) ? `unknown operation "${op}"` : 'unknown operation' })
  }
}

/** The caller did not prove who it is (bearer token or client certificate). */
export class UnauthenticatedError extends CustodyError {
  override name = 'UnauthenticatedError'
  constructor({ reason = 'authentication required' }: { reason?: string } = {}) {
    super(ErrorCode.UNAUTHENTICATED, { shortMessage: reason })
  }
}

/** The caller proved who it is, but that API key may not use the key the request names. */
export class ForbiddenError extends CustodyError {
  override name = 'ForbiddenError'
  constructor({ reason }: { reason: string }) {
    super(ErrorCode.FORBIDDEN, { shortMessage: `forbidden: ${reason}` })
  }
}

export class KeyNotFoundError extends CustodyError {
  override name = 'KeyNotFoundError'
  constructor({ keyId }: { keyId: string }) {
    super(ErrorCode.KEY_NOT_FOUND, { shortMessage: `key "${keyId}" not found`, details: { keyId } })
  }
}

export class KeyExistsError extends CustodyError {
  override name = 'KeyExistsError'
  constructor({ keyId }: { keyId: string }) {
    super(ErrorCode.KEY_EXISTS, { shortMessage: `key "${keyId}" already exists`, details: { keyId } })
  }
}

/** The backend returned something that does not check out (wrong signer, malformed result). */
export class IntegrityError extends CustodyError {
  override name = 'IntegrityError'
  constructor({ reason, details }: { reason: string; details?: Record<string, unknown> }) {
    super(ErrorCode.INTEGRITY_ERROR, { shortMessage: `integrity check failed: ${reason}`, details })
  }
}

export class AttestationError extends CustodyError {
  override name = 'AttestationError'
  constructor({ reason, cause }: { reason: string; cause?: unknown }) {
    super(ErrorCode.ATTESTATION_FAILED, { shortMessage: `attestation failed: ${reason}`, cause })
  }
}

/**
 * A key's sealed flags or its signing policy refused the request. `details.rule` names the policy rule that
 * decided (absent when no rule allows, or when a sealed flag refused).
 */
export class PolicyDeniedError extends CustodyError {
  override name = 'PolicyDeniedError'
  constructor({ reason, rule, cause }: { reason: string; rule?: string; cause?: unknown }) {
    super(ErrorCode.POLICY_DENIED, { shortMessage: `denied: ${reason}`, cause, ...(rule === undefined ? {} : { details: { rule } }) })
  }
}

export class UnavailableError extends CustodyError {
  override name = 'UnavailableError'
  /** `retryable: false` for a refusal that will not pass by itself (the proxy refusing this caller's credentials). */
  constructor({ reason, cause, retryable }: { reason: string; cause?: unknown; retryable?: boolean }) {
    super(ErrorCode.UNAVAILABLE, { shortMessage: `unavailable: ${reason}`, cause, ...(retryable === undefined ? {} : { retryable }) })
  }
}

export class TimeoutError extends CustodyError {
  override name = 'TimeoutError'
  constructor({ operation, ms }: { operation: string; ms: number }) {
    super(ErrorCode.TIMEOUT, { shortMessage: `${operation} timed out after ${ms} ms`, details: { ms } })
  }
}

export class InternalError extends CustodyError {
  override name = 'InternalError'
  constructor({ reason = 'internal error', cause }: { reason?: string; cause?: unknown } = {}) {
    super(ErrorCode.INTERNAL, { shortMessage: reason, cause })
  }
}

/**
 * Type guard: `e` is a CustodyError (with `code`, when given), from this copy of the SDK or any other
 * (its ESM and CJS builds, another installed version): recognised by a `Symbol.for` brand.
 *
 * @example
 * if (isCustodyError(err, 'KEY_NOT_FOUND')) return null
 */
export function isCustodyError<C extends ErrorCode>(e: unknown, code?: C): e is CustodyError & { code: C } {
  return hasCustodyErrorBrand(e) && (code === undefined || e.code === code)
}

/**
 * Rebuild a CustodyError from its wire form. Unknown codes become INTERNAL: a peer cannot invent codes.
 */
export function errorFromWire(wire: { code: string; message: string; retryable?: boolean; details?: Record<string, unknown> }): CustodyError {
  const code = (errorCodes as readonly string[]).includes(wire.code) ? (wire.code as ErrorCode) : ErrorCode.INTERNAL
  return new CustodyError(code, {
    shortMessage: String(wire.message).slice(0, 1000),
    details: wire.details,
    retryable: wire.retryable,
  })
}

/** Our own errors pass unchanged; anything else is wrapped as INTERNAL with `cause`. */
export function toCustodyError(e: unknown, reason?: string): CustodyError {
  if (hasCustodyErrorBrand(e)) return e
  return new InternalError({ reason, cause: e })
}
