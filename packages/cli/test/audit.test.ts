import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type AuditEvent, auditEventHash } from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKeyFile } from '../src/commands/apiKeyFile.js'
import { runDevStack } from '../src/commands/dev.js'
import { readDevEnv } from '../src/commands/devEnv.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo, until } from './helpers.js'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
type Receipt = { responseKeyId: string; auditSeq: number; auditHead: string; op: string; requestDigest: string }

let root: string
async function cli(argv: string[]) {
  const io = captureIo({ cwd: root })
  const code = await runCli(argv, io)
  return { code, out: io.out(), err: io.err() }
}
const jsonLines = async (file: string) => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)

/**
 * One real run through the dev stack (in-process: local AWS, software-attested enclave, proxy writing
 * <dir>/audit.jsonl): key commands with --dev keep receipts, `custody audit verify` checks the log; then the
 * same log, tampered with, must be named at the right line.
 */
describe('custody audit verify, over the log of a real dev stack', () => {
  let dataDir: string
  let env: Record<string, string>
  let lines: string[]
  let receiptsFile: string
  let receipts: Receipt[]
  let otherReceipts: Receipt[]
  let verifyOutput: string
  let devOutput = ''

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'custody-audit-'))
    dataDir = join(root, 'dev')
    const devIo = captureIo({ cwd: root })
    const stop = new AbortController()
    const running = runDevStack({ dataDir, anvil: false, chainId: 1, awsLatencyMs: 0 }, { io: devIo, stop: stop.signal })
    try {
      await until(() => devIo.out().includes('custody dev is running') || devIo.err() !== '', 60_000, 'custody dev start')
      env = await readDevEnv(dataDir)
      const results = [
        await cli(['generate-key', '--dev', dataDir, '--key-id', 'alice']),
        await cli(['address', 'alice', '--dev', dataDir]),
        await cli(['sign', 'alice', '--dev', dataDir, '--to', TO, '--value-ether', '0.01', '--nonce', '0', '--gas', '21000', '--max-fee-gwei', '30', '--max-priority-gwei', '1']),
        await cli(['list', '--dev', dataDir]),
      ]
      for (const r of results) expect(r).toMatchObject({ code: 0, err: '' })
      // A refused request is answered (signed) too: it has its receipt and its event.
      expect(await cli(['address', 'nobody', '--dev', dataDir])).toMatchObject({ code: 1, err: 'custody address: key "nobody" not found (KEY_NOT_FOUND)\n' })
      // --receipts wins over dev.env's file.
      expect((await cli(['address', 'alice', '--dev', dataDir, '--receipts', join(root, 'other.jsonl')])).code).toBe(0)

      receiptsFile = env.CUSTODY_RECEIPTS_FILE!
      receipts = (await jsonLines(receiptsFile)) as Receipt[]
      otherReceipts = (await jsonLines(join(root, 'other.jsonl'))) as Receipt[]
      const expected = 1 + receipts.length + otherReceipts.length // the boot event, then one event per answer
      // The proxy's writes are asynchronous: wait until the last answer's event is on disk.
      await until(async () => (await readFile(env.CUSTODY_AUDIT_LOG!, 'utf8')).split('\n').filter(Boolean).length >= expected, 5_000, 'audit log written')
      const verified = await cli(['audit', 'verify', '--dev', dataDir])
      expect(verified.err).toBe('')
      expect(verified.code).toBe(0)
      verifyOutput = verified.out
    } finally {
      stop.abort('SIGTERM')
      await running
      devOutput = devIo.out()
    }
    lines = (await readFile(join(dataDir, 'audit.jsonl'), 'utf8')).split('\n')
    expect(lines.pop()).toBe('')
  }, 120_000)
  afterAll(() => rm(root, { recursive: true, force: true }))

  const tampered = async (name: string, edit: (lines: string[]) => string[]) => {
    const file = join(root, `${name}.jsonl`)
    await writeFile(file, edit([...lines]).map((l) => `${l}\n`).join(''))
    return file
  }
  const verify = (file: string, ...more: string[]) => cli(['audit', 'verify', file, '--pcr0', env.CUSTODY_PCR0!, '--attestation-root', env.CUSTODY_ATTESTATION_ROOT!, ...more])
  const broken = (line: number, seq: number | undefined, reason: string | RegExp) =>
    new RegExp(`^custody audit: audit log broken at line ${line}${seq === undefined ? '' : ` \\(seq ${seq}\\)`}: ${typeof reason === 'string' ? reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : reason.source}[^\n]*\n$`)

  it('dev.env names the log and the receipts file, and custody dev says where the log is', () => {
    expect(env.CUSTODY_AUDIT_LOG).toBe(join(dataDir, 'audit.jsonl'))
    expect(env.CUSTODY_RECEIPTS_FILE).toBe(join(dataDir, 'receipts.jsonl'))
    expect(devOutput).toContain('  audit log     dev/audit.jsonl (custody audit verify --dev dev)\n')
  })

  it('--receipts: one line per answered request (mode 0600), each the receipt of its event in the log', async () => {
    expect((await stat(receiptsFile)).mode & 0o777).toBe(0o600)
    expect((await stat(join(root, 'other.jsonl'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dataDir, 'audit.jsonl'))).mode & 0o777).toBe(0o600)
    const events = lines.map((l) => JSON.parse(l) as AuditEvent)
    expect(events[0]).toMatchObject({ seq: 0, op: 'boot' })
    expect(otherReceipts).toHaveLength(1)
    expect(otherReceipts[0]!.op).toBe('key.get')
    // Every event after the boot is one answered request, and exactly one receipt names it.
    const all = [...receipts, ...otherReceipts].sort((a, b) => a.auditSeq - b.auditSeq)
    expect(all.map((r) => r.auditSeq)).toEqual(events.slice(1).map((e) => e.seq))
    for (const r of all) {
      const event = events[r.auditSeq]!
      expect(r).toEqual({ responseKeyId: events[0]!.responseKeyId, auditSeq: event.seq, auditHead: auditEventHash(event), op: event.op, requestDigest: event.requestDigest })
    }
    expect(all.map((r) => r.op)).toEqual(expect.arrayContaining(['key.generate', 'key.get', 'sign.eip1559', 'key.list']))
    expect(events.find((e) => e.keyId === 'nobody')).toMatchObject({ op: 'key.get', outcome: 'KEY_NOT_FOUND' })
  })

  it('verifies the intact log with its receipts: one line per boot and the totals', async () => {
    const n = lines.length
    const summary = new RegExp(`^boot 1 \\(line 1\\) {2}response key 0x[0-9a-f]{16}… {2}PCR0 ${env.CUSTODY_PCR0!.slice(0, 16)}… {2}${n} events, last seq ${n - 1}\nverified ${n} events, ${receipts.length} receipts\n$`)
    expect(verifyOutput).toMatch(summary)
    // The same with explicit paths (the stack is gone, and dev.env with it).
    expect(await verify(join(dataDir, 'audit.jsonl'), '--receipts', receiptsFile)).toEqual({ code: 0, out: verifyOutput, err: '' })
    const json = await verify(join(dataDir, 'audit.jsonl'), '--receipts', receiptsFile, '--json')
    expect(json.code).toBe(0)
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, events: n, receipts: receipts.length, segments: [{ responseKeyId: receipts[0]!.responseKeyId, pcr0: env.CUSTODY_PCR0, line: 1, events: n, lastSeq: n - 1 }] })
  })

  it('a deleted line: exit 1, naming the line where the gap shows', async () => {
    const file = await tampered('deleted', (l) => [...l.slice(0, 2), ...l.slice(3)])
    expect(await verify(file)).toMatchObject({ code: 1, out: '', err: expect.stringMatching(broken(3, 3, 'events 2..2 are missing (deleted or moved)')) })
  })

  it('two lines swapped: exit 1, naming the first of them', async () => {
    const file = await tampered('swapped', (l) => [...l.slice(0, 3), l[4]!, l[3]!, ...l.slice(5)])
    expect(await verify(file, '--receipts', receiptsFile)).toMatchObject({ code: 1, out: '', err: expect.stringMatching(broken(4, 4, 'events 3..3 are missing')) })
  })

  it("an edited outcome: exit 1, naming the edited line (the signature is not the enclave's)", async () => {
    const at = lines.findIndex((l) => (JSON.parse(l) as AuditEvent).outcome === 'KEY_NOT_FOUND')
    expect(at).toBeGreaterThan(0)
    const file = await tampered('edited', (l) => l.map((line, i) => (i === at ? JSON.stringify({ ...JSON.parse(line), outcome: 'ok' }) : line)))
    expect(await verify(file)).toMatchObject({ code: 1, err: expect.stringMatching(broken(at + 1, at, /the signature is not the segment's attested response key's/)) })
  })

  it('a truncated tail: verifies alone, and with the receipts exit 1 naming the receipt of the first missing event', async () => {
    const kept = lines.length - 2
    const file = await tampered('truncated', (l) => l.slice(0, kept))
    expect(await verify(file)).toMatchObject({ code: 0, out: expect.stringContaining(`verified ${kept} events, 0 receipts\n`) })
    const missing = receipts.findIndex((r) => r.auditSeq >= kept)
    const r = receipts[missing]!
    const result = await verify(file, '--receipts', receiptsFile)
    expect(result).toMatchObject({ code: 1, out: '', err: expect.stringMatching(broken(kept + 1, r.auditSeq, `receipt ${missing + 1} (seq ${r.auditSeq}): the event is not in the log (truncated after seq ${kept - 1})`)) })
  })

  it('a line that is not JSON is a break at that line, unless the chain broke before it', async () => {
    const partial = await tampered('partial', (l) => [...l.slice(0, 3), l[3]!.slice(0, 40), ...l.slice(4)])
    expect(await verify(partial)).toMatchObject({ code: 1, err: expect.stringMatching(broken(4, undefined, 'the line is not JSON')) })
    const earlier = await tampered('earlier', (l) => [l[0]!, l[2]!, 'garbage', ...l.slice(3)])
    expect(await verify(earlier)).toMatchObject({ code: 1, err: expect.stringMatching(broken(2, 2, 'events 1..1 are missing')) })
  })

  it('a boot the policy does not allow: exit 1 at line 1', async () => {
    const log = join(dataDir, 'audit.jsonl')
    const other = await cli(['audit', 'verify', log, '--pcr0', 'ab'.repeat(48), '--attestation-root', env.CUSTODY_ATTESTATION_ROOT!])
    expect(other).toMatchObject({ code: 1, err: expect.stringMatching(broken(1, 0, `the boot attestation's PCR0 ${env.CUSTODY_PCR0!.slice(0, 16)}… is not allowed`)) })
    // Without --attestation-root only the AWS Nitro root is trusted: the software NSM's boot does not verify.
    const aws = await cli(['audit', 'verify', log, '--pcr0', env.CUSTODY_PCR0!])
    expect(aws).toMatchObject({ code: 1, err: expect.stringMatching(broken(1, 0, /the boot attestation does not verify/)) })
  })

  it('usage errors exit 2 naming the flag', async () => {
    const log = join(dataDir, 'audit.jsonl')
    const cases: [string[], string][] = [
      [['audit', 'verify', log], 'custody audit: --pcr0 is required (or set CUSTODY_PCR0)'],
      [['audit', 'verify', '--pcr0', env.CUSTODY_PCR0!], 'custody audit: <file> is required (or --dev <dir> of a running `custody dev`)'],
      [['audit', 'check', log, '--pcr0', env.CUSTODY_PCR0!], 'custody audit: <action> must be "verify"'],
      [['audit', 'verify', join(root, 'nope.jsonl'), '--pcr0', env.CUSTODY_PCR0!], `custody audit: <file>: cannot read ${join(root, 'nope.jsonl')} (ENOENT)`],
      [['audit', 'verify', log, '--pcr0', '0'.repeat(96)], 'custody audit: --pcr0 holds the all-zero PCR0 of a debug-mode enclave; add --allow-debug-enclave'],
      [['audit', 'verify', log, '--pcr0', env.CUSTODY_PCR0!, '--receipts', log], `custody audit: --receipts: line 1 of ${log} is not a receipt`],
      [['audit', 'verify', log, '--pcr0', env.CUSTODY_PCR0!, '--receipts', join(root, 'nope.jsonl')], `custody audit: --receipts: cannot read ${join(root, 'nope.jsonl')} (ENOENT)`],
      [['audit', 'verify', '--dev', dataDir], `custody audit: --dev: ${join(dataDir, 'dev.env')} not found`],
    ]
    for (const [argv, message] of cases) {
      const { code, out, err } = await cli(argv)
      expect({ argv, code, out, err: err.slice(0, message.length) }).toEqual({ argv, code: 2, out: '', err: message })
      expect(err.trimEnd().split('\n')).toHaveLength(1)
    }
  })
})

describe('--receipts of the key commands', () => {
  it('refuses a file it cannot open before connecting (exit 2, naming the flag)', async () => {
    root = await mkdtemp(join(tmpdir(), 'custody-receipts-'))
    try {
      const apiKeyFile = join(root, 'api-key.json')
      await createApiKeyFile(apiKeyFile)
      const file = join(root, 'missing-dir', 'receipts.jsonl')
      const result = await cli(['list', '--url', 'http://127.0.0.1:1', '--api-key-file', apiKeyFile, '--pcr0', 'ab'.repeat(48), '--receipts', file])
      expect(result).toEqual({ code: 2, out: '', err: `custody list: --receipts: cannot open ${file} (ENOENT) (run \`custody list --help\`)\n` })
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
