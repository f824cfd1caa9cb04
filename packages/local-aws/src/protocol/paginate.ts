import type { AwsServiceError } from './AwsServiceError.js'

export type Page<T> = { items: T[]; next: string | undefined }

/**
 * Offset pagination with an opaque token (`NextMarker` / `NextToken`).
 *
 * @param items - the full, stably ordered list
 * @param token - the token from the previous page, if any
 * @param limit - the page size
 * @param invalid - makes the error for a token this function did not issue
 * @returns the page and the token of the next one (`undefined` on the last page)
 * @throws what `invalid` returns, for a foreign token
 */
export function paginate<T>(items: readonly T[], token: string | undefined, limit: number, invalid: () => AwsServiceError): Page<T> {
  let start = 0
  if (token !== undefined) {
    const decoded = /^o:(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'))
    if (decoded === null) throw invalid()
    start = Number(decoded[1])
  }
  const end = start + limit
  return { items: items.slice(start, end), next: end < items.length ? Buffer.from(`o:${end}`, 'utf8').toString('base64url') : undefined }
}
