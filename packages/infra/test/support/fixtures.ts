import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { App } from 'aws-cdk-lib'
import { buildCustodyApp } from '../../lib/buildCustodyApp.js'
import type { CustodyStackProps } from '../../lib/stacks/CustodyStack.js'

/** packages/infra */
export const INFRA_DIR = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '')
/** A dummy EIF with nitro-cli's PCR JSON beside it (custody.eif.pcrs.json). */
export const EIF_WITH_PCRS = join(INFRA_DIR, 'test/fixtures/eif/custody.eif')
/** A dummy EIF without PCR JSON. */
export const EIF_BARE = join(INFRA_DIR, 'test/fixtures/eif-bare/custody.eif')
/** Stand-ins for packages/enclave-runtime/host until those files exist. */
export const HOST_FIXTURES = join(INFRA_DIR, 'test/fixtures/host')
/** PCRs of the fixture's PCR JSON. */
export const FIXTURE_PCRS = JSON.parse(readFileSync(`${EIF_WITH_PCRS}.pcrs.json`, 'utf8')).Measurements as { PCR0: string; PCR1: string; PCR2: string }

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` does. */
export const CDK_JSON_CONTEXT = JSON.parse(readFileSync(join(INFRA_DIR, 'cdk.json'), 'utf8')).context as Record<string, unknown>

/**
 * The app as `bin/app.ts` builds it (same context reading, stack and cdk-nag plugin), with the given
 * `-c` context, the host-file fixtures and a temporary cloud-assembly directory.
 */
export function buildTestApp(context: Record<string, unknown>, overrides: Partial<CustodyStackProps> = {}) {
  const warnings: string[] = []
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'enclave-custody-cdk-')),
    context: { ...CDK_JSON_CONTEXT, hostFilesPath: HOST_FIXTURES, ...context },
  })
  const { stack, config } = buildCustodyApp(app, { cwd: INFRA_DIR, overrides, warn: (w) => warnings.push(w) })
  return { app, stack, config, warnings }
}
