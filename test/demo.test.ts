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
  it('signs, broadcasts and mines a 0.01 ETH transfer, then stops everything it started', async () => {
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
    // The audit log the stack's proxy stored verifies against the receipts the demo kept: the boot, then one
    // event per answer (generate, sign: the client knows the key's address from its creation).
    expect(output()).toMatch(/^• audit log verified: 3 events, 2 receipts, 1 boot$/m)
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
