/**
 * Which member carries the error text in an awsJson1_1 error body. KMS's modeled errors use `message`,
 * Secrets Manager's use `Message` (PROTOCOL-NOTES.md §3). AWS SDKs accept either.
 */
export type AwsMessageMember = 'message' | 'Message'

export type AwsServiceErrorParameters = {
  /** The AWS error code, e.g. `NotFoundException`. Sent as `__type` and as the `x-amzn-errortype` header. */
  code: string
  /** The error text. Omit it to send a body without a message member (KMS does this for InvalidCiphertextException). */
  message?: string
  /** @default 400 */
  statusCode?: number
  /** @default 'message' */
  messageMember?: AwsMessageMember
}

/**
 * An error that the server turns into an AWS JSON 1.1 error response. Thrown by the service handlers; never
 * leaves the server as an exception. Messages must never contain plaintext, data keys or secret values.
 */
export class AwsServiceError extends Error {
  override name = 'AwsServiceError'
  readonly code: string
  readonly statusCode: number
  readonly messageMember: AwsMessageMember
  readonly hasMessage: boolean

  constructor({ code, message, statusCode = 400, messageMember = 'message' }: AwsServiceErrorParameters) {
    super(message ?? code)
    this.code = code
    this.statusCode = statusCode
    this.messageMember = messageMember
    this.hasMessage = message !== undefined
  }

  /** The JSON body: `{"__type": code, "message"|"Message": text}`, or just `{"__type": code}`. */
  toBody(): Record<string, string> {
    return this.hasMessage ? { __type: this.code, [this.messageMember]: this.message } : { __type: this.code }
  }
}

/** A KMS error (`message` member). */
export function kmsError(code: string, message?: string, statusCode = 400): AwsServiceError {
  return new AwsServiceError({ code, message, statusCode, messageMember: 'message' })
}

/** A Secrets Manager error (`Message` member). */
export function secretsError(code: string, message: string, statusCode = 400): AwsServiceError {
  return new AwsServiceError({ code, message, statusCode, messageMember: 'Message' })
}

/**
 * AWS's generic request validation error: `1 validation error detected: Value … at '<member>' failed to satisfy constraint: …`.
 * `value` is echoed only when given (enums, numbers); `null` prints `Value null` (a missing member).
 */
export function validationError(member: string, constraint: string, value?: string | null): AwsServiceError {
  const shown = value === undefined ? 'Value' : value === null ? 'Value null' : `Value '${value.slice(0, 128)}'`
  return new AwsServiceError({
    code: 'ValidationException',
    message: `1 validation error detected: ${shown} at '${lowerFirst(member)}' failed to satisfy constraint: ${constraint}`,
  })
}

/** A request body that is not the JSON shape the operation expects. */
export function serializationError(message: string): AwsServiceError {
  return new AwsServiceError({ code: 'SerializationException', message })
}

function lowerFirst(s: string): string {
  return s.length === 0 ? s : s[0]!.toLowerCase() + s.slice(1)
}
