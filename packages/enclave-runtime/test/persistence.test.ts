import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCustodyClient, isCustodyError } from '@enclave-custody/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { createRequestHandler } from '../src/handler.js'
import { createFileKeyStore } from '../src/keys/fileKeyStore.js'
import { createLocalSealer } from '../src/keys/localSealer.js'
import { createRuntime, loadDevSealingKey, localEnclave } from '../src/localEnclave.js'

const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const tx = { chainId: 1n, nonce: 0n, to: null, gas: 60_000n, maxFeePerGas: 10n, maxPriorityFeePerGas: 1n, data: '0x00' }
const dirs: string[] = []
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'custody-persist-'))
  dirs.push(d)
  return d
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

describe('persistence', () => {
  it('keys survive a restart of the runtime and sign identically', async () => {
    const dataDir = await tempDir()
    const first = createCustodyClient({ transport: localEnclave({ dataDir }) })
    const imported = await first.importKey({ privateKey: KEY, keyId: 'imported' })
    const generated = await first.importKey({ generate: true, keyId: 'generated' })
    const before = await first.signEip1559('generated', tx)

    const second = createCustodyClient({ transport: localEnclave({ dataDir }) })
    expect((await second.listKeys()).map((k) => [k.keyId, k.address])).toEqual([
      ['generated', generated.address],
      ['imported', imported.address],
    ])
    // RFC 6979: the same key and transaction give the same bytes after the restart.
    expect((await second.signEip1559('generated', tx)).rawTransaction).toBe(before.rawTransaction)
    expect((await second.signEip1559('imported', tx)).from).toBe('0x70997970C51812dc3A010C7d01b50e0d17dc79C8')
  })

  it('stores only sealed key bytes on disk', async () => {
    const dataDir = await tempDir()
    await createCustodyClient({ transport: localEnclave({ dataDir }) }).importKey({ privateKey: KEY, keyId: 'k' })
    const record = await readFile(join(dataDir, 'keys', 'k.json'), 'utf8')
    expect(record).not.toContain(KEY.slice(2))
    expect(JSON.parse(record)).toMatchObject({ version: 1, keyId: 'k', sealing: 'local-aes-gcm', encryptionContext: { keyId: 'k' } })
  })

  it('refuses a record moved to another keyId (sealing is bound to the keyId)', async () => {
    const dataDir = await tempDir()
    const client = createCustodyClient({ transport: localEnclave({ dataDir }) })
    await client.importKey({ privateKey: KEY, keyId: 'a' })
    await client.importKey({ generate: true, keyId: 'b' })
    const a = JSON.parse(await readFile(join(dataDir, 'keys', 'a.json'), 'utf8'))
    const b = JSON.parse(await readFile(join(dataDir, 'keys', 'b.json'), 'utf8'))
    // Swap a's sealed bytes into b's record (keeping b's context): authentication must fail.
    await writeFile(join(dataDir, 'keys', 'b.json'), JSON.stringify({ ...b, ciphertext: a.ciphertext }))
    const error = await createCustodyClient({ transport: localEnclave({ dataDir }) }).signEip1559('b', tx).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
  })

  it('a write that crashes before commit leaves the previous state intact', async () => {
    const dataDir = await tempDir()
    const sealer = createLocalSealer(await loadDevSealingKey(dataDir))
    const handler = createRequestHandler({ keyStore: await createFileKeyStore(join(dataDir, 'keys')), sealer })
    await handler.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'kept' } })

    const crashing = createRequestHandler({
      keyStore: await createFileKeyStore(join(dataDir, 'keys'), {
        beforeCommit: async (temp) => {
          // Half the record is on disk in the temp file when the "crash" happens.
          await writeFile(temp, '{"version":1,"keyId":"lost"')
          throw new Error('simulated crash')
        },
      }),
      sealer,
    })
    const failed = await crashing.handle({ v: 1, id: '2', op: 'key.generate', params: { keyId: 'lost' } })
    expect(failed).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } })

    const reopened = await createRuntime({ dataDir })
    const listed = await reopened.handle({ v: 1, id: '3', op: 'key.list', params: {} })
    expect(listed).toMatchObject({ ok: true, result: { keys: [{ keyId: 'kept' }] } })
    expect((await readdir(join(dataDir, 'keys'))).sort()).toEqual(['kept.json'])
  })

  it('a process killed mid-write leaves only complete records', async () => {
    const dataDir = await tempDir()
    const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'importLoop.ts')
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', fixture, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString()
    })
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`child made no progress: ${err}`)), 20_000)
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
        // Let it commit a few dozen keys, then kill it wherever it is.
        if ((out.match(/committed/g) ?? []).length >= 30) {
          clearTimeout(t)
          child.kill('SIGKILL')
          resolve()
        }
      })
    })
    await new Promise((r) => child.once('exit', r))
    const committed = out.match(/committed (crash-\d+)/g)!.map((l) => l.split(' ')[1]!)

    const handler = await createRuntime({ dataDir })
    const listed = (await handler.handle({ v: 1, id: 'l', op: 'key.list', params: {} })) as { ok: true; result: { keys: { keyId: string }[] } }
    const ids = listed.result.keys.map((k) => k.keyId)
    // Every key reported committed is there; at most the one in flight may also have landed.
    for (const id of committed) expect(ids).toContain(id)
    expect(ids.length - committed.length).toBeLessThanOrEqual(1)
    // …and every record on disk is complete: it unseals and signs.
    for (const id of ids) {
      const signed = await handler.handle({ v: 1, id: 's', op: 'sign.eip1559', params: { keyId: id, tx: { chainId: '1', nonce: '0', gas: '21000', maxFeePerGas: '1', maxPriorityFeePerGas: '1' } } })
      expect(signed.ok).toBe(true)
    }
    expect((await readdir(join(dataDir, 'keys'))).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })
})
