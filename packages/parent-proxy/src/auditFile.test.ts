import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditFileSink } from './auditFile.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-file-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('createAuditFileSink', () => {
  it('appends one JSON line per event and, reopened, knows the last one (where a restarted proxy resumes)', async () => {
    const path = join(dir, 'a.jsonl')
    const first = createAuditFileSink(path)
    expect(first.last).toBeUndefined()
    first.write([{ seq: 0, op: 'boot', attestation: 'x'.repeat(8000) }, { seq: 1, op: 'sign.message' }])
    await first.close()
    const second = createAuditFileSink(path)
    expect(second.last).toEqual({ seq: 1, op: 'sign.message' })
    second.write([{ seq: 2, op: 'key.get' }])
    await second.close()
    expect((await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).seq)).toEqual([0, 1, 2])
    // A long last line (a boot event) is read whole.
    const third = createAuditFileSink(path)
    third.write([{ seq: 0, op: 'boot', attestation: 'y'.repeat(100_000) }])
    await third.close()
    expect(createAuditFileSink(path).last).toMatchObject({ seq: 0, op: 'boot' })
  })

  it('a last line cut short (a crash mid-write) or not JSON gives no resume point', async () => {
    const path = join(dir, 'b.jsonl')
    await writeFile(path, '{"seq":0,"op":"boot"}\n{"seq":1,"op":"sig')
    expect(createAuditFileSink(path).last).toBeUndefined()
    await appendFile(path, '\nnot json\n')
    expect(createAuditFileSink(path).last).toBeUndefined()
  })
})
