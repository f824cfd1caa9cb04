/**
 * `custody policy get | set | test`, run as the CLI runs them (runCli, and once as a real process): against an
 * attesting enclave behind the parent proxy (policies stored by the enclave), against the dev stack (policies in
 * local Secrets Manager, stored by the importer), and offline. The policy set through the CLI is the one the
 * enclave enforces: `custody sign` is allowed and refused as `custody policy test` predicts.
 */
import { ECDH } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalRuntime, type EnclaveServer, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import {
  apiKeyStamper,
  approveSigningPolicy,
  type AttestationPolicy,
  createCustodyClient,
  type CustodyClient,
  nitroEnclave,
  normalizeSigningPolicy,
  parseEther,
  type Stamper,
} from '@enclave-custody/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKeyFile, readApiKeyFile } from '../src/commands/apiKeyFile.js'
import { writeDevEnv } from '../src/commands/devEnv.js'
import { policyCommand } from '../src/commands/policy.js'
import { runCli } from '../src/commands/runCli.js'
import { type DevStack, startDevStack } from '../src/devStack.js'
import { captureIo, runCustody } from './helpers.js'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const OTHER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const PCR0 = 'ab'.repeat(48)

async function cli(argv: string[], env: Record<string, string> = {}) {
  const io = captureIo({ env })
  const code = await runCli(argv, io)
  return { code, out: io.out(), err: io.err() }
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'custody-policy-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

/** Write `value` as JSON to `<dir>/<name>` and return the path. */
async function json(name: string, value: unknown): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`)
  return path
}

const demoPolicy = { rules: [{ id: 'demo-recipient', effect: 'allow', when: { to: { in: [TO.toLowerCase()] }, value: { lte: parseEther('0.1').toString() } } }] }
/** An EIP-1559 transfer as `custody sign` sends it, as a payload file holds it. */
const transfer = (value: bigint, to = TO) => ({
  op: 'sign.eip1559',
  params: { tx: { chainId: '1', nonce: '0', to, value: value.toString(), gas: '21000', maxFeePerGas: '30000000000', maxPriorityFeePerGas: '1000000000' } },
})
/** `custody sign` of the same transfer. */
const signArgs = (keyId: string, ether: string, to = TO) => ['sign', keyId, '--to', to, '--value-ether', ether, '--nonce', '0', '--gas', '21000', '--max-fee-gwei', '30', '--max-priority-gwei', '1', '--chain-id', '1']

describe('policy get | set against an attesting enclave behind a proxy (the enclave stores policies)', () => {
  let server: EnclaveServer
  let proxy: ParentProxy
  let attestation: AttestationPolicy
  let rootFile: string
  const keyFiles: Record<'alice' | 'bob' | 'carol' | 'stranger', string> = { alice: '', bob: '', carol: '', stranger: '' }
  const stampers = {} as Record<keyof typeof keyFiles, Stamper>
  let alice: CustodyClient
  let connection: string[]

  beforeAll(async () => {
    const runtime = await createLocalRuntime({ dataDir: join(dir, 'enclave') })
    attestation = runtime.attestation
    rootFile = join(dir, 'root.pem')
    await writeFile(rootFile, attestation.roots![0]!)
    server = await startEnclaveServer({ handler: runtime.handler, port: 0 })
    proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port } })
    for (const name of Object.keys(keyFiles) as (keyof typeof keyFiles)[]) {
      keyFiles[name] = join(dir, `${name}.json`)
      await createApiKeyFile(keyFiles[name])
      stampers[name] = (await readApiKeyFile(keyFiles[name], captureIo())).stamper
    }
    alice = createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation }), stamper: stampers.alice })
    // solo: Alice alone owns it; board: Alice, Bob and Carol own it, 2 of 3 (a policy needs two of their approvals).
    await alice.importKey({ generate: true, keyId: 'solo' })
    await alice.importKey({ generate: true, keyId: 'board', owners: { publicKeys: [stampers.alice.publicKey, stampers.bob.publicKey, stampers.carol.publicKey], threshold: 2 } })
    connection = ['--url', proxy.url, '--pcr0', attestation.pcr0[0]!, '--attestation-root', rootFile]
  })
  afterAll(async () => {
    await alice?.close()
    await proxy?.close()
    await server?.close()
  })

  const as = (who: keyof typeof keyFiles) => [...connection, '--api-key-file', keyFiles[who]]

  it('get before any set: no policy (exit 0), JSON names the key only', async () => {
    expect(await cli(['policy', 'get', 'solo', ...as('alice')])).toEqual({ code: 0, out: 'no signing policy for solo: its owners sign whatever its sealed flags allow\n', err: '' })
    expect(await cli(['policy', 'get', 'solo', '--json', ...as('alice')])).toEqual({ code: 0, out: '{"keyId":"solo"}\n', err: '' })
  })

  it('set by the owner takes effect: custody sign is allowed and refused as custody policy test predicts; get shows it', async () => {
    const file = await json('demo.json', demoPolicy)
    const set = await cli(['policy', 'set', 'solo', '--file', file, ...as('alice')])
    expect(set.err).toBe('')
    expect(set.code).toBe(0)
    expect(set.out).toMatch(/^signing policy of solo is now version 1 \(digest 0x[0-9a-f]{64}\): 1 rule, 0 signers, 1 owner approval\n$/)

    // The enclave's decisions, through custody sign, and the offline ones, through custody policy test.
    const cases: [string, bigint, string, number, string][] = [
      ['0.1', parseEther('0.1'), TO, 0, 'allowed by rule "demo-recipient"'],
      ['0.100000000000000001', parseEther('0.1') + 1n, TO, 1, 'denied: no rule allows'],
      ['0.01', parseEther('0.01'), OTHER, 1, 'denied: no rule allows'],
    ]
    for (const [ether, wei, to, code, message] of cases) {
      const offline = await cli(['policy', 'test', '--file', file, '--payload', await json(`pay-${wei}-${to}.json`, transfer(wei, to))])
      expect(offline, `${ether} to ${to}`).toEqual({ code, out: `${message}\n`, err: '' })
      const signed = await cli([...signArgs('solo', ether, to), ...as('alice')])
      expect(signed.code, `${ether} to ${to}: ${signed.err}`).toBe(code)
      if (code === 0) expect(signed.out).toMatch(/^rawTransaction {2}0x02/)
      else expect(signed.err).toBe(`custody sign: ${message} (POLICY_DENIED)\n`)
    }

    const got = await cli(['policy', 'get', 'solo', ...as('alice')])
    expect(got.code).toBe(0)
    expect(got.out).toMatch(
      new RegExp(
        `^keyId {6}solo\nversion {4}1\ndigest {5}0x[0-9a-f]{64}\napprovals  1 \\(${stampers.alice.publicKey.slice(0, 10)}…\\)\nsigners {4}none \\(owners only\\)\nrules {6}1\n {2}allow  demo-recipient  to in \\[${TO}\\], value lte 100000000000000000\n$`,
      ),
    )
    // --json is the document with its approvals: canonical (the address checksummed), and a valid --file again.
    const state = JSON.parse((await cli(['policy', 'get', 'solo', '--json', ...as('alice')])).out) as { version: number; digest: string; document: { rules: unknown } }
    expect(state).toMatchObject({ keyId: 'solo', version: 1, document: { keyId: 'solo', rules: normalizeSigningPolicy(demoPolicy).rules } })
    const again = await json('state.json', state)
    expect((await cli(['policy', 'test', '--file', again, '--payload', await json('ok.json', transfer(1n))])).code).toBe(0)
    // The same document again is not a new version.
    const replay = await cli(['policy', 'set', 'solo', '--file', again, ...as('alice')])
    expect(replay).toMatchObject({ code: 2, out: '' })
    expect(replay.err).toMatch(/^custody policy: .*versions only increase.*\(INVALID_ARGUMENT\)\n$/)
  })

  it('--version sets the next version explicitly; a lower one is refused and the version in force stays', async () => {
    const file = await json('v.json', { rules: [{ id: 'any', effect: 'allow' }] })
    expect((await cli(['policy', 'set', 'solo', '--file', file, '--version', '7', ...as('alice')])).out).toMatch(/ is now version 7 /)
    const lower = await cli(['policy', 'set', 'solo', '--file', file, '--version', '3', ...as('alice')])
    expect(lower.code).toBe(2)
    expect(lower.err).toContain('versions only increase')
    expect((await cli(['policy', 'get', 'solo', ...as('alice')])).out).toMatch(/^version {4}7$/m)
  })

  it('a 2-of-3 owner key: one approval is FORBIDDEN; --approver-key-file adds the second; a non-owner cannot set', async () => {
    const file = await json('board.json', { rules: [{ id: 'small', effect: 'allow', when: { value: { lte: '1000' } } }], signers: [stampers.stranger.publicKey] })
    const alone = await cli(['policy', 'set', 'board', '--file', file, ...as('alice')])
    expect(alone.code).toBe(1)
    expect(alone.err).toMatch(/^custody policy: .*has 1 owner approval\(s\); its owners' threshold is 2 \(FORBIDDEN\)\n$/)
    const two = await cli(['policy', 'set', 'board', '--file', file, '--approver-key-file', keyFiles.bob, ...as('alice')])
    expect(two.err).toBe('')
    expect(two.out).toMatch(/ is now version 1 .*: 1 rule, 1 signer, 2 owner approvals\n$/)
    // The delegated signer may read the policy (it signs under it) but never set one.
    expect((await cli(['policy', 'get', 'board', ...as('stranger')])).out).toMatch(/^signers {4}1 \(/m)
    const document = await alice.signingPolicyDocument('board', { rules: [{ id: 'all', effect: 'allow' }] })
    const approved = await json('by-owners.json', { document, approvals: [await approveSigningPolicy(stampers.bob, document), await approveSigningPolicy(stampers.carol, document)] })
    const byStranger = await cli(['policy', 'set', 'board', '--file', approved, ...as('stranger')])
    expect(byStranger.code).toBe(1)
    expect(byStranger.err).toBe('custody policy: forbidden: this API key is not an owner of key "board" (FORBIDDEN)\n')
  })

  it('an approved { document, approvals } file is sent as is, with the approvals of --approver-key-file it lacks', async () => {
    const document = await alice.signingPolicyDocument('board', { rules: [{ id: 'tiny', effect: 'allow', when: { value: { lte: '10' } } }] })
    const byBob = await approveSigningPolicy(stampers.bob, document)
    // Bob's key written uncompressed: the same key, which --approver-key-file must recognise as a point.
    const uncompressed = `0x${ECDH.convertKey(byBob.publicKey.slice(2), 'prime256v1', 'hex', 'hex', 'uncompressed') as string}`
    const half = await json('half.json', { document, approvals: [{ ...byBob, publicKey: uncompressed }] })
    // Alice's own key does not approve a document she did not give approvals for: one approval is too few.
    expect((await cli(['policy', 'set', 'board', '--file', half, ...as('alice')])).code).toBe(1)
    // Bob's approval again counts once; Carol's makes two.
    const done = await cli(['policy', 'set', 'board', '--file', half, '--approver-key-file', keyFiles.bob, '--approver-key-file', keyFiles.carol, ...as('alice')])
    expect(done.err).toBe('')
    expect(done.out).toMatch(/ is now version 2 .*2 owner approvals\n$/)
    const wrongKey = await cli(['policy', 'set', 'solo', '--file', half, ...as('alice')])
    expect(wrongKey).toMatchObject({ code: 2, err: `custody policy: --file ${half}: the document is for key "board", not "solo" (run \`custody policy --help\`)\n` })
    const withVersion = await cli(['policy', 'set', 'board', '--file', half, '--version', '9', ...as('alice')])
    expect(withVersion.code).toBe(2)
    expect(withVersion.err).toContain('holds an approved document, whose version (2) is what its owners signed')
  })

  it('a co-owner who did not create the key sets a policy with --trusted-creator (without it, the SDK refuses the key)', async () => {
    const file = await json('by-bob.json', { rules: [{ id: 'bob-small', effect: 'allow', when: { value: { lte: '5' } } }] })
    const untrusted = await cli(['policy', 'set', 'board', '--file', file, '--approver-key-file', keyFiles.carol, ...as('bob')])
    expect(untrusted.code).toBe(1)
    expect(untrusted.err).toContain('INTEGRITY_ERROR')
    const trusted = await cli(['policy', 'set', 'board', '--file', file, '--approver-key-file', keyFiles.carol, '--trusted-creator', stampers.alice.publicKey, ...as('bob')])
    expect(trusted.err).toBe('')
    expect(trusted.out).toMatch(/ is now version \d+ .*2 owner approvals\n$/)
  })

  it('custody sign on a 2-of-3 key: alone FORBIDDEN; with --approver-key-file of another owner, signed', async () => {
    const alone = await cli([...signArgs('board', '0'), ...as('alice')])
    expect(alone.code).toBe(1)
    expect(alone.err).toContain('FORBIDDEN')
    const both = await cli([...signArgs('board', '0'), '--approver-key-file', keyFiles.bob, ...as('alice')])
    expect(both.err).toBe('')
    expect(both.out).toMatch(/^rawTransaction {2}0x02/m)
  })
})

describe('policy set refuses a bad policy before contacting anything', () => {
  // Nothing listens on port 1: an attempt to connect would fail otherwise than with the field.
  const connection = ['--url', 'http://127.0.0.1:1', '--pcr0', PCR0]
  let keyFile: string
  beforeAll(async () => {
    keyFile = join(dir, 'refuse-key.json')
    await createApiKeyFile(keyFile)
  })
  const cases: [string, unknown, string][] = [
    ['an unknown fact', { rules: [{ id: 'r', effect: 'allow', when: { toAddress: { eq: TO } } }] }, '"policy.rules[0].when.toAddress" is not a fact (facts: family, kind, chainId,'],
    ['an unknown operator', { rules: [{ id: 'r', effect: 'allow', when: { value: { below: '1' } } }] }, '"policy.rules[0].when.value.below" is not an operator of uint fact "value" (use eq, in, notIn, lt, lte, gt, gte)'],
    ['an operator of another type', { rules: [{ id: 'r', effect: 'deny', when: { to: { lte: TO } } }] }, '"policy.rules[0].when.to.lte" is not an operator of address fact "to" (use eq, in, notIn)'],
    ['a value of the wrong type', { rules: [{ id: 'r', effect: 'allow', when: { value: { lte: 0.1 } } }] }, '"policy.rules[0].when.value.lte" must be a non-negative integer as a decimal string (got number)'],
    ['a bad address', { rules: [{ id: 'r', effect: 'allow', when: { to: { in: ['0x1234'] } } }] }, '"policy.rules[0].when.to.in[0]"'],
    ['an unknown enum value', { rules: [{ id: 'r', effect: 'allow', when: { kind: { eq: 'eip4844' } } }] }, '"policy.rules[0].when.kind.eq" must be one of legacy, eip2930, eip1559, eip7702, authorization, message, typedData, digest'],
    ['a limit on a deny rule', { rules: [{ id: 'r', effect: 'deny', limit: { sum: 'value', max: '1', window: '24h' } }] }, '"policy.rules[0].limit" is only for allow rules'],
    ['a bad window', { rules: [{ id: 'r', effect: 'allow', limit: { sum: 'value', max: '1', window: '1 day' } }] }, '"policy.rules[0].limit.window" must be a duration like "90s", "15m", "24h" or "7d"'],
    ['a repeated rule id', { rules: [{ id: 'r', effect: 'allow' }, { id: 'r', effect: 'deny' }] }, '"policy.rules[1].id" repeats rule id "r"'],
    ['an unknown top-level field', { rules: [], owners: [] }, '"policy" has unknown field "owners"'],
  ]
  it.each(cases)('%s', async (_, policy, message) => {
    const file = await json('bad.json', policy)
    const { code, out, err } = await cli(['policy', 'set', 'k1', '--file', file, '--api-key-file', keyFile, ...connection])
    expect(out).toBe('')
    expect(err.startsWith(`custody policy: --file ${file}: ${message}`)).toBe(true)
    expect(code).toBe(2)
    // The same policy is refused by `policy test`, with the same words.
    const tested = await cli(['policy', 'test', '--file', file, '--payload', await json('p.json', transfer(1n))])
    expect(tested).toEqual({ code: 2, out: '', err })
  })

  it('and a missing or malformed approver key file, also before connecting', async () => {
    const file = await json('fine.json', demoPolicy)
    const missing = await cli(['policy', 'set', 'k1', '--file', file, '--approver-key-file', join(dir, 'none.json'), '--api-key-file', keyFile, ...connection])
    expect(missing).toMatchObject({ code: 2, err: expect.stringMatching(/^custody policy: --approver-key-file: cannot read .*none\.json \(ENOENT\)/) })
    const notAKey = await cli(['policy', 'set', 'k1', '--file', file, '--approver-key-file', file, '--api-key-file', keyFile, ...connection])
    expect(notAKey).toMatchObject({ code: 2, err: expect.stringContaining(`--approver-key-file: ${file} is not an API key file`) })
  })
})

describe('policy set and get on the dev stack (policies in Secrets Manager, stored by the importer role)', () => {
  let stack: DevStack
  let dataDir: string
  beforeAll(async () => {
    dataDir = join(dir, 'dev')
    stack = await startDevStack({ dataDir, anvil: false })
    const apiKeyFile = join(dataDir, 'api-key.json')
    await createApiKeyFile(apiKeyFile)
    await writeDevEnv(dataDir, {
      CUSTODY_URL: stack.proxyUrl,
      CUSTODY_AWS_ENDPOINT: stack.awsEndpoint,
      CUSTODY_REGION: stack.region,
      CUSTODY_KMS_KEY_ID: stack.kmsKeyArn,
      CUSTODY_CHAIN_ID: '11155111',
      CUSTODY_PCR0: stack.pcr0,
      CUSTODY_ATTESTATION_ROOT: stack.attestationRootFile,
      CUSTODY_API_KEY_FILE: apiKeyFile,
      CUSTODY_AUDIT_LOG: stack.auditLogFile,
      CUSTODY_RECEIPTS_FILE: join(dataDir, 'receipts.jsonl'),
      AWS_ACCESS_KEY_ID: stack.config.principals.importer.accessKeyId,
      AWS_SECRET_ACCESS_KEY: stack.config.principals.importer.secretAccessKey,
    })
  }, 60_000)
  afterAll(() => stack?.close())

  it('--dev: set stores the policy for the enclave to read, get reads it back, sign obeys it; without the importer, nothing changes', { timeout: 60_000 }, async () => {
    expect((await cli(['generate-key', '--dev', dataDir, '--key-id', 'hot'])).code).toBe(0)
    const file = await json('dev-demo.json', demoPolicy)
    const set = await cli(['policy', 'set', 'hot', '--dev', dataDir, '--file', file])
    expect(set.err).toBe('')
    expect(set.out).toMatch(/^signing policy of hot is now version 1 /)
    expect((await cli(['policy', 'get', 'hot', '--dev', dataDir])).out).toContain('  allow  demo-recipient  to in [0x70997970C51812dc3A010C7d01b50e0d17dc79C8], value lte 100000000000000000\n')
    expect((await cli([...signArgs('hot', '0.05'), '--dev', dataDir])).code).toBe(0)
    expect(await cli([...signArgs('hot', '0.2'), '--dev', dataDir])).toMatchObject({ code: 1, err: 'custody sign: denied: no rule allows (POLICY_DENIED)\n' })

    // The same stack without the importer's settings: the enclave verifies, but only the importer stores.
    const apiKeyFile = join(dataDir, 'api-key.json')
    const bare = ['--url', stack.proxyUrl, '--pcr0', stack.pcr0, '--attestation-root', stack.attestationRootFile, '--api-key-file', apiKeyFile]
    const next = await json('dev-next.json', { rules: [{ id: 'any', effect: 'allow' }] })
    const refused = await cli(['policy', 'set', 'hot', '--file', next, ...bare])
    expect(refused.code).toBe(1)
    expect(refused.err).toMatch(/^custody policy: the enclave verified the policy but does not store policies itself .*--kms-key-id.*nothing changed\n$/)
    expect((await cli(['policy', 'get', 'hot', ...bare])).out).toMatch(/^version {4}1$/m)
  })
})

describe('policy test (offline)', () => {
  const SIGNER = apiKeyStamper({ privateKey: `0x${'11'.repeat(32)}` }).publicKey
  const APPROVER = apiKeyStamper({ privateKey: `0x${'22'.repeat(32)}` }).publicKey

  it('--json: decision, rule, the enclave\'s message, the facts and notes', async () => {
    const file = await json('t-demo.json', demoPolicy)
    const denied = await cli(['policy', 'test', '--file', file, '--payload', await json('t-over.json', transfer(parseEther('0.2'))), '--json'])
    expect(denied.code).toBe(1)
    expect(JSON.parse(denied.out)).toEqual({
      allowed: false,
      reason: 'no rule allows',
      message: 'denied: no rule allows',
      facts: {
        family: 'evm',
        kind: 'eip1559',
        chainId: '1',
        to: TO,
        value: '200000000000000000',
        gas: '21000',
        maxFeePerGas: '30000000000',
        maxPriorityFeePerGas: '1000000000',
        worstCaseFee: '630000000000000',
        contractCreation: false,
        call: 'none',
      },
      notes: [],
    })
  })

  it('quorum: --signer and --approver count, once each; notes say what the offline test cannot know', async () => {
    const file = await json('t-quorum.json', {
      rules: [{ id: 'large', effect: 'allow', when: { value: { gt: '1000' } }, approvals: { from: [SIGNER, APPROVER], threshold: 2 } }],
      signers: [APPROVER],
    })
    const payload = await json('t-large.json', transfer(5000n))
    expect(await cli(['policy', 'test', '--file', file, '--payload', payload, '--signer', SIGNER])).toEqual({
      code: 1,
      out: 'denied: rule "large": needs 2 approvals from its approvers, has 1\n',
      err: "note: the signer is not among the policy's signers: the enclave lets it sign only if it is an owner of the key\n",
    })
    expect((await cli(['policy', 'test', '--file', file, '--payload', payload, '--signer', SIGNER, '--approver', SIGNER])).out).toContain('has 1\n')
    expect(await cli(['policy', 'test', '--file', file, '--payload', payload, '--signer', APPROVER, '--approver', SIGNER])).toEqual({ code: 0, out: 'allowed by rule "large"\n', err: '' })
    expect((await cli(['policy', 'test', '--file', file, '--payload', payload])).err).toBe('note: no --signer: conditions on "signer" do not hold and no requester counts towards a quorum\n')
  })

  it('rolling limits start empty; --fresh-boot evaluates as a just-restarted enclave', async () => {
    const file = await json('t-daily.json', { rules: [{ id: 'daily', effect: 'allow', limit: { sum: 'value', max: parseEther('1').toString(), window: '24h' } }] })
    const under = await json('t-under.json', transfer(parseEther('1')))
    const over = await json('t-over2.json', transfer(parseEther('1') + 1n))
    expect(await cli(['policy', 'test', '--file', file, '--payload', under])).toEqual({
      code: 0,
      out: 'allowed by rule "daily"\n',
      err: 'note: rule "daily" has a rolling limit of 1000000000000000000 value per 24h: evaluated as if nothing were signed under it yet (the enclave counts what it signed)\n',
    })
    expect((await cli(['policy', 'test', '--file', file, '--payload', over])).out).toBe('denied: rule "daily": this request alone (1000000000000000001 value) exceeds the limit of 1000000000000000000 per 24h\n')
    const restarted = await cli(['policy', 'test', '--file', file, '--payload', under, '--fresh-boot'])
    expect(restarted.code).toBe(1)
    expect(restarted.out).toMatch(/^denied: rule "daily": the enclave restarted at .* and does not know what it signed before; this 24h limit reopens at /)
  })

  it('the sealed flags are named when a payload needs one (a rule never widens them)', async () => {
    const file = await json('t-all.json', { rules: [{ id: 'all', effect: 'allow' }] })
    const digest = await json('t-digest.json', { op: 'sign.digest', params: { digest: `0x${'ab'.repeat(32)}` } })
    expect(await cli(['policy', 'test', '--file', file, '--payload', digest])).toEqual({
      code: 0,
      out: 'allowed by rule "all"\n',
      err: 'note: the enclave signs a raw digest only with a key sealed with allowRawDigest (a sealed flag is a ceiling no rule widens)\n',
    })
    const anyChain = await json('t-any.json', { op: 'sign.authorization', params: { authorization: { chainId: '0', address: OTHER, nonce: '0', allowAnyChain: true } } })
    expect((await cli(['policy', 'test', '--file', file, '--payload', anyChain])).err).toContain('allowAnyChainAuthorization')
  })

  it('an approval request (custody.approvalRequest.…) is a payload as it is', async () => {
    const file = await json('t-demo2.json', demoPolicy)
    const request = { v: 1, op: 'sign.eip1559', params: { keyId: 'treasury', ...transfer(parseEther('0.05')).params }, aud: `0x${'00'.repeat(32)}` }
    expect((await cli(['policy', 'test', '--file', file, '--payload', await json('t-approval.json', request)])).out).toBe('allowed by rule "demo-recipient"\n')
  })

  const bad: [string, string[], string][] = [
    ['a payload of an operation that signs nothing', ['--payload', 'key.json'], '--payload KEYPATH: "op" must be one of sign.eip1559, sign.transaction, sign.authorization, sign.message, sign.typedData, sign.digest'],
    ['a payload whose tx is invalid', ['--payload', 'badtx.json'], '--payload BADTX: "params.tx.maxPriorityFeePerGas" must not exceed maxFeePerGas'],
    ['a payload with an unknown field', ['--payload', 'extra.json'], '--payload EXTRA: has unknown field "tx" (expected op, params)'],
    ['ERC-20 calldata whose arguments do not decode', ['--payload', 'erc20.json'], '--payload ERC20: "params.tx.data" calls ERC-20 transfer with 31 bytes of arguments where it takes exactly 64'],
    ['a private key as --signer (not echoed)', ['--signer', `0x${'33'.repeat(32)}`], '--signer takes an API public key (33 or 65 bytes), never a private key'],
    ['a bad --approver', ['--approver', '0x02abcd'], '--approver must be 0x-hex of an API public key'],
    ['a <keyId>', ['k1'], '`policy test` takes no <keyId>'],
    ['--version (a set option)', ['--version', '2'], '--version is not an option of `policy test` (only of policy set)'],
  ]
  it.each(bad)('bad input, exit 2: %s', async (_, extra, message) => {
    const policy = await json('t-ok.json', demoPolicy)
    const files: Record<string, string> = {
      KEYPATH: await json('key.json', { op: 'key.get', params: { keyId: 'k' } }),
      BADTX: await json('badtx.json', { op: 'sign.eip1559', params: { tx: { ...transfer(1n).params.tx, maxPriorityFeePerGas: '40000000000' } } }),
      EXTRA: await json('extra.json', { op: 'sign.eip1559', tx: {} }),
      ERC20: await json('erc20.json', { op: 'sign.eip1559', params: { tx: { ...transfer(0n).params.tx, gas: '60000', data: `0xa9059cbb${'00'.repeat(31)}` } } }),
    }
    // A flag is given once: a case's own --payload replaces the fine one.
    const payload = extra.includes('--payload') ? [] : ['--payload', await json('t-fine.json', transfer(1n))]
    const argv = ['policy', 'test', '--file', policy, ...payload, ...extra.map((a) => (a.endsWith('.json') ? join(dir, a) : a))]
    const { code, out, err } = await cli(argv)
    const expected = Object.entries(files).reduce((m, [k, path]) => m.replace(k, path), message)
    expect(out).toBe('')
    expect(err).toContain(expected)
    expect(err).not.toContain('33'.repeat(32))
    expect(code).toBe(2)
  })

  it('a file that is not JSON is named with the position, never quoted; a missing one by its error code', async () => {
    const path = join(dir, 'broken.json')
    await writeFile(path, '{\n  "rules": [\n    { "id": "a" secret }\n  ]\n}\n')
    const { code, err } = await cli(['policy', 'test', '--file', path, '--payload', join(dir, 'none.json')])
    expect(code).toBe(2)
    expect(err).toBe(`custody policy: --file: ${path} is not JSON (at line 3, column 17) (run \`custody policy --help\`)\n`)
    const missing = await cli(['policy', 'test', '--file', await json('t-ok2.json', demoPolicy), '--payload', join(dir, 'none.json')])
    expect(missing.err).toBe(`custody policy: --payload: cannot read ${join(dir, 'none.json')} (ENOENT) (run \`custody policy --help\`)\n`)
  })

  it('usage: the action is checked, get and set need a <keyId> and the connection, --help describes every action', async () => {
    expect(await cli(['policy', 'frob'])).toMatchObject({ code: 2, err: 'custody policy: <action> must be get, set or test (run `custody policy --help`)\n' })
    expect((await cli(['policy', 'get'])).err).toBe('custody policy: <keyId> is required for `policy get` (run `custody policy --help`)\n')
    expect((await cli(['policy', 'get', 'k1'])).err).toBe('custody policy: --url is required (or set CUSTODY_URL) (run `custody policy --help`)\n')
    expect((await cli(['policy', 'set', 'k1', '--url', 'http://127.0.0.1:1'])).err).toBe('custody policy: --file is required for `policy set` (run `custody policy --help`)\n')
    expect((await cli(['policy', 'get', 'k1', '--payload', 'x.json'])).err).toBe('custody policy: --payload is not an option of `policy get` (only of policy test) (run `custody policy --help`)\n')
    const help = await cli(['policy', 'set', '--help'])
    expect(help.code).toBe(0)
    expect(help.err).toBe('')
    for (const spec of Object.values(policyCommand.options)) expect(help.out).toContain(`--${spec.flag}`)
    expect(await cli(['help', 'policy'])).toEqual(help)
    for (const usage of ['custody policy get <keyId>', 'custody policy set <keyId> --file <policy.json>', 'custody policy test --file <policy.json> --payload <payload.json>']) expect(help.out).toContain(usage)
  })

  it('as a real process: exit 0 allowed, 1 denied, 2 bad input', { timeout: 60_000 }, async () => {
    const file = await json('p-demo.json', demoPolicy)
    const [ok, over, bad] = await Promise.all([
      runCustody(['policy', 'test', '--file', file, '--payload', await json('p-ok.json', transfer(1n))]),
      runCustody(['policy', 'test', '--file', file, '--payload', await json('p-over.json', transfer(parseEther('1')))]),
      runCustody(['policy', 'test', '--file', await json('p-bad.json', { rules: [{ id: 'x', effect: 'allow', when: { colour: { eq: 'red' } } }] }), '--payload', await json('p-ok2.json', transfer(1n))]),
    ])
    expect(ok).toMatchObject({ code: 0, stdout: 'allowed by rule "demo-recipient"\n' })
    expect(over).toMatchObject({ code: 1, stdout: 'denied: no rule allows\n' })
    expect(bad).toMatchObject({ code: 2, stdout: '' })
    expect(bad.stderr).toContain('"policy.rules[0].when.colour" is not a fact')
  })
})
