/**
 * The documentation's runnable `ts` programs (test/docs-blocks.test.ts runs them under tsx, which strips types
 * without checking them) also type-check, with the workspace's compiler settings: a doc that passes the run but
 * would not compile in a reader's TypeScript project fails here. About 20 s of tsc, hence the slow suite.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { docFiles, parseBlocks, tsPrograms, where } from './support/docsBlocks.js'
import { repoRoot } from './vectors.js'

describe('documentation ts programs type-check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custody-docs-types-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('tsc accepts every program, as written', () => {
    const blocks = docFiles(repoRoot).flatMap((f) => parseBlocks(f, readFileSync(join(repoRoot, f), 'utf8')))
    const programs = tsPrograms(blocks)
    expect(programs.length).toBeGreaterThanOrEqual(4)
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'))
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(repoRoot, 'tsconfig.base.json'), compilerOptions: { noEmit: true, noUnusedLocals: false }, include: ['*.ts'] }),
    )
    const names = programs.map((p, i) => {
      const name = `program-${i}.ts`
      writeFileSync(join(dir, name), p.source)
      return `${name}: ${p.parts.map(where).join(' + ')}`
    })
    const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', timeout: 300_000 })
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}\n${names.join('\n')}`).toBe(0)
  })
})
