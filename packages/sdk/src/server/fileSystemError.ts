/** What each errno of a failed write means, in words a caller can act on. */
const CAUSES: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
}

/**
 * The errno code of a file-system error (`ENOSPC`, `EROFS`, …) and what it means, or undefined for anything that
 * is not one. Messages built from it name the cause and the code — never a path, a stack or the data.
 *
 * @example
 * const fs = fileSystemCause(e) // { code: 'ENOSPC', cause: 'no space left on device' }
 */
export function fileSystemCause(e: unknown): { code: string; cause: string } | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  if (typeof code !== 'string' || !/^E[A-Z0-9]{1,16}$/.test(code)) return undefined
  return { code, cause: CAUSES[code] ?? 'file-system error' }
}
