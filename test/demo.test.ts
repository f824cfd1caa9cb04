import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { alive, runTs, until } from './support/processes.js'
import { repoRoot } from './vectors.js'

const startDemo = () => runTs(join(repoRoot, 'scripts', 'demo.ts'))

/** Pids of a process's anvil children (tsx's esbuild helper is also a child; it is not ours to check). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, comm]) => comm === 'anvil')
      .map(([p]) => Number(p))
  } catch {
    return []
  }
}

describe('pnpm demo', () => {
  it('sets a signing policy, signs, broadcasts and mines a 0.01 ETH transfer, is refused 0.2 ETH, then stops everything it started', async () => {
    const { child, output, exited } = startDemo()
    const spawned = new Set<number>()
    const watch = setInterval(() => {
      for (const pid of childrenOf(child.pid!)) spawned.add(pid)
    }, 20)
    const code = await exited
    clearInterval(watch)
    expect(output()).toMatch(/status\s+1 \(success\)/)
    expect(output()).toMatch(/gas used\s+21000/)
    expect(output()).toMatch(/tx hash\s+0x[0-9a-f]{64}/)
    expect(output()).toMatch(/key address\s+0x[0-9a-fA-F]{40}/)
    // The SDK attested the enclave and verified its answers (one line, PCR0 prefix).
    expect(output()).toMatch(/^• enclave attested: PCR0 [0-9a-f]{16}… \(software NSM root\); every answer verified/m)
    // The signing policy (only the demo recipient, at most 0.1 ETH) is in force: the 0.01 ETH transfer above was
    // signed, and 0.2 ETH to the same recipient is refused by the enclave with POLICY_DENIED, before any signing.
    expect(output()).toMatch(/^• signing policy v1: allow only 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, up to 0\.1 ETH \(digest 0x[0-9a-f]{8}…\)$/m)
    expect(output()).toMatch(/^• refused 0\.2 ETH to the same recipient: POLICY_DENIED \(denied: no rule allows\)$/m)
    expect(output().indexOf('• signing policy v1')).toBeLessThan(output().indexOf('• signed an EIP-1559 transfer of 0.01 ETH'))
    // The audit log the stack's proxy stored verifies against the receipts the demo kept: the boot, then one
    // event per answer: generate; key.get, policy.set, policy.get (setting the policy: its public key, version and
    // owners, the change, the check that it is in force); the signature; the refusal.
    expect(output()).toMatch(/^• audit log verified: 7 events, 6 receipts, 1 boot$/m)
    expect(code).toBe(0)
    expect(spawned.size).toBeGreaterThan(0) // anvil
    for (const pid of spawned) expect(alive(pid)).toBe(false) // stopped before the demo exited
  })

  it('cleans up on Ctrl-C mid-run', async () => {
    const { child, output, exited } = startDemo()
    let anvilPid: number | undefined
    await until(() => {
      anvilPid = childrenOf(child.pid!)[0]
      return anvilPid !== undefined && output().includes('starting enclave runtime')
    }, 20_000)
    child.kill('SIGINT')
    const code = await exited
    expect(code).toBe(130)
    expect(output()).toContain('SIGINT: stopping')
    await until(() => !alive(anvilPid!), 5_000)
  })
})
