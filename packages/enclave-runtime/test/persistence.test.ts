import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  apiKeyStamper,
  createCustodyClient,
  generateApiKey,
  isCustodyError,
  normalizeOwners,
  ownersHash,
  privateKeyToAddress,
  SealedKeyRecordV2Schema,
} from '@enclave-custody/sdk'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { afterEach, describe, expect, it } from 'vitest'
import { createFileKeyStore } from '../src/keys/fileKeyStore.js'
import { createLocalSealer } from '../src/keys/localSealer.js'
import { loadDevSealingKey, localEnclave } from '../src/localEnclave.js'
import { createStampedRuntime, testHandler } from './support/runtime.js'

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
/** The one caller of this file: the same API key before and after every restart, and in the crash test's child. */
const apiKey = generateApiKey()
const stamper = apiKeyStamper({ privateKey: apiKey.privateKey })

describe('persistence', () => {
  it('keys survive a restart of the runtime and sign identically', async () => {
    const dataDir = await tempDir()
    const first = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    const imported = await first.importKey({ privateKey: KEY, keyId: 'imported' })
    const generated = await first.importKey({ generate: true, keyId: 'generated' })
    const before = await first.signEip1559('generated', tx)

    const second = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    expect((await second.listKeys()).map((k) => [k.keyId, k.address])).toEqual([
      ['generated', generated.address],
      ['imported', imported.address],
    ])
    // RFC 6979: the same key and transaction give the same bytes after the restart.
    expect((await second.signEip1559('generated', tx)).rawTransaction).toBe(before.rawTransaction)
    expect((await second.signEip1559('imported', tx)).from).toBe('0x70997970C51812dc3A010C7d01b50e0d17dc79C8')
  })

  it('stores only sealed key bytes on disk: a v2 record, the key under a sealed data key', async () => {
    const dataDir = await tempDir()
    const client = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    await client.importKey({ privateKey: KEY, keyId: 'k' })
    await client.close()
    const file = await readFile(join(dataDir, 'keys', 'k.json'))
    const record = SealedKeyRecordV2Schema.parse(JSON.parse(file.toString('utf8')))
    const owners = normalizeOwners({ publicKeys: [apiKey.publicKey] })
    expect(Object.keys(record).sort()).toEqual(['address', 'ciphertext', 'createdAt', 'creator', 'dataKey', 'enclaveSignature', 'encryptionContext', 'keyId', 'kind', 'owners', 'sealing', 'version'])
    expect(record).toMatchObject({
      version: 2,
      kind: 'secp256k1',
      keyId: 'k',
      address: privateKeyToAddress(Buffer.from(KEY.slice(2), 'hex')),
      sealing: 'local-aes-gcm',
      encryptionContext: { keyId: 'k', owners: ownersHash(owners), record: 'v2' },
      owners,
      creator: owners.publicKeys[0],
    })
    // The key material: 12-byte IV, 32 bytes of AES-256-GCM ciphertext, 16-byte tag; the data key: the local sealer's envelope of 32 bytes.
    const ciphertext = Buffer.from(record.ciphertext, 'base64')
    const dataKey = Buffer.from(record.dataKey, 'base64')
    expect(ciphertext).toHaveLength(12 + 32 + 16)
    expect(dataKey).toHaveLength(12 + 32 + 16)
    // No key material in any encoding: not in the file's bytes (raw, hex either case, base64, base64url)…
    const key = Buffer.from(KEY.slice(2), 'hex')
    for (const encoding of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url'), key.toString('base64').slice(0, 40)]) {
      expect(file.toString('utf8')).not.toContain(encoding)
    }
    expect(file.includes(key)).toBe(false)
    // …nor in what the base64 fields decode to, nor a long piece of it anywhere (8 bytes of the key at any offset).
    for (const bytes of [file, ciphertext, dataKey, Buffer.from(record.enclaveSignature.signature.slice(2), 'hex')]) {
      for (let i = 0; i + 8 <= key.length; i++) expect(bytes.includes(key.subarray(i, i + 8))).toBe(false)
    }
  })

  it('refuses a record moved to another keyId (sealing is bound to the keyId)', async () => {
    const dataDir = await tempDir()
    const client = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    await client.importKey({ privateKey: KEY, keyId: 'a' })
    await client.importKey({ generate: true, keyId: 'b' })
    const a = JSON.parse(await readFile(join(dataDir, 'keys', 'a.json'), 'utf8'))
    const b = JSON.parse(await readFile(join(dataDir, 'keys', 'b.json'), 'utf8'))
    // Swap a's sealed bytes into b's record (keeping b's context): authentication must fail — a's key
    // material alone (under a's data key), and a's data key with it (sealed under a's keyId).
    await writeFile(join(dataDir, 'keys', 'b.json'), JSON.stringify({ ...b, dataKey: a.dataKey, ciphertext: a.ciphertext }))
    const reopened = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    const moved = await reopened.signEip1559('b', tx).catch((e: unknown) => e)
    expect(isCustodyError(moved, 'INTEGRITY_ERROR')).toBe(true)
    expect((moved as Error).message).toMatch(/^integrity check failed: sealed key failed authentication/)
    await writeFile(join(dataDir, 'keys', 'b.json'), JSON.stringify({ ...b, ciphertext: a.ciphertext }))
    const error = await reopened.signEip1559('b', tx).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
    expect((error as Error).message).toBe("integrity check failed: the record's key material failed authentication (header or ciphertext edited)")
    // The enclave vouches for a key only once its record unseals: get refuses b, list leaves it out.
    expect(isCustodyError(await reopened.getKey('b').catch((e: unknown) => e), 'INTEGRITY_ERROR')).toBe(true)
    expect((await reopened.listKeys()).map((k) => k.keyId)).toEqual(['a'])
  })

  it('get and list answer from unsealed keys: the public key of the key itself, and a count of records that did not unseal', async () => {
    const dataDir = await tempDir()
    const client = createCustodyClient({ transport: localEnclave({ dataDir }), stamper })
    await client.importKey({ privateKey: KEY, keyId: 'a' })
    await client.importKey({ generate: true, keyId: 'b' })
    await client.importKey({ generate: true, keyId: 'c' })
    const b = JSON.parse(await readFile(join(dataDir, 'keys', 'b.json'), 'utf8'))
    const c = JSON.parse(await readFile(join(dataDir, 'keys', 'c.json'), 'utf8'))
    // b's record now names c's address: its own key no longer matches it.
    await writeFile(join(dataDir, 'keys', 'b.json'), JSON.stringify({ ...b, address: c.address }))

    const { handler } = await createStampedRuntime({ dataDir }, stamper)
    const got = (await handler.handle({ v: 1, id: 'g', op: 'key.get', params: { keyId: 'a' } })) as { ok: true; result: { address: string; publicKey: string } }
    expect(got).toMatchObject({ ok: true, result: { keyId: 'a', address: privateKeyToAddress(Buffer.from(KEY.slice(2), 'hex')) } })
    // 65 bytes, uncompressed, and the very point of the imported private key.
    expect(got.result.publicKey).toMatch(/^0x04[0-9a-f]{128}$/)
    expect(got.result.publicKey).toBe(`0x${Buffer.from(secp256k1.getPublicKey(Buffer.from(KEY.slice(2), 'hex'), false)).toString('hex')}`)
    expect(await handler.handle({ v: 1, id: 'g', op: 'key.get', params: { keyId: 'b' } })).toMatchObject({ ok: false, error: { code: 'INTEGRITY_ERROR' } })

    const listed = (await handler.handle({ v: 1, id: 'l', op: 'key.list', params: {} })) as { ok: true; result: { keys: { keyId: string; publicKey: string }[]; skipped?: number } }
    expect(listed.ok).toBe(true)
    expect(listed.result.keys.map((k) => k.keyId)).toEqual(['a', 'c'])
    expect(listed.result.keys.every((k) => /^0x04[0-9a-f]{128}$/.test(k.publicKey))).toBe(true)
    expect(listed.result.skipped).toBe(1)
    // With every record sound, no count at all.
    await writeFile(join(dataDir, 'keys', 'b.json'), JSON.stringify(b))
    expect(await handler.handle({ v: 1, id: 'l2', op: 'key.list', params: {} })).toMatchObject({ ok: true, result: { keys: [{ keyId: 'a' }, { keyId: 'b' }, { keyId: 'c' }] } })
    expect(((await handler.handle({ v: 1, id: 'l3', op: 'key.list', params: {} })) as { result: object }).result).not.toHaveProperty('skipped')
  })

  it('a write that crashes before commit leaves the previous state intact', async () => {
    const dataDir = await tempDir()
    const sealer = createLocalSealer(await loadDevSealingKey(dataDir))
    const { handler } = await testHandler({ keyStore: await createFileKeyStore(join(dataDir, 'keys')), sealer }, { stamper })
    await handler.handle({ v: 1, id: '1', op: 'key.import', params: { privateKey: KEY, keyId: 'kept' } })

    const { handler: crashing } = await testHandler(
      {
        keyStore: await createFileKeyStore(join(dataDir, 'keys'), {
          beforeCommit: async (temp) => {
            // Half the record is on disk in the temp file when the "crash" happens.
            await writeFile(temp, '{"version":1,"keyId":"lost"')
            throw new Error('simulated crash')
          },
        }),
        sealer,
      },
      { stamper },
    )
    const failed = await crashing.handle({ v: 1, id: '2', op: 'key.generate', params: { keyId: 'lost' } })
    expect(failed).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } })

    const { handler: reopened } = await createStampedRuntime({ dataDir }, stamper)
    const listed = await reopened.handle({ v: 1, id: '3', op: 'key.list', params: {} })
    expect(listed).toMatchObject({ ok: true, result: { keys: [{ keyId: 'kept' }] } })
    expect((await readdir(join(dataDir, 'keys'))).sort()).toEqual(['kept.json'])
  })

  it('a process killed mid-write leaves only complete records', async () => {
    const dataDir = await tempDir()
    const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'importLoop.ts')
    const child = spawn(process.execPath, ['--conditions=@enclave-custody/source', '--import', 'tsx', fixture, dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CUSTODY_TEST_API_KEY: apiKey.privateKey },
    })
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

    const { handler } = await createStampedRuntime({ dataDir }, stamper)
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
