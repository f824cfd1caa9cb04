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
/** Stand-ins for packages/parent-proxy/host until those files exist. */
export const HOST_FIXTURES = join(INFRA_DIR, 'test/fixtures/host')
/** PCRs of the fixture's PCR JSON. */
export const FIXTURE_PCRS = JSON.parse(readFileSync(`${EIF_WITH_PCRS}.pcrs.json`, 'utf8')).Measurements as { PCR0: string; PCR1: string; PCR2: string }

/** The sealing key ARN the fixture image is taken to be built with (`-c kmsKeyArn`). */
export const FIXTURE_KMS_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` does. */
export const CDK_JSON_CONTEXT = JSON.parse(readFileSync(join(INFRA_DIR, 'cdk.json'), 'utf8')).context as Record<string, unknown>

/**
 * The app as `bin/app.ts` builds it (same context reading, stacks and cdk-nag plugin), with the given
 * `-c` context (plus `kmsKeyArn` = FIXTURE_KMS_KEY_ARN unless given or `bootstrapKeys`), the host-file
 * fixtures and a temporary cloud-assembly directory. Deploy mode: both stacks.
 */
export function buildTestApp(context: Record<string, unknown>, overrides: Partial<CustodyStackProps> = {}) {
  const { app, keysStack, stack, config, warnings } = buildAnyTestApp({ kmsKeyArn: FIXTURE_KMS_KEY_ARN, ...context }, overrides)
  if (!stack) throw new Error('buildTestApp: no fleet stack (bootstrapKeys?); use buildAnyTestApp')
  return { app, keysStack, stack, config, warnings }
}

/** As {@link buildTestApp}, without defaults: the fleet stack is absent with `bootstrapKeys=true`. */
export function buildAnyTestApp(context: Record<string, unknown>, overrides: Partial<CustodyStackProps> = {}) {
  const warnings: string[] = []
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'enclave-custody-cdk-')),
    context: { ...CDK_JSON_CONTEXT, hostFilesPath: HOST_FIXTURES, ...context },
  })
  const { keysStack, stack, config } = buildCustodyApp(app, { cwd: INFRA_DIR, overrides, warn: (w) => warnings.push(w) })
  return { app, keysStack, stack, config, warnings }
}
