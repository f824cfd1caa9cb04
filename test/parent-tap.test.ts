/**
 * The parent never sees a private key: every byte the parent handles is tapped — SDK ⇄ proxy, proxy ⇄
 * enclave socket (the bridge), every AWS call (KMS, Secrets Manager) — and every file of the stores (local AWS
 * state, the data directory) is read, then searched for the imported key raw, as hex in both cases, base64 and
 * base64url. A positive control: the same taps find the key when the loud insecure plaintext option is used.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type DevStack, startDevStack } from '@enclave-custody/cli'
import { createSecretsManagerRecordSource, type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { apiKeyStamper, createCustodyClient, generateApiKey, nitroEnclave, privateKeyToAddress } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/** A TCP relay that keeps a copy of every byte in both directions. */
async function tapTo(port: number, bytes: Buffer[]): Promise<{ server: Server; port: number }> {
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1')
    client.on('data', (d: Buffer) => bytes.push(Buffer.from(d)))
    upstream.on('data', (d: Buffer) => bytes.push(Buffer.from(d)))
    client.pipe(upstream).on('error', () => client.destroy())
    upstream.pipe(client).on('error', () => upstream.destroy())
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as { port: number }).port }
}

async function filesUnder(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name)
    if ((await stat(path)).isFile()) out.push(await readFile(path))
  }
  return out
}

/** Where the key shows up: raw bytes, lower- or upper-case hex, base64, base64url. */
function spellingsFound(key: Buffer, corpus: Buffer[]): string[] {
  const text = Buffer.concat(corpus).toString('latin1')
  const raw = Buffer.concat(corpus).includes(key)
  const spellings = { hex: key.toString('hex'), HEX: key.toString('hex').toUpperCase(), base64: key.toString('base64').replace(/=+$/, ''), base64url: key.toString('base64url') }
  return [...(raw ? ['raw'] : []), ...Object.entries(spellings).filter(([, s]) => text.includes(s)).map(([name]) => name)]
}

let dir: string
let stack: DevStack
let proxy: ParentProxy
const taps: Server[] = []
const wire: Buffer[] = []
let url: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parent-tap-'))
  stack = await startDevStack({
    dataDir: dir,
    anvil: false,
    tapAws: async (endpoint) => {
      const t = await tapTo(Number(new URL(endpoint).port), wire)
      taps.push(t.server)
      return `http://127.0.0.1:${t.port}`
    },
  })
  // A proxy of the parent's own, in front of a tap on the enclave socket, reading records through the AWS tap.
  const bridge = await tapTo(stack.enclavePort, wire)
  taps.push(bridge.server)
  const instance = stack.config.principals.instance
  const credentials = { accessKeyId: instance.accessKeyId, secretAccessKey: instance.secretAccessKey }
  const aws = taps[0]!.address() as { port: number }
  const secrets = new SecretsManagerClient({ region: stack.region, endpoint: `http://127.0.0.1:${aws.port}`, credentials })
  proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: bridge.port }, records: createSecretsManagerRecordSource({ client: secrets }), credentials: async () => credentials })
  const front = await tapTo(proxy.port, wire)
  taps.push(front.server)
  url = `http://127.0.0.1:${front.port}`
}, 120_000)

afterAll(async () => {
  await proxy?.close()
  await stack?.close()
  for (const t of taps) t.close()
  await rm(dir, { recursive: true, force: true })
})

describe('the parent never sees a private key', () => {
  it('an imported key appears in no byte the parent handles and no file it stores; the plaintext option is caught (positive control)', async () => {
    const custody = createCustodyClient({ transport: nitroEnclave({ url, attestation: stack.attestation }), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }), importer: stack.importer })
    const sealedKey = Buffer.from(generateApiKey().privateKey.slice(2), 'hex') // 32 random bytes, a valid secp256k1 key with overwhelming probability
    const imported = await custody.importKey({ privateKey: `0x${sealedKey.toString('hex')}`, keyId: 'tapped' })
    expect(imported.address).toBe(privateKeyToAddress(sealedKey))
    const signed = await custody.signMessage('tapped', { message: 'through every tap' })
    expect(signed.signature).toMatch(/^0x/)
    const bytesSeen = wire.reduce((n, b) => n + b.length, 0)
    expect(bytesSeen).toBeGreaterThan(10_000) // the taps carried the traffic
    expect(spellingsFound(sealedKey, [...wire, ...(await filesUnder(dir))])).toEqual([])

    // Positive control: the same taps, the loud plaintext import (to a local-sealing path it is refused by
    // nothing on the wire: the key crosses the proxy and the bridge in hex).
    const plainKey = Buffer.from(generateApiKey().privateKey.slice(2), 'hex')
    const plain = await custody.importKey({ privateKey: `0x${plainKey.toString('hex')}`, keyId: 'plain', insecurePlaintextImport: true })
    expect(plain.address).toBe(privateKeyToAddress(plainKey))
    expect(spellingsFound(plainKey, wire)).toContain('hex')
  }, 60_000)
})
