import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'

export type ImdsEmulator = {
  endpoint: string
  /** Requests seen, as "METHOD path (token: yes|no)". */
  readonly seen: string[]
  /** Credential documents served so far. */
  readonly served: number
  /** Invalidate every session token (the next GET gets 401). */
  revokeTokens(): void
  close(): Promise<void>
}

/**
 * An IMDSv2 endpoint for tests: `PUT /latest/api/token` (requires the TTL header) issues session tokens;
 * metadata GETs without a valid token get 401 (IMDSv1 disabled, as on instances with HttpTokens=required);
 * the role's credentials expire `lifetimeMs` after each fetch.
 */
export async function startImdsEmulator({ role, credentials, lifetimeMs, now = Date.now }: {
  role: string
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  lifetimeMs: number
  now?: () => number
}): Promise<ImdsEmulator> {
  const tokens = new Set<string>()
  const seen: string[] = []
  let served = 0
  const server: Server = createServer((req, res) => {
    const token = req.headers['x-aws-ec2-metadata-token']
    const valid = typeof token === 'string' && tokens.has(token)
    seen.push(`${req.method} ${req.url} (token: ${valid ? 'yes' : 'no'})`)
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end()
      const t = randomBytes(24).toString('base64')
      tokens.add(t)
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(t)
    }
    if (!valid) return void res.writeHead(401).end()
    const base = '/latest/meta-data/iam/security-credentials/'
    if (req.url === base) return void res.writeHead(200).end(`${role}\n`)
    if (req.url === `${base}${role}`) {
      served++
      const body = {
        Code: 'Success',
        Type: 'AWS-HMAC',
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        Token: credentials.sessionToken ?? `session-${served}`,
        Expiration: new Date(now() + lifetimeMs).toISOString(),
      }
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    get served() {
      return served
    },
    revokeTokens: () => tokens.clear(),
    close: () => new Promise((r) => server.close(() => r())),
  }
}
