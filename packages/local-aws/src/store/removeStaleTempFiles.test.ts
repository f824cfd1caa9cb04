import { randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { removeStaleTempFiles } from './removeStaleTempFiles.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-aws-stale-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('removeStaleTempFiles', () => {
  it('removes only the temporary files of the named state files', async () => {
    const stale = [`.kms.json.${randomUUID()}.tmp`, `.secretsmanager.json.${randomUUID()}.tmp`]
    const kept = ['kms.json', 'secretsmanager.json', 'local-aws.lock', `.other.json.${randomUUID()}.tmp`, '.kms.json.not-a-uuid.tmp', `.kmsXjson.${randomUUID()}.tmp`]
    for (const name of [...stale, ...kept]) await writeFile(join(dir, name), 'x')
    await mkdir(join(dir, `.kms.json.${randomUUID()}.tmp.d`))
    expect((await removeStaleTempFiles(dir, ['kms.json', 'secretsmanager.json'])).sort()).toEqual([...stale].sort())
    const left = await readdir(dir)
    for (const name of kept) expect(left).toContain(name)
    for (const name of stale) expect(left).not.toContain(name)
  })

  it('is a no-op on a clean directory', async () => {
    expect(await removeStaleTempFiles(dir, ['kms.json'])).toEqual([])
  })
})
