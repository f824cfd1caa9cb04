/**
 * The published packages as a consumer gets them: `pnpm release:dry-run` (scripts/release-dry-run.ts: `pnpm
 * build`, `changeset version` in a staged copy of the workspace, `pnpm pack` of every public package, publint
 * and are-the-types-wrong on each tarball), so the tarballs installed here are exactly the ones a release
 * would publish; they are installed with npm into a fresh project under the OS temp directory (outside the
 * workspace: nothing resolves to the workspace's sources or node_modules), then plain `node` — no tsx, no
 * workspace condition — from an ES module and from a CommonJS script:
 *
 * - sign an EIP-1559 transaction through `localEnclave()` with requests stamped by a fresh API key (the
 *   client attests the in-process enclave first); this test recovers the signer with ethers and viem and
 *   compares it with the address of the imported key;
 * - the SDK's main entry loads with neither ethers nor viem installed (both are optional peers);
 * - an error thrown by one build of the SDK is recognised by the other (`isCustodyError`, `instanceof`);
 * - `node --conditions=source` and `tsc` with `customConditions: ["source"]` (a common setting) get the
 *   built files, not our TypeScript sources;
 * - every entry point of every package loads in both formats with the same export names, the adapters
 *   sign through `/ethers` and `/viem`, the bins answer `--help`;
 * - the dry run exits 0: versions bumped as the pending changesets say, their entries in each packed
 *   CHANGELOG.md, no `workspace:` range in a packed manifest (publint and are-the-types-wrong, every resolution
 *   mode with node10, are the dry run's own checks: it exits 1 naming the package when one fails).
 *
 * Needs the npm registry for the packages' own dependencies (npm's cache makes reruns fast).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { computeAddress, Transaction } from 'ethers'
import { recoverTransactionAddress } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CommandRun as Run, runCommand as run } from '../scripts/runCommand.js'
import { ANVIL_KEYS, repoRoot } from './vectors.js'

function expectSuccess(what: string, r: Run): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`)
}

/** The environment without pnpm's and npm's per-run settings (a consumer's npm must not inherit them). */
function consumerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(?:npm_|pnpm_|PNPM_|NODE_OPTIONS$|VITEST|TSX)/i.test(k)) env[k] = v
  return { ...env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }
}

const PUBLISHED = readdirSync(join(repoRoot, 'packages')).filter((name) => {
  const manifest = join(repoRoot, 'packages', name, 'package.json')
  return existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).private !== true
})

const KEY = ANVIL_KEYS[1]
const TX = {
  chainId: '11155111',
  nonce: '7',
  to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  value: '10000000000000000',
  gas: '21000',
  maxFeePerGas: '30000000000',
  maxPriorityFeePerGas: '1000000000',
}

/** Shared by both scripts: the request as bigints. */
const TX_JS = `const tx = Object.fromEntries(Object.entries(${JSON.stringify(TX)}).map(([k, v]) => [k, k === 'to' ? v : BigInt(v)]))`

const ESM_SIGN = `
import { createRequire } from 'node:module'
import { apiKeyStamper, createCustodyClient, CustodyError, generateApiKey, isCustodyError } from '@enclave-custody/sdk'
import { localEnclave } from '@enclave-custody/enclave-runtime'
const require = createRequire(import.meta.url)
const cjs = require('@enclave-custody/sdk')
${TX_JS}
const custody = createCustodyClient({ transport: localEnclave(), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }) })
const { keyId, address } = await custody.importKey({ privateKey: process.env.TEST_PRIVATE_KEY })
const signed = await custody.signEip1559(keyId, tx)
let thrown
try { await custody.signEip1559('no-such-key', tx) } catch (e) { thrown = e }
const resolvable = (name) => { try { require.resolve(name); return true } catch { return false } }
console.log(JSON.stringify({
  address, raw: signed.rawTransaction,
  twoClasses: cjs.CustodyError !== CustodyError,
  ownRecognised: isCustodyError(thrown, 'KEY_NOT_FOUND'),
  otherBuildRecognises: cjs.isCustodyError(thrown, 'KEY_NOT_FOUND') && thrown instanceof cjs.CustodyError,
  recognisesOtherBuild: isCustodyError(new cjs.KeyNotFoundError({ keyId: 'x' }), 'KEY_NOT_FOUND'),
  ethers: resolvable('ethers'), viem: resolvable('viem'),
}))
`

const CJS_SIGN = `
const { apiKeyStamper, createCustodyClient, CustodyError, generateApiKey, isCustodyError } = require('@enclave-custody/sdk')
const { localEnclave } = require('@enclave-custody/enclave-runtime')
${TX_JS}
;(async () => {
  const esm = await import('@enclave-custody/sdk')
  const custody = createCustodyClient({ transport: localEnclave(), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }) })
  const { keyId, address } = await custody.importKey({ privateKey: process.env.TEST_PRIVATE_KEY })
  const signed = await custody.signEip1559(keyId, tx)
  let thrown
  try { await custody.signEip1559('no-such-key', tx) } catch (e) { thrown = e }
  const resolvable = (name) => { try { require.resolve(name); return true } catch { return false } }
  console.log(JSON.stringify({
    address, raw: signed.rawTransaction,
    twoClasses: esm.CustodyError !== CustodyError,
    ownRecognised: isCustodyError(thrown, 'KEY_NOT_FOUND'),
    otherBuildRecognises: esm.isCustodyError(thrown, 'KEY_NOT_FOUND') && thrown instanceof esm.CustodyError,
    recognisesOtherBuild: isCustodyError(new esm.KeyNotFoundError({ keyId: 'x' }), 'KEY_NOT_FOUND'),
    ethers: resolvable('ethers'), viem: resolvable('viem'),
  }))
})().catch((e) => { console.error(e); process.exit(1) })
`

const ENTRIES = ['@enclave-custody/sdk', '@enclave-custody/sdk/protocol', '@enclave-custody/sdk/ethers', '@enclave-custody/sdk/viem', '@enclave-custody/enclave-runtime', '@enclave-custody/local-aws', '@enclave-custody/parent-proxy', '@enclave-custody/cli']

const ESM_ENTRIES = `
const out = {}
for (const name of ${JSON.stringify(ENTRIES)}) out[name] = Object.keys(await import(name)).filter((k) => k !== 'default').sort()
console.log(JSON.stringify(out))
`
const CJS_ENTRIES = `
const out = {}
for (const name of ${JSON.stringify(ENTRIES)}) out[name] = Object.keys(require(name)).filter((k) => k !== 'default' && k !== '__esModule').sort()
console.log(JSON.stringify(out))
`

/** The adapters from the consumer's point of view: viem from ESM, ethers from CJS. */
const ESM_VIEM = `
import { apiKeyStamper, createCustodyClient, generateApiKey } from '@enclave-custody/sdk'
import { toEnclaveAccount } from '@enclave-custody/sdk/viem'
import { localEnclave } from '@enclave-custody/enclave-runtime'
${TX_JS}
const custody = createCustodyClient({ transport: localEnclave(), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }) })
const { keyId, address } = await custody.importKey({ privateKey: process.env.TEST_PRIVATE_KEY })
const account = await toEnclaveAccount(custody, keyId)
const raw = await account.signTransaction({ type: 'eip1559', chainId: Number(tx.chainId), nonce: Number(tx.nonce), to: tx.to, value: tx.value, gas: tx.gas, maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas })
console.log(JSON.stringify({ address, accountAddress: account.address, raw }))
`
const CJS_ETHERS = `
const { apiKeyStamper, createCustodyClient, generateApiKey } = require('@enclave-custody/sdk')
const { EnclaveSigner } = require('@enclave-custody/sdk/ethers')
const { localEnclave } = require('@enclave-custody/enclave-runtime')
${TX_JS}
;(async () => {
  const custody = createCustodyClient({ transport: localEnclave(), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }) })
  const { keyId, address } = await custody.importKey({ privateKey: process.env.TEST_PRIVATE_KEY })
  const signer = await EnclaveSigner.create(custody, keyId)
  const raw = await signer.signTransaction({ type: 2, chainId: tx.chainId, nonce: Number(tx.nonce), to: tx.to, value: tx.value, gasLimit: tx.gas, maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas })
  console.log(JSON.stringify({ address, signerAddress: await signer.getAddress(), raw }))
})().catch((e) => { console.error(e); process.exit(1) })
`

const TS_CONSUMER = `
import { apiKeyStamper, createCustodyClient, generateApiKey, type KeyInfo } from '@enclave-custody/sdk'
import { localEnclave } from '@enclave-custody/enclave-runtime'
export const custody = createCustodyClient({ transport: localEnclave(), stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }) })
export type Info = KeyInfo
`

/** The one signer an EIP-1559 raw transaction recovers to, by ethers and by viem (independently). */
async function recoverBoth(raw: string): Promise<{ ethers: string; viem: string }> {
  const parsed = Transaction.from(raw)
  expect(parsed.type).toBe(2)
  expect(parsed.chainId).toBe(BigInt(TX.chainId))
  expect(parsed.nonce).toBe(Number(TX.nonce))
  expect(parsed.to).toBe(TX.to)
  expect(parsed.value).toBe(BigInt(TX.value))
  expect(parsed.gasLimit).toBe(BigInt(TX.gas))
  return { ethers: parsed.from!, viem: await recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` }) }
}

/** The pending changesets' releases and first summary lines, read from .changeset/ (front matter `"name": bump`). */
function pendingChangesets(): { releases: Record<string, string>; firstLine: string }[] {
  const dir = join(repoRoot, '.changeset')
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .map((f) => {
      const [, front = '', body = ''] = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(readFileSync(join(dir, f), 'utf8')) ?? []
      const releases = Object.fromEntries([...front.matchAll(/^\s*"([^"]+)":\s*(\w+)\s*$/gm)].map((m) => [m[1]!, m[2]!]))
      return { releases, firstLine: body.trim().split('\n')[0]!.trim() }
    })
}

type DryRunPackage = { name: string; dir: string; oldVersion: string; newVersion: string; bump: string; tarball: string }

describe('published packages, installed from their tarballs outside the workspace', () => {
  let work: string
  let consumer: string
  let dryRun: Run
  let released: DryRunPackage[] = []
  const tarballs: Record<string, string> = {}
  const sizes: Record<string, number> = {}
  const expected = computeAddress(KEY)
  const env = { ...consumerEnv(), TEST_PRIVATE_KEY: KEY }
  const node = (args: string[], timeout = 120_000) => run(process.execPath, args, { cwd: consumer, env, timeout })

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'custody-pack-'))
    consumer = join(work, 'consumer')
    await mkdir(consumer)

    // The release dry run builds, versions a staged copy, packs and lints; its tarballs are what consumers get.
    dryRun = await run('pnpm', ['release:dry-run', '--out', join(work, 'tarballs')], { cwd: repoRoot, timeout: 1_500_000 })
    console.log(`[pack] release dry run:\n${dryRun.stdout.trim()}`)
    expectSuccess('pnpm release:dry-run', dryRun)
    released = (JSON.parse(await readFile(join(work, 'tarballs', 'dry-run.json'), 'utf8')) as { packages: DryRunPackage[] }).packages
    for (const p of released) {
      const name = basename(p.dir)
      tarballs[name] = join(work, 'tarballs', p.tarball)
      sizes[name] = statSync(tarballs[name]).size
    }
    console.log(`[pack] tarball sizes (bytes): ${JSON.stringify(sizes)}`)
    await writeFile(join(consumer, 'package.json'), `${JSON.stringify({ name: 'custody-consumer', version: '1.0.0', private: true }, null, 2)}\n`)
  }, 1_800_000)

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it('packs every public package, and the consumer project is outside the workspace with no node_modules above it', () => {
    expect(PUBLISHED.sort()).toEqual(['cli', 'enclave-runtime', 'local-aws', 'parent-proxy', 'sdk'])
    expect(Object.keys(tarballs).sort()).toEqual(['cli', 'enclave-runtime', 'local-aws', 'parent-proxy', 'sdk'])
    expect(consumer.startsWith(repoRoot + sep)).toBe(false)
    for (let dir = dirname(consumer); dir !== dirname(dir); dir = dirname(dir)) expect(existsSync(join(dir, 'node_modules')), `${dir}/node_modules`).toBe(false)
  })

  it('the release dry run exits 0 with versions bumped as the pending changesets say and their entries in each packed CHANGELOG.md', async () => {
    expect(dryRun.code).toBe(0)
    expect(dryRun.stdout).toContain('publint and are-the-types-wrong pass on every tarball')
    const byName = new Map(released.map((p) => [p.name, p]))
    for (const p of released) expect(p.oldVersion, p.name).toBe(JSON.parse(readFileSync(join(repoRoot, p.dir, 'package.json'), 'utf8')).version)
    for (const { releases, firstLine } of pendingChangesets()) {
      for (const [name, bump] of Object.entries(releases)) {
        if (bump === 'none') continue
        const p = byName.get(name)!
        expect(p, name).toBeDefined()
        expect(p.newVersion, name).not.toBe(p.oldVersion)
        const changelog = await run('tar', ['-xzOf', join(work, 'tarballs', p.tarball), 'package/CHANGELOG.md'], { timeout: 60_000 })
        expectSuccess(`CHANGELOG.md in ${p.tarball}`, changelog)
        const newest = changelog.stdout.split(/^## /m)[1]!
        expect(newest.split('\n')[0], name).toBe(p.newVersion)
        expect(newest, name).toContain(firstLine)
      }
    }
    // The working tree is not touched: the versions above are still the repository's (the fixture workspace of
    // test/release-dry-run.slow.test.ts checks the bumps themselves when no changeset is pending here).
  })

  it('no packed manifest holds a workspace: range; workspace dependencies are pinned to their released versions', async () => {
    const versions = new Map(released.map((p) => [p.name, p.newVersion]))
    for (const p of released) {
      const manifest = await run('tar', ['-xzOf', join(work, 'tarballs', p.tarball), 'package/package.json'], { timeout: 60_000 })
      expectSuccess(`package.json in ${p.tarball}`, manifest)
      expect(manifest.stdout, p.name).not.toContain('workspace:')
      const packed = JSON.parse(manifest.stdout) as { version: string; dependencies?: Record<string, string> }
      expect(packed.version, p.name).toBe(p.newVersion)
      for (const [dep, range] of Object.entries(packed.dependencies ?? {})) if (versions.has(dep)) expect(range, `${p.name} → ${dep}`).toBe(versions.get(dep))
    }
  })

  it('every tarball holds LICENSE and no test files; no export condition hands out .ts sources', async () => {
    for (const [name, tarball] of Object.entries(tarballs)) {
      const list = await run('tar', ['-tzf', tarball], { timeout: 60_000 })
      expectSuccess(`tar ${name}`, list)
      const files = list.stdout.trim().split('\n')
      expect(files, name).toContain('package/LICENSE')
      expect(files.filter((f) => /\.test\.ts$/.test(f)), name).toEqual([])
      const manifest = await run('tar', ['-xzOf', tarball, 'package/package.json'], { timeout: 60_000 })
      const exportsMap = JSON.stringify(JSON.parse(manifest.stdout).exports)
      expect(exportsMap, name).not.toMatch(/"source"/)
      // .ts targets only under the private workspace condition, never under a condition a consumer may set.
      for (const m of exportsMap.matchAll(/"([^"]+)":"\.\/src\/[^"]+\.ts"/g)) expect(m[1], name).toBe('@enclave-custody/source')
    }
  })

  describe('the SDK and the runtime alone (no ethers, no viem installed)', () => {
    beforeAll(async () => {
      const r = await run('npm', ['install', '--no-save', '--prefer-offline', tarballs.sdk!, tarballs['enclave-runtime']!], { cwd: consumer, env, timeout: 900_000 })
      expectSuccess('npm install sdk + enclave-runtime', r)
      await writeFile(join(consumer, 'sign.mjs'), ESM_SIGN)
      await writeFile(join(consumer, 'sign.cjs'), CJS_SIGN)
    }, 900_000)

    it('neither optional peer was installed', () => {
      expect(existsSync(join(consumer, 'node_modules', 'ethers'))).toBe(false)
      expect(existsSync(join(consumer, 'node_modules', 'viem'))).toBe(false)
      expect(existsSync(join(consumer, 'node_modules', '@enclave-custody', 'sdk', 'dist', 'index.cjs'))).toBe(true)
    })

    it("the SDK's built main entry (ESM and CJS, with every chunk it loads) imports neither ethers nor viem", () => {
      const dist = join(consumer, 'node_modules', '@enclave-custody', 'sdk', 'dist')
      for (const entry of ['index.js', 'index.cjs']) {
        const seen = new Set<string>()
        const stack = [join(dist, entry)]
        while (stack.length > 0) {
          const file = stack.pop()!
          if (seen.has(file)) continue
          seen.add(file)
          const text = readFileSync(file, 'utf8')
          expect(text, file).not.toMatch(/(?:from\s*|import\(\s*|require\(\s*)["'](?:ethers|viem)(?:\/[^"']*)?["']/)
          for (const m of text.matchAll(/(?:from\s*|import\(\s*|require\(\s*)["'](\.[^"']+)["']/g)) stack.push(resolve(dirname(file), m[1]!))
        }
        expect(seen.size, entry).toBeGreaterThan(0)
      }
      // The same scan finds the adapter's import (it is not blind).
      expect(readFileSync(join(dist, 'ethers', 'index.js'), 'utf8')).toMatch(/from\s*["']ethers["']/)
    })

    for (const [format, script] of [
      ['ESM', 'sign.mjs'],
      ['CJS', 'sign.cjs'],
    ] as const) {
      it(`${format}: signs an EIP-1559 transaction through localEnclave() that recovers to the key's address`, async () => {
        const r = await node([script])
        expectSuccess(`node ${script}`, r)
        const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
        expect(out.address).toBe(expected)
        expect(await recoverBoth(out.raw)).toEqual({ ethers: expected, viem: expected })
        expect(out.ethers).toBe(false)
        expect(out.viem).toBe(false)
      })

      it(`${format}: an error from one build of the SDK is a CustodyError to the other build`, async () => {
        const r = await node([script])
        expectSuccess(`node ${script}`, r)
        const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
        expect(out).toMatchObject({ twoClasses: true, ownRecognised: true, otherBuildRecognises: true, recognisesOtherBuild: true })
      })
    }

    it('`node --conditions=source` (a condition consumers set for their own code) still loads the built files', async () => {
      for (const script of ['sign.mjs', 'sign.cjs']) {
        const r = await node(['--conditions=source', script])
        expectSuccess(`node --conditions=source ${script}`, r)
        expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!).address).toBe(expected)
      }
    })

    it('tsc with customConditions ["source"] type-checks a consumer against the declarations, not our sources', async () => {
      await writeFile(join(consumer, 'consumer.mts'), TS_CONSUMER)
      const tsconfig = {
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [], customConditions: ['source'] },
        files: ['consumer.mts'],
      }
      await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig))
      const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
      const r = await node([tsc, '-p', 'tsconfig.json', '--listFiles'], 300_000)
      expectSuccess('tsc', r)
      const ours = r.stdout.split('\n').filter((f) => f.includes('/node_modules/@enclave-custody/'))
      expect(ours.length).toBeGreaterThan(0)
      expect(ours.filter((f) => !f.endsWith('.d.mts') && !f.endsWith('.d.ts'))).toEqual([])
    })
  })

  describe('every package installed (with viem beside them, as an adapter user would)', () => {
    beforeAll(async () => {
      const viemVersion = JSON.parse(await readFile(join(repoRoot, 'packages', 'sdk', 'package.json'), 'utf8')).devDependencies.viem as string
      const r = await run('npm', ['install', '--no-save', '--prefer-offline', ...Object.values(tarballs), `viem@${viemVersion}`], { cwd: consumer, env, timeout: 900_000 })
      expectSuccess('npm install every tarball', r)
      await writeFile(join(consumer, 'entries.mjs'), ESM_ENTRIES)
      await writeFile(join(consumer, 'entries.cjs'), CJS_ENTRIES)
      await writeFile(join(consumer, 'viem.mjs'), ESM_VIEM)
      await writeFile(join(consumer, 'ethers.cjs'), CJS_ETHERS)
    }, 900_000)

    it('every entry point loads from ESM and from CJS with the same exports', async () => {
      const esm = await node(['entries.mjs'])
      expectSuccess('entries.mjs', esm)
      const cjs = await node(['entries.cjs'])
      expectSuccess('entries.cjs', cjs)
      const fromEsm = JSON.parse(esm.stdout) as Record<string, string[]>
      const fromCjs = JSON.parse(cjs.stdout) as Record<string, string[]>
      expect(Object.keys(fromEsm)).toEqual(ENTRIES)
      for (const entry of ENTRIES) {
        expect(fromEsm[entry]!.length, entry).toBeGreaterThan(0)
        expect(fromCjs[entry], entry).toEqual(fromEsm[entry])
      }
      expect(fromEsm['@enclave-custody/enclave-runtime']).toContain('localEnclave')
      expect(fromEsm['@enclave-custody/enclave-runtime']).not.toContain('startParentProxy')
      expect(fromEsm['@enclave-custody/parent-proxy']).toContain('startParentProxy')
      expect(fromEsm['@enclave-custody/sdk/ethers']).toContain('EnclaveSigner')
      expect(fromEsm['@enclave-custody/sdk/viem']).toContain('toEnclaveAccount')
    })

    it('the viem adapter (ESM) and the ethers adapter (CJS) sign through localEnclave()', async () => {
      const viemRun = await node(['viem.mjs'])
      expectSuccess('viem.mjs', viemRun)
      const v = JSON.parse(viemRun.stdout.trim().split('\n').at(-1)!)
      expect([v.address, v.accountAddress]).toEqual([expected, expected])
      expect(await recoverBoth(v.raw)).toEqual({ ethers: expected, viem: expected })

      const ethersRun = await node(['ethers.cjs'])
      expectSuccess('ethers.cjs', ethersRun)
      const e = JSON.parse(ethersRun.stdout.trim().split('\n').at(-1)!)
      expect([e.address, e.signerAddress]).toEqual([expected, expected])
      expect(await recoverBoth(e.raw)).toEqual({ ethers: expected, viem: expected })
    })

    it('the installed bins answer --help', async () => {
      for (const bin of ['custody', 'local-aws', 'custody-enclave', 'custody-proxy', 'custody-log-receiver']) {
        const r = await node([join(consumer, 'node_modules', '.bin', bin), '--help'])
        expectSuccess(`${bin} --help`, r)
        expect(`${r.stdout}${r.stderr}`.length, bin).toBeGreaterThan(20)
      }
    })
  })

  it('the consumer project resolved nothing from the workspace', async () => {
    const lock = await readFile(join(consumer, 'node_modules', '.package-lock.json'), 'utf8')
    expect(lock).not.toContain(repoRoot)
    expect(resolve(consumer, 'node_modules', '@enclave-custody', 'sdk').startsWith(repoRoot)).toBe(false)
  })
})
