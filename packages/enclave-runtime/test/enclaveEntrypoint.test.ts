/**
 * The enclave entrypoint, run outside an enclave in its test transport (CUSTODY_BRIDGE_TRANSPORT=tcp): the
 * vsock listener becomes a loopback TCP listener, the vsock connections to the parent's vsock-proxies TCP
 * connections to stand-ins, and `lo` is left alone. Everything else is the production script: the hosts
 * file, the socat bridges (inbound, KMS, Secrets Manager, log channel), the RNG seeder run before anything
 * that makes keys, the runtime's exact command line, supervision and shutdown.
 *
 * Needs socat (CI: apt-get install socat); skips loudly without it.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ENCLAVE_DIR, hasCommand, start, waitFor } from './shellHelpers.js'

const ENTRYPOINT = join(ENCLAVE_DIR, 'entrypoint.sh')
const haveSocat = hasCommand('socat')
if (!haveSocat) console.warn('[enclave entrypoint] SKIPPED: socat is not installed (apt-get install socat)')

/**
 * Stands in for dist/bin/enclave.js: records its arguments, listens on --port, and answers each line with
 * `runtime:<line>`; the line `kms` makes it call 127.0.0.1:<KMS_LOCAL_PORT> (what kms.<region>.amazonaws.com
 * resolves to inside the enclave) and answer with what came back, the line `secrets` the same with the address
 * the hosts file gives secretsmanager.<region>.amazonaws.com and <SECRETS_LOCAL_PORT>; the line `crash` makes
 * it exit 3.
 */
const FAKE_RUNTIME = `
const net = require('node:net')
const fs = require('node:fs')
const args = process.argv.slice(2)
fs.writeFileSync(process.env.FAKE_RUNTIME_ARGS, JSON.stringify(args))
// Whether the seeder had finished when the runtime started (the real runtime makes its RSA key first thing).
fs.writeFileSync(process.env.FAKE_RUNTIME_ARGS + '.seeded', String(fs.existsSync(process.env.FAKE_SEED_MARK)))
// One line on the log channel, as the real runtime's createLogChannel sends them.
const logPort = Number(args[args.indexOf('--log-port') + 1])
const log = net.connect(logPort, '127.0.0.1', () => log.end(JSON.stringify({ level: 'info', svc: 'enclave', msg: 'fake runtime up' }) + '\\n'))
log.on('error', () => {})
const port = Number(args[args.indexOf('--port') + 1])
// What the enclave's resolver would answer for a name: its first line in the hosts file.
const hostsAddress = (name) => fs.readFileSync(process.env.FAKE_HOSTS_FILE, 'utf8').split('\\n').map((l) => l.trim().split(/\\s+/)).find((f) => f.slice(1).includes(name))[0]
const server = net.createServer((socket) => {
  socket.setEncoding('utf8')
  socket.on('data', (line) => {
    line = line.trim()
    if (line === 'crash') process.exit(3)
    if (line !== 'kms' && line !== 'secrets') return socket.write('runtime:' + line + '\\n')
    const [port, host] = line === 'kms'
      ? [Number(process.env.FAKE_KMS_LOCAL_PORT), '127.0.0.1']
      : [Number(process.env.FAKE_SECRETS_LOCAL_PORT), hostsAddress('secretsmanager.eu-west-1.amazonaws.com')]
    const upstream = net.connect(port, host, () => upstream.write('hello ' + line + '\\n'))
    upstream.setEncoding('utf8')
    upstream.once('data', (reply) => { socket.write('runtime got ' + reply); upstream.destroy() })
    upstream.on('error', (e) => socket.write('runtime ' + line + ' error ' + e.code + '\\n'))
  })
})
server.listen(port, '127.0.0.1', () => console.error('fake runtime listening on ' + port))
process.on('SIGTERM', () => { console.error('fake runtime draining'); server.close(() => process.exit(0)) })
`

/**
 * Stands in for dist/bin/seed-rng.js: leaves a mark (FAKE_SEED_MARK) and prints the real seeder's success
 * line, or with FAKE_SEED_FAIL=1 its failure line and exit 1.
 */
const FAKE_SEEDER = `
const fs = require('node:fs')
if (process.env.FAKE_SEED_FAIL === '1') {
  console.error(JSON.stringify({ level: 'error', svc: 'seed-rng', msg: 'seeding the kernel RNG from the NSM failed', error: 'no NSM' }))
  process.exit(1)
}
fs.writeFileSync(process.env.FAKE_SEED_MARK, 'seeded')
console.error(JSON.stringify({ level: 'info', svc: 'seed-rng', msg: 'kernel RNG seeded from the NSM', bytes: 1024, creditedBits: 8192 }))
`

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

/** Send one line over TCP and resolve with the first reply (retrying for `ms` while the bridge comes up). */
async function ask(port: number, line: string, ms = 5000): Promise<string> {
  const end = Date.now() + ms
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(`${line}\n`))
        socket.setEncoding('utf8')
        socket.once('data', (d: string) => {
          resolve(d.trim())
          socket.destroy()
        })
        socket.once('error', reject)
        socket.once('close', () => reject(new Error('closed without a reply')))
        socket.setTimeout(2000, () => socket.destroy(new Error('timeout')))
      })
    } catch (e) {
      if (Date.now() > end) throw e
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

let dir: string
let appDir: string
let parentProxy: Server
let parentProxyPort: number
/** The parent's Secrets Manager vsock-proxy, as far as the enclave can tell. */
let parentSecretsProxy: Server
let parentSecretsProxyPort: number
/** The parent's log receiver, as far as the enclave can tell: every line that reaches the log port. */
let logReceiver: Server
let logReceiverPort: number
let logLines: string[] = []
const running: ReturnType<typeof start>[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'enclave-entrypoint-'))
  appDir = join(dir, 'app')
  await mkdir(join(appDir, 'dist', 'bin'), { recursive: true })
  await writeFile(join(appDir, 'dist', 'bin', 'enclave.js'), FAKE_RUNTIME)
  await writeFile(join(appDir, 'dist', 'bin', 'seed-rng.js'), FAKE_SEEDER)
  logReceiver = createServer((socket) => {
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => {
      text += d
    })
    socket.on('end', () => logLines.push(...text.split('\n').filter(Boolean)))
  })
  await new Promise<void>((r) => logReceiver.listen(0, '127.0.0.1', r))
  logReceiverPort = (logReceiver.address() as { port: number }).port
  // The parent's vsock-proxy, as far as the enclave can tell: whatever arrives on port 8000 reaches KMS.
  parentProxy = createServer((socket) => {
    socket.setEncoding('utf8')
    socket.once('data', (d: string) => socket.write(`kms:${d.trim()}\n`))
  })
  await new Promise<void>((r) => parentProxy.listen(0, '127.0.0.1', r))
  parentProxyPort = (parentProxy.address() as { port: number }).port
  parentSecretsProxy = createServer((socket) => {
    socket.setEncoding('utf8')
    socket.once('data', (d: string) => socket.write(`secretsmanager:${d.trim()}\n`))
  })
  await new Promise<void>((r) => parentSecretsProxy.listen(0, '127.0.0.1', r))
  parentSecretsProxyPort = (parentSecretsProxy.address() as { port: number }).port
})
// Stop what a test left running the way production does (SIGTERM), so that no socat outlives the test;
// SIGKILL only if that fails.
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue
    p.child.kill('SIGTERM')
    const stopped = await Promise.race([p.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 8000))])
    if (!stopped) p.child.kill('SIGKILL')
  }
})
afterAll(async () => {
  await new Promise((r) => parentProxy.close(r))
  await new Promise((r) => parentSecretsProxy.close(r))
  await new Promise((r) => logReceiver.close(r))
  await rm(dir, { recursive: true, force: true })
})

async function launch(env: Record<string, string> = {}) {
  const ports = { inbound: await freePort(), runtime: await freePort(), kmsLocal: await freePort(), secretsLocal: await freePort(), logLocal: await freePort() }
  const hostsFile = join(dir, `hosts-${ports.inbound}`)
  const argsFile = join(dir, `args-${ports.inbound}.json`)
  const seedMark = join(dir, `seeded-${ports.inbound}`)
  await writeFile(hostsFile, '# test hosts file\n127.0.0.1 localhost\n')
  const p = start('bash', [ENTRYPOINT], {
    CUSTODY_REGION: 'eu-west-1',
    CUSTODY_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    CUSTODY_BRIDGE_TRANSPORT: 'tcp',
    CUSTODY_APP_DIR: appDir,
    CUSTODY_NODE: process.execPath,
    CUSTODY_ENCLAVE_VSOCK_PORT: String(ports.inbound),
    CUSTODY_ENCLAVE_PORT: String(ports.runtime),
    CUSTODY_KMS_PROXY_PORT: String(parentProxyPort),
    CUSTODY_KMS_LOCAL_PORT: String(ports.kmsLocal),
    CUSTODY_SECRETS_PROXY_PORT: String(parentSecretsProxyPort),
    CUSTODY_SECRETS_LOCAL_PORT: String(ports.secretsLocal),
    CUSTODY_LOG_VSOCK_PORT: String(logReceiverPort),
    CUSTODY_LOG_LOCAL_PORT: String(ports.logLocal),
    CUSTODY_HOSTS_FILE: hostsFile,
    CUSTODY_STOP_TIMEOUT: '5',
    FAKE_RUNTIME_ARGS: argsFile,
    FAKE_KMS_LOCAL_PORT: String(ports.kmsLocal),
    FAKE_SECRETS_LOCAL_PORT: String(ports.secretsLocal),
    FAKE_HOSTS_FILE: hostsFile,
    FAKE_SEED_MARK: seedMark,
    ...env,
  })
  running.push(p)
  return { ...p, ports, hostsFile, argsFile }
}

const pidOf = (output: string, name: string) => Number(output.match(new RegExp(`started ${name} \\(pid (\\d+)\\)`))?.[1])
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// Each case starts bash, two socats and a Node process: give them room on a loaded 2-core CI machine.
describe.runIf(haveSocat)('entrypoint.sh (TCP stand-ins for vsock)', { timeout: 90_000 }, () => {
  it('bridges parent → runtime, runtime → KMS and runtime → Secrets Manager, maps both names, and starts the runtime with the production flags', async () => {
    const e = await launch()
    await waitFor(e.output, /fake runtime listening/)

    // Parent proxy → inbound bridge → runtime.
    expect(await ask(e.ports.inbound, 'ping')).toBe('runtime:ping')
    // Runtime → 127.0.0.1:<443 stand-in> → KMS bridge → parent's vsock-proxy (stand-in) → back.
    expect(await ask(e.ports.inbound, 'kms')).toBe('runtime got kms:hello kms')
    // Runtime → 127.0.0.2:<443 stand-in> (the Secrets Manager name) → secrets bridge → the parent's second vsock-proxy.
    expect(await ask(e.ports.inbound, 'secrets')).toBe('runtime got secretsmanager:hello secrets')

    expect(JSON.parse(await readFile(e.argsFile, 'utf8'))).toEqual([
      '--port',
      String(e.ports.runtime),
      '--sealing',
      'kms',
      '--attestation',
      'nsm',
      '--region',
      'eu-west-1',
      '--kms-key-arn',
      'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      '--log-port',
      String(e.ports.logLocal),
    ])
    // The existing localhost line is kept, the KMS and Secrets Manager names are added once, each to its own address.
    expect(await readFile(e.hostsFile, 'utf8')).toBe(
      '# test hosts file\n127.0.0.1 localhost\n127.0.0.1 kms.eu-west-1.amazonaws.com\n127.0.0.2 secretsmanager.eu-west-1.amazonaws.com\n',
    )
    // Every log line of the entrypoint is JSON.
    for (const line of e.output().split('\n').filter((l) => l.includes('"svc":"entrypoint"'))) expect(() => JSON.parse(line)).not.toThrow()
    // The inbound bridge forks at most as many connections as the runtime accepts.
    const inbound = (await readFile(`/proc/${pidOf(e.output(), 'inbound-bridge')}/cmdline`, 'utf8')).split('\0')
    expect(inbound).toContain(`TCP-LISTEN:${e.ports.inbound},bind=127.0.0.1,fork,reuseaddr,max-children=64`)
  })

  it('stops cleanly on SIGTERM: every child gone, the runtime drained, exit 0', async () => {
    const e = await launch()
    await waitFor(e.output, /fake runtime listening/)
    const pids = ['inbound-bridge', 'kms-bridge', 'secrets-bridge', 'runtime', 'log-bridge'].map((n) => pidOf(e.output(), n))
    expect(pids.every((pid) => pid > 0 && alive(pid))).toBe(true)
    e.child.kill('SIGTERM')
    expect(await e.exited).toBe(0)
    expect(e.output()).toContain('received SIGTERM: stopping')
    expect(e.output()).toContain('fake runtime draining')
    expect(pids.filter(alive)).toEqual([])
    // The inbound bridge was stopped before the runtime.
    expect(e.output().indexOf('fake runtime draining')).toBeGreaterThan(e.output().indexOf('received SIGTERM'))
  })

  it('stops on SIGINT too', async () => {
    const e = await launch()
    await waitFor(e.output, /fake runtime listening/)
    e.child.kill('SIGINT')
    expect(await e.exited).toBe(0)
  })

  it.each(['kms-bridge', 'secrets-bridge', 'inbound-bridge', 'log-bridge'])('exits non-zero and stops the rest when the %s dies', async (name) => {
    const e = await launch()
    await waitFor(e.output, /fake runtime listening/)
    const runtime = pidOf(e.output(), 'runtime')
    process.kill(pidOf(e.output(), name), 'SIGKILL')
    expect(await e.exited).toBe(1)
    expect(e.output()).toMatch(new RegExp(`"msg":"${name} exited with status 137: stopping the enclave"`))
    expect(alive(runtime)).toBe(false)
  })

  it('exits with the runtime’s status when the runtime fails, and stops every bridge', async () => {
    const e = await launch()
    await waitFor(e.output, /fake runtime listening/)
    const bridges = ['inbound-bridge', 'kms-bridge', 'secrets-bridge', 'log-bridge'].map((n) => pidOf(e.output(), n))
    await ask(e.ports.inbound, 'crash', 0).catch(() => 'no reply')
    expect(await e.exited).toBe(3)
    expect(e.output()).toContain('"msg":"runtime exited with status 3: stopping the enclave"')
    expect(bridges.filter(alive)).toEqual([])
  })

  it('seeds the kernel RNG before it starts anything that makes keys, and reports it on the log channel', async () => {
    logLines = []
    const e = await launch()
    await waitFor(e.output, /fake runtime listening/)
    expect(await readFile(`${e.argsFile}.seeded`, 'utf8')).toBe('true')
    const out = e.output()
    expect(out.indexOf('kernel RNG seeded from the NSM')).toBeGreaterThan(out.indexOf('started log-bridge'))
    expect(out.indexOf('kernel RNG seeded from the NSM')).toBeLessThan(out.indexOf('started inbound-bridge'))
    // The log channel carried the entrypoint's lines, the seeder's and the runtime's (the bridge opens a
    // connection to the receiver per connection it accepts; each is read to its end).
    e.child.kill('SIGTERM')
    expect(await e.exited).toBe(0)
    await new Promise((r) => setTimeout(r, 200))
    const parsed = logLines.map((l) => JSON.parse(l) as { svc: string; msg: string })
    expect(parsed).toContainEqual(expect.objectContaining({ svc: 'seed-rng', msg: 'kernel RNG seeded from the NSM' }))
    expect(parsed).toContainEqual(expect.objectContaining({ svc: 'enclave', msg: 'fake runtime up' }))
    expect(parsed).toContainEqual(expect.objectContaining({ svc: 'entrypoint', msg: expect.stringMatching(/^started runtime \(pid \d+\)$/) }))
  })

  it('does not start the runtime when seeding fails: exit 3, the log bridge stopped, the failure on the log channel', async () => {
    logLines = []
    const e = await launch({ FAKE_SEED_FAIL: '1' })
    expect(await e.exited).toBe(3)
    const out = e.output()
    expect(out).toContain('"msg":"seeding the kernel RNG from the NSM failed (status 1): not starting the runtime"')
    expect(out).not.toMatch(/started (inbound-bridge|kms-bridge|secrets-bridge|runtime)/)
    expect(alive(pidOf(out, 'log-bridge'))).toBe(false)
    await new Promise((r) => setTimeout(r, 200))
    expect(logLines.map((l) => JSON.parse(l).msg)).toEqual(
      expect.arrayContaining(['seeding the kernel RNG from the NSM failed', 'seeding the kernel RNG from the NSM failed (status 1): not starting the runtime']),
    )
  })

  it('runs without a parent log receiver (nothing listens on the log port): the channel is best effort', async () => {
    const e = await launch({ CUSTODY_LOG_VSOCK_PORT: String(await freePort()) })
    await waitFor(e.output, /fake runtime listening/)
    expect(await ask(e.ports.inbound, 'ping')).toBe('runtime:ping')
    e.child.kill('SIGTERM')
    expect(await e.exited).toBe(0)
  })
})

describe('entrypoint.sh configuration errors (exit 2 before starting anything)', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['a missing region', { CUSTODY_REGION: '' }, 'CUSTODY_REGION must be an AWS region such as us-east-1'],
    ['a region that is not one', { CUSTODY_REGION: 'eu-west-1.evil.com' }, 'CUSTODY_REGION must be an AWS region such as us-east-1'],
    ['a missing key ARN', { CUSTODY_KMS_KEY_ID: '' }, 'CUSTODY_KMS_KEY_ID must be the full key ARN of the sealing key (no alias, no bare key id)'],
    ['an alias', { CUSTODY_KMS_KEY_ID: 'alias/custody' }, 'CUSTODY_KMS_KEY_ID must be the full key ARN of the sealing key (no alias, no bare key id)'],
    ['an alias ARN', { CUSTODY_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:111122223333:alias/custody' }, 'CUSTODY_KMS_KEY_ID must be the full key ARN of the sealing key (no alias, no bare key id)'],
    ['a bare key id', { CUSTODY_KMS_KEY_ID: '1234abcd-12ab-34cd-56ef-1234567890ab' }, 'CUSTODY_KMS_KEY_ID must be the full key ARN of the sealing key (no alias, no bare key id)'],
    ['a key ARN with more after it', { CUSTODY_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\nalias/x' }, 'CUSTODY_KMS_KEY_ID must be the full key ARN of the sealing key (no alias, no bare key id)'],
    ['a key of another region', { CUSTODY_KMS_KEY_ID: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' }, 'CUSTODY_KMS_KEY_ID must be a key in CUSTODY_REGION'],
    ['a bad port', { CUSTODY_ENCLAVE_PORT: '70000' }, 'ports must be integers 1..65535'],
    ['an unknown transport', { CUSTODY_BRIDGE_TRANSPORT: 'udp' }, 'CUSTODY_BRIDGE_TRANSPORT must be vsock or tcp'],
    ['a missing runtime', { CUSTODY_APP_DIR: '/nonexistent' }, 'the runtime is missing: no dist/bin/enclave.js under CUSTODY_APP_DIR'],
    ['a bad log port', { CUSTODY_LOG_LOCAL_PORT: '0' }, 'ports must be integers 1..65535'],
    ['a bad Secrets Manager port', { CUSTODY_SECRETS_PROXY_PORT: '8001; rm' }, 'ports must be integers 1..65535'],
    ['KMS’s loopback address for Secrets Manager', { CUSTODY_SECRETS_LOCAL_ADDRESS: '127.0.0.1' }, 'CUSTODY_SECRETS_LOCAL_ADDRESS must be a loopback address other than 127.0.0.1'],
    ['a Secrets Manager address off the loopback', { CUSTODY_SECRETS_LOCAL_ADDRESS: '10.0.0.2' }, 'CUSTODY_SECRETS_LOCAL_ADDRESS must be a loopback address other than 127.0.0.1'],
  ]
  it.each(cases)('refuses %s', async (_, env, message) => {
    const e = await launch(env)
    expect(await e.exited).toBe(2)
    expect(JSON.parse(e.output().trim().split('\n').at(-1)!)).toMatchObject({ level: 'error', svc: 'entrypoint', msg: message })
  })

  it('refuses an image without the RNG seeder', async () => {
    const bare = join(dir, 'app-without-seeder')
    await mkdir(join(bare, 'dist', 'bin'), { recursive: true })
    await writeFile(join(bare, 'dist', 'bin', 'enclave.js'), FAKE_RUNTIME)
    const e = await launch({ CUSTODY_APP_DIR: bare })
    expect(await e.exited).toBe(2)
    expect(JSON.parse(e.output().trim().split('\n').at(-1)!)).toMatchObject({ msg: 'the RNG seeder is missing: no dist/bin/seed-rng.js under CUSTODY_APP_DIR' })
  })

  it.runIf(haveSocat)('refuses a hosts file that sends the KMS name elsewhere', async () => {
    const hostsFile = join(dir, 'hosts-conflict')
    await writeFile(hostsFile, '203.0.113.7 kms.eu-west-1.amazonaws.com\n')
    const e = await launch({ CUSTODY_HOSTS_FILE: hostsFile })
    expect(await e.exited).toBe(2)
    expect(e.output()).toContain('the hosts file maps the KMS endpoint to another address')
  })

  it.runIf(haveSocat)('refuses a hosts file that sends the Secrets Manager name elsewhere (even to KMS’s bridge)', async () => {
    for (const [i, address] of ['203.0.113.7', '127.0.0.1'].entries()) {
      const hostsFile = join(dir, `hosts-secrets-conflict-${i}`)
      await writeFile(hostsFile, `127.0.0.1 localhost\n${address} secretsmanager.eu-west-1.amazonaws.com\n`)
      const e = await launch({ CUSTODY_HOSTS_FILE: hostsFile })
      expect(await e.exited).toBe(2)
      expect(e.output()).toContain('the hosts file maps the Secrets Manager endpoint to another address')
    }
  })
})
