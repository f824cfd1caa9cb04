import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isCustodyError } from '@enclave-custody/sdk'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createImdsCredentialsProvider } from './imdsCredentials.js'

const ROLE = 'custody-role'
const CREDS_PATH = '/latest/meta-data/iam/security-credentials/'

/** A loopback IMDS that behaves like EC2's with IMDSv2 required: every GET needs a token it issued. */
type FakeImds = {
  url: string
  /** Every request seen: method, path, and the token it carried (if any). */
  requests: { method: string; path: string; token: string | undefined }[]
  /** Status of the token PUT; 200 issues a token. */
  tokenStatus: number
  /** Lifetime of the credentials it hands out, from `clock()`. */
  lifetimeMs: number
  /** How many credential sets it has handed out. */
  issued: number
  close(): Promise<void>
}

async function startFakeImds(clock: () => number): Promise<FakeImds> {
  const tokens = new Set<string>()
  const fake: Omit<FakeImds, 'url' | 'close'> = { requests: [], tokenStatus: 200, lifetimeMs: 600_000, issued: 0 }
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const token = req.headers['x-aws-ec2-metadata-token'] as string | undefined
    fake.requests.push({ method: req.method ?? '', path: req.url ?? '', token })
    const send = (status: number, body = '') => res.writeHead(status, { 'content-type': 'text/plain' }).end(body)
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (fake.tokenStatus !== 200) return send(fake.tokenStatus)
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return send(400)
      const issued = `token-${tokens.size + 1}`
      tokens.add(issued)
      return send(200, issued)
    }
    if (req.method !== 'GET') return send(405)
    if (token === undefined || !tokens.has(token)) return send(401)
    if (req.url === CREDS_PATH) return send(200, ROLE)
    if (req.url === `${CREDS_PATH}${ROLE}`) {
      fake.issued++
      return send(
        200,
        JSON.stringify({
          Code: 'Success',
          Type: 'AWS-HMAC',
          AccessKeyId: `ASIA${fake.issued}`,
          SecretAccessKey: `secret-${fake.issued}`,
          Token: `session-${fake.issued}`,
          Expiration: new Date(clock() + fake.lifetimeMs).toISOString(),
        }),
      )
    }
    return send(404)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  })
}

let imds: FakeImds
let time: number
const clock = () => time
const savedEndpoint = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT

beforeEach(async () => {
  time = Date.now()
  imds = await startFakeImds(clock)
})
afterEach(async () => {
  await imds.close()
  if (savedEndpoint === undefined) delete process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT
  else process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = savedEndpoint
})

const gets = () => imds.requests.filter((r) => r.method === 'GET')
const puts = () => imds.requests.filter((r) => r.method === 'PUT')

describe('createImdsCredentialsProvider (against a loopback IMDS that requires IMDSv2)', () => {
  it('reads the role credentials with a session token on every GET', async () => {
    const logged: unknown[] = []
    const log = (obj: object, msg?: string) => logged.push([obj, msg])
    const credentials = createImdsCredentialsProvider({ endpoint: imds.url, now: clock, logger: { debug: log, info: log, warn: log, error: log } })
    const creds = await credentials()
    expect(creds).toEqual({
      accessKeyId: 'ASIA1',
      secretAccessKey: 'secret-1',
      sessionToken: 'session-1',
      expiration: new Date(time + 600_000).toISOString(),
    })
    expect(puts()).toHaveLength(1)
    expect(gets().map((r) => r.path)).toEqual([CREDS_PATH, `${CREDS_PATH}${ROLE}`])
    expect(gets().every((r) => r.token === 'token-1')).toBe(true)
    expect(JSON.stringify(logged)).not.toContain('secret-1')
    expect(JSON.stringify(logged)).not.toContain('session-1')
  })

  it('the fake refuses a GET without a token (IMDSv1)', async () => {
    const res = await fetch(`${imds.url}${CREDS_PATH}`)
    expect(res.status).toBe(401)
  })

  it('never falls back to IMDSv1 when no token is issued, and tries IMDSv2 again on the next call', async () => {
    const credentials = createImdsCredentialsProvider({ endpoint: imds.url, now: clock })
    for (const status of [403, 404, 405, 500]) {
      imds.tokenStatus = status
      const error = await credentials().catch((e: unknown) => e)
      expect(isCustodyError(error, 'UNAVAILABLE')).toBe(true)
      expect((error as Error).message).toContain('IMDSv1 is never used')
    }
    expect(gets()).toEqual([])
    expect(puts()).toHaveLength(4)
    imds.tokenStatus = 200
    await expect(credentials()).resolves.toMatchObject({ accessKeyId: 'ASIA1' })
    expect(gets().every((r) => r.token === 'token-1')).toBe(true)
  })

  it('serves cached credentials, then refreshes them before they expire', async () => {
    const credentials = createImdsCredentialsProvider({ endpoint: imds.url, now: clock, refreshBeforeMs: 300_000 })
    expect((await credentials()).accessKeyId).toBe('ASIA1')
    time += 299_000 // 301 s left: still cached
    expect((await credentials()).accessKeyId).toBe('ASIA1')
    expect(imds.issued).toBe(1)
    time += 2_000 // 299 s left: refresh, with a new token
    expect(await credentials()).toMatchObject({ accessKeyId: 'ASIA2', expiration: new Date(time + 600_000).toISOString() })
    expect(imds.issued).toBe(2)
    expect(puts()).toHaveLength(2)
    expect(gets().at(-1)?.token).toBe('token-2')
  })

  it('shares one refresh between concurrent callers', async () => {
    const credentials = createImdsCredentialsProvider({ endpoint: imds.url, now: clock })
    const all = await Promise.all([credentials(), credentials(), credentials()])
    expect(new Set(all.map((c) => c.accessKeyId))).toEqual(new Set(['ASIA1']))
    expect(puts()).toHaveLength(1)
    expect(imds.issued).toBe(1)
  })

  it('keeps serving cached credentials while a refresh fails, and fails once they are expired', async () => {
    const credentials = createImdsCredentialsProvider({ endpoint: imds.url, now: clock })
    await credentials()
    imds.tokenStatus = 503
    time += 400_000 // inside the refresh window, 200 s left
    expect((await credentials()).accessKeyId).toBe('ASIA1')
    time += 200_000 // expired
    const error = await credentials().catch((e: unknown) => e)
    expect(isCustodyError(error, 'UNAVAILABLE')).toBe(true)
  })

  it('is UNAVAILABLE when nothing answers', async () => {
    const url = imds.url
    await imds.close()
    imds = await startFakeImds(clock) // afterEach closes this one
    const error = await createImdsCredentialsProvider({ endpoint: url, now: clock, timeoutMs: 500 })().catch((e: unknown) => e)
    expect(isCustodyError(error, 'UNAVAILABLE')).toBe(true)
  })
})
