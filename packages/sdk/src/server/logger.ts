/** The subset of pino's API the servers use; pass a pino logger or anything shaped like it. */
export type Logger = {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const noop = () => {}
/** A logger that drops everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

/**
 * Paths that pino must redact in every server of this project. Request bodies are never logged, but
 * if one ever is, these fields come out as "[ REDACTED ]".
 */
export const REDACT_PATHS = [
  'privateKey',
  '*.privateKey',
  'params.privateKey',
  'body.privateKey',
  'credentials',
  '*.credentials',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'req.headers.authorization',
  'headers.authorization',
]
