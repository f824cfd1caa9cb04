import * as fs from 'node:fs/promises'
import { readdir } from 'node:fs/promises'

/** A step of an atomic write where a fault can be injected. */
export type FaultStep = 'mkdir' | 'open' | 'write' | 'fsync' | 'rename' | 'link'

/** What a full or read-only file system answers. */
export type FaultCode = 'ENOSPC' | 'EROFS'

const SYSCALL: Record<FaultStep, string> = { mkdir: 'mkdir', open: 'open', write: 'write', fsync: 'fsync', rename: 'rename', link: 'link' }
const TEXT: Record<FaultCode, string> = { ENOSPC: 'no space left on device', EROFS: 'read-only file system' }
const ERRNO: Record<FaultCode, number> = { ENOSPC: -28, EROFS: -30 }

/** An error shaped as node:fs throws it (code, errno, syscall, path). */
export function errnoError(code: FaultCode, step: FaultStep, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${TEXT[code]}, ${SYSCALL[step]} '${path}'`), { code, errno: ERRNO[code], syscall: SYSCALL[step], path })
}

/**
 * `node:fs/promises`, except that while `arm(step, code)` holds, the first call of `step` on a temp file (the
 * `*.tmp` an atomic write creates; `mkdir` on any path) fails with `code`. A `write` fault writes half the data
 * first, as a disk that fills up mid-write does. Faults are one-shot: `fired` counts them; `disarm()` stops them.
 */
export function createFaultyFs() {
  let armed: { step: FaultStep; code: FaultCode } | undefined
  let fired = 0
  const hit = (step: FaultStep, path: string) => {
    if (armed?.step !== step) return undefined
    const e = errnoError(armed.code, step, path)
    armed = undefined
    fired++
    return e
  }
  const isTemp = (path: string) => path.endsWith('.tmp')
  const api = {
    async open(path: string, flags: string, mode?: number) {
      if (isTemp(path)) {
        const e = hit('open', path)
        if (e) throw e
      }
      const handle = await fs.open(path, flags, mode)
      if (!isTemp(path)) return handle
      return {
        async writeFile(data: string | Uint8Array) {
          const e = hit('write', path)
          if (e) {
            const bytes = typeof data === 'string' ? Buffer.from(data) : data
            await handle.writeFile(bytes.subarray(0, Math.floor(bytes.length / 2)))
            throw e
          }
          await handle.writeFile(data)
        },
        async sync() {
          const e = hit('fsync', path)
          if (e) throw e
          await handle.sync()
        },
        close: () => handle.close(),
      }
    },
    async rename(from: string, to: string) {
      const e = hit('rename', from)
      if (e) throw e
      await fs.rename(from, to)
    },
    async link(existing: string, path: string) {
      const e = hit('link', existing)
      if (e) throw e
      await fs.link(existing, path)
    },
    unlink: (path: string) => fs.unlink(path),
    async mkdir(path: string, options: { recursive: true; mode: number }) {
      const e = hit('mkdir', path)
      if (e) throw e
      return fs.mkdir(path, options)
    },
  }
  return {
    fs: api,
    arm(step: FaultStep, code: FaultCode) {
      armed = { step, code }
    },
    disarm() {
      armed = undefined
    },
    get fired() {
      return fired
    },
  }
}

/** Temp files an atomic write left in `dir` (none, after a failed write). */
export async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.tmp'))
}
